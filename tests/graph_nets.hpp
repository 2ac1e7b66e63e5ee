// tests/graph_nets.hpp: small networks with blocks that reach every path of a policy's graph program
// (Winograd and direct convolutions with a residual, a projection shortcut, depthwise convolutions, concat,
// batch norm and relu6 on their own, a join no convolution absorbs, layers without a kernel), and weights
// whose batch-norm statistics are far from (0, 1), so a fold that drops a term shows. Shared by the simd
// and cuda graph tests; policy-neutral (no xsimd, no CUDA).
#pragma once
#include <cstdint>
#include <random>
#include <type_traits>

#include <typenet/typenet.hpp>

namespace typenet::test::graph_nets {

namespace tn = ::typenet;

/// He-initialised weights; every batch norm gets weight in [0.5, 1.5], bias in [-1, 1], running_mean in
/// [-1, 1] and running_var in [0.25, 4].
template <class Net>
tn::params<Net> random_params(std::uint64_t seed) {
  tn::params<Net> p;
  tn::init_he(p, seed);
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<float> gamma(0.5f, 1.5f), sym(-1.f, 1.f), var(0.25f, 4.f);
  tn::for_each_leaf(typename Net::layers{}, [&]<class B>() {
    if constexpr (std::is_same_v<typename B::layer, tn::batch_norm>) {
      const int c = static_cast<int>(B::tensors[0].dims[0]);
      for (int i = 0; i < c; ++i) {
        p.data()[B::tensor_offset(0) + i] = gamma(g);
        p.data()[B::tensor_offset(1) + i] = sym(g);
        p.data()[B::tensor_offset(2) + i] = sym(g);
        p.data()[B::tensor_offset(3) + i] = var(g);
      }
    }
  });
  return p;
}

// Two residual blocks: a 3x3 pair on 16 channels (Winograd: the 11 x 10 map has the 25 output tiles
// exec::simd requires for it; identity shortcut, join + relu in conv2's epilogue), then a strided block
// with a projection shortcut and relu6 inside the body.
using residual_net = tn::network<
    tn::input<16, 11, 10>,
    tn::residual<tn::seq<tn::conv2d<16, tn::kernel<3>, tn::pad<1>, tn::no_bias>, tn::batch_norm, tn::relu,
                         tn::conv2d<16, tn::kernel<3>, tn::pad<1>>, tn::batch_norm>,
                 tn::identity, tn::relu>,
    tn::residual<
        tn::seq<tn::conv2d<24, tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::no_bias, tn::floor_mode>, tn::batch_norm,
                tn::relu6, tn::conv2d<24, tn::kernel<1>, tn::no_bias>, tn::batch_norm>,
        tn::named<"downsample",
                  tn::seq<tn::conv2d<24, tn::kernel<1>, tn::stride<2>, tn::no_bias, tn::floor_mode>, tn::batch_norm>>,
        tn::relu>,
    tn::adaptive_avg_pool<1>, tn::flatten, tn::dense<5>>;

// MobileNet's pieces: depthwise 3x3 with stride 2 and with stride 1 inside an inverted residual (the join
// in the projection's epilogue, no activation after it); a residual whose body ends in a depthwise
// convolution (the join and relu6 in the depthwise kernel's epilogue); a 5x5 depthwise on 20 channels
// (a vector tail).
using depthwise_net = tn::network<
    tn::input<8, 10, 9>, tn::conv2d<24, tn::kernel<1>, tn::no_bias>, tn::batch_norm, tn::relu6,
    tn::conv2d<24, tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::groups<24>, tn::no_bias, tn::floor_mode>,
    tn::batch_norm, tn::relu6,
    tn::residual<tn::seq<tn::conv2d<48, tn::kernel<1>, tn::no_bias>, tn::batch_norm, tn::relu6,
                         tn::conv2d<48, tn::kernel<3>, tn::pad<1>, tn::groups<48>, tn::no_bias>, tn::batch_norm,
                         tn::relu6, tn::conv2d<24, tn::kernel<1>, tn::no_bias>, tn::batch_norm>>,
    tn::residual<tn::seq<tn::conv2d<24, tn::kernel<3>, tn::pad<1>, tn::groups<24>, tn::no_bias>, tn::batch_norm>,
                 tn::identity, tn::relu6>,
    tn::conv2d<20, tn::kernel<1>>, tn::conv2d<20, tn::kernel<5>, tn::pad<2>, tn::groups<20>>, tn::relu, tn::flatten,
    tn::dense<7>, tn::batch_norm, tn::relu>;

// SqueezeNet's Fire (concat of two branches), a ceil-mode pool, batch norm + relu6 with no convolution to
// fold into, a standalone relu6, and a residual whose body is a pool (the join runs on its own).
using concat_net = tn::network<tn::input<6, 11, 11>, tn::conv2d<8, tn::kernel<1>>, tn::relu,
                               tn::concat<tn::seq<tn::named<"e1", tn::conv2d<5, tn::kernel<1>>>, tn::relu>,
                                          tn::seq<tn::named<"e3", tn::conv2d<7, tn::kernel<3>, tn::pad<1>>>, tn::relu>>,
                               tn::max_pool<tn::kernel<3>, tn::stride<2>, tn::ceil_mode>, tn::batch_norm, tn::relu6,
                               tn::residual<tn::seq<tn::max_pool<tn::kernel<3>, tn::stride<1>, tn::pad<1>>, tn::relu6>>,
                               tn::relu, tn::flatten, tn::dense<6>>;

// flatten then softmax over a spatial tensor: simd stores it NHWC, so the softmax has no kernel here and
// runs exec::reference's (named by fallback_layers()).
using fallback_net =
    tn::network<tn::input<3, 5, 5>, tn::residual<tn::seq<tn::conv2d<3, tn::kernel<3>, tn::pad<1>>, tn::batch_norm>>,
                tn::flatten, tn::softmax>;
// The same for element-wise layers after flatten: relu6 reads the NHWC value in (H, W, C) order and falls
// back; the batch norm after it (BatchNorm1d over 36 features) reads relu6's NCHW-ordered output natively.
using flat_fallback_net =
    tn::network<tn::input<4, 3, 3>, tn::residual<tn::seq<tn::conv2d<4, tn::kernel<3>, tn::pad<1>>, tn::batch_norm>>,
                tn::flatten, tn::relu6, tn::batch_norm, tn::dense<5>>;

// Channel counts that the reduced precisions' channel groups (bf16 pairs, int8 quads) cannot serve: a
// residual whose body ends in a depthwise convolution on 15 channels, and a grouped 1x1 with 5 channels per
// group, run as shadow ops (fp32 between widening and storing), the first with its residual (the block's
// input, not the depthwise's) widened too; 15 and 9 channels are stored with padding channels.
using odd_net = tn::network<
    tn::input<15, 9, 9>,
    tn::residual<tn::seq<tn::conv2d<15, tn::kernel<1>>, tn::relu,
                         tn::conv2d<15, tn::kernel<3>, tn::pad<1>, tn::groups<15>, tn::no_bias>, tn::batch_norm>,
                 tn::identity, tn::relu>,
    tn::conv2d<9, tn::kernel<1>, tn::groups<3>>, tn::relu6, tn::conv2d<8, tn::kernel<3>, tn::stride<2>>, tn::flatten,
    tn::dense<4>>;

// A classifier that exec::simd runs once per batch (the last of simd_graph::staging's stages): the 4 x 512 x 512
// input (2^20 floats) leaves room for 2 images per chunk, so batch 3 runs chunks of 2 and 1, each writing its pooled
// vectors into the next stages' arena. After the pool: dense + relu, dense, the join + relu of a residual over
// vectors, dense, batch norm on the flat vector, softmax.
using tail_net =
    tn::network<tn::input<4, 512, 512>, tn::conv2d<8, tn::kernel<4>, tn::stride<4>>, tn::relu, tn::adaptive_avg_pool<1>,
                tn::flatten, tn::dense<16>, tn::relu, tn::residual<tn::seq<tn::dense<16>>, tn::identity, tn::relu>,
                tn::dense<6>, tn::batch_norm, tn::softmax>;

// Three stages of exec::simd's program (simd_graph::staging, at a step of 4): the 8 x 240 x 240 input (460800
// floats) allows 4 images per 2^21-float chunk; the residual block over the 8 x 120 x 120 map after the first
// convolution and the convolution after it 18 (not a multiple of 4); the dense layer, reading 16 x 30 x 30
// floats, 145. The block's input is written by the first stage and read by the second's join.
using staged_net = tn::network<
    tn::input<8, 240, 240>, tn::conv2d<8, tn::kernel<2>, tn::stride<2>>,
    tn::residual<tn::seq<tn::conv2d<8, tn::kernel<3>, tn::pad<1>>, tn::relu, tn::conv2d<8, tn::kernel<3>, tn::pad<1>>>,
                 tn::identity, tn::relu>,
    tn::conv2d<16, tn::kernel<4>, tn::stride<4>>, tn::flatten, tn::dense<10>>;

// A residual block whose input is read again after the join: the concat's second branch reads it after the
// first branch's block has run, so the join may not write its output in the input's place (exec::simd's
// in-place residuals). Then a convolution whose residual is its own input (x -> conv(x) + x), which may not
// either: it reads each input pixel for every block of output channels.
using reread_net = tn::network<tn::input<8, 7, 6>,
                               tn::concat<tn::residual<tn::seq<tn::named<"a", tn::conv2d<8, tn::kernel<3>, tn::pad<1>>>,
                                                               tn::relu, tn::named<"b", tn::conv2d<8, tn::kernel<1>>>>,
                                                       tn::identity, tn::relu>,
                                          tn::seq<tn::named<"c", tn::conv2d<4, tn::kernel<1>>>, tn::relu>>,
                               tn::residual<tn::seq<tn::conv2d<12, tn::kernel<1>>>, tn::identity, tn::relu>,
                               tn::flatten, tn::dense<5>>;

// A residual block of two 3x3 convolutions on a 7 x 7 map (ResNet's layer4 in small): exec::simd runs them
// with the direct kernel below ks::winograd_batched_min images per run and as F(4x4) Winograd from there, the
// second with the residual join in its epilogue, written in the residual's place.
using small_map_net =
    tn::network<tn::input<16, 7, 7>,
                tn::residual<tn::seq<tn::conv2d<16, tn::kernel<3>, tn::pad<1>, tn::no_bias>, tn::batch_norm, tn::relu,
                                     tn::conv2d<16, tn::kernel<3>, tn::pad<1>>, tn::batch_norm>,
                             tn::identity, tn::relu>,
                tn::adaptive_avg_pool<1>, tn::flatten, tn::dense<5>>;

// Row bands (exec::simd's band pairs): three convolutions whose 2^18-float outputs only the depthwise layer
// after each reads, so that the two run in row bands: a 3x3 stride-2 stem before a stride-2 depthwise layer, a
// 1x1 expansion before a stride-1 one, and a 1x1 convolution with a residual join (+ relu6) in its epilogue
// before a stride-2 one; then a 1x1 convolution, a pool and a dense layer.
using band_net = tn::network<
    tn::input<3, 256, 256>, tn::conv2d<16, tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::no_bias, tn::floor_mode>,
    tn::batch_norm, tn::relu6,
    tn::conv2d<16, tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::groups<16>, tn::no_bias, tn::floor_mode>,
    tn::batch_norm, tn::relu6, tn::conv2d<64, tn::kernel<1>, tn::no_bias>, tn::batch_norm, tn::relu6,
    tn::conv2d<64, tn::kernel<3>, tn::pad<1>, tn::groups<64>, tn::no_bias>, tn::batch_norm, tn::relu6,
    tn::residual<tn::seq<tn::conv2d<64, tn::kernel<1>, tn::no_bias>, tn::batch_norm>, tn::identity, tn::relu6>,
    tn::conv2d<64, tn::kernel<3>, tn::stride<2>, tn::pad<1>, tn::groups<64>, tn::floor_mode>, tn::relu,
    tn::conv2d<8, tn::kernel<1>>, tn::max_pool<tn::kernel<4>, tn::stride<4>>, tn::flatten, tn::dense<5>>;

}  // namespace typenet::test::graph_nets
