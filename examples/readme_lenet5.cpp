// The README's example, built and run by CTest so the README cannot drift from the code.
#include <typenet/typenet.hpp>

#include <cstdio>
#include <vector>

namespace tn = typenet;

// clang-format off
struct lenet5 : tn::network<
    tn::input<1, 32, 32>,
    tn::conv2d<6, tn::kernel<5>>, tn::relu,        // 0,1:  6 x 28 x 28
    tn::max_pool<tn::kernel<2>, tn::stride<2>>,    // 2:    6 x 14 x 14
    tn::conv2d<16, tn::kernel<5>>, tn::relu,       // 3,4: 16 x 10 x 10
    tn::max_pool<tn::kernel<2>, tn::stride<2>>,    // 5:   16 x  5 x  5
    tn::flatten,                                   // 6:   400
    tn::dense<120>, tn::relu,                      // 7,8
    tn::dense<84>, tn::relu,                       // 9,10
    tn::dense<10>> {};                             // 11
// clang-format on

static_assert(tn::output_shape<lenet5> == tn::shape<10>{});
static_assert(tn::shape_after<lenet5, 2> == tn::shape<6, 14, 14>{});
static_assert(tn::param_count<lenet5> == 61'706);

int main() {
  tn::params<lenet5> p;         // one aligned heap buffer, PyTorch layout
  tn::init_he(p, /*seed=*/42);  // or tn::io::load_weights("w.safetensors", p)
  tn::model<lenet5, tn::exec::reference_t> m(p, /*max_batch=*/8);
  std::vector<float> x(8 * 32 * 32, 0.5f), y(8 * 10);
  m.forward(x, y, /*batch=*/8);  // float32 NCHW in, [batch, 10] out
  // Every image is the same, so every row of logits must be the same.
  for (int b = 1; b < 8; ++b)
    for (int o = 0; o < 10; ++o)
      if (y[b * 10 + o] != y[o]) {
        std::printf("row %d differs from row 0\n", b);
        return 1;
      }
  std::printf("%s", tn::describe<lenet5>().c_str());
  std::printf("logits of image 0:");
  for (int o = 0; o < 10; ++o) std::printf(" %.4f", y[o]);
  std::printf("\n");
}
