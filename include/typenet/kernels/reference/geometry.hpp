// typenet/kernels/reference/geometry.hpp: the sizes a windowed reference kernel loops over.
//
// The typed kernels (one overload per layer kind, e.g. forward(conv2d<...>, shape<...>, shape<...>, ...))
// fill a geometry (typenet::window_geometry, core/geometry.hpp) from their template arguments as a
// constant and call one plain loop nest. Tests call the same loop nests over many small run-time sizes to
// check the shape law.
#pragma once

#include "../../core/geometry.hpp"

namespace typenet::kernels::reference {

using ::typenet::window_geometry;

template <class Layer, int C, int H, int W, int OC, int OH, int OW>
constexpr window_geometry make_window_geometry() {
  return window_of_shapes<Layer, shape<C, H, W>, shape<OC, OH, OW>>();
}

}  // namespace typenet::kernels::reference
