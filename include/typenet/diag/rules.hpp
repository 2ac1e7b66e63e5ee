// typenet/diag/rules.hpp: every compile-time rule a network declaration is checked against.
//
// Each rule is a class template named after the rule. The network instantiates the first one that a
// layer breaks, which fires the static_assert below; the compiler's "in instantiation of" line then shows
// the template arguments: the layer's index (numbered from 0 after input), the layer's type with its
// parameters, and the shape that flows into it. g++ 12 and clang 14 cannot format numbers into
// static_assert text, so the values travel as template arguments. docs/errors.md has one entry per rule.
#pragma once
#include "../detail/type_list.hpp"

// Not formatted: tests and the docs check parse one TYPENET_DIAG_RULE(name, ...) per rule.
// clang-format off
namespace typenet::diag {


#define TYPENET_DIAG_RULE(rule, params, message)                       \
  template <params>                                                     \
  struct rule {                                                         \
    static_assert(::typenet::detail::always_false<rule>::value, message); \
  };

#define TYPENET_P(...) __VA_ARGS__

TYPENET_DIAG_RULE(input_must_come_first, class First,
  "typenet: input_must_come_first: a network's layer list must start with exactly one tn::input<...> "
  "(see the first template argument of input_must_come_first below for what came first)")
TYPENET_DIAG_RULE(only_one_input, TYPENET_P(int Index, class Input),
  "typenet: only_one_input: tn::input may appear only once, at the start of the layer list")
TYPENET_DIAG_RULE(input_rank, class Input,
  "typenet: input_rank: tn::input takes either C, H, W (an image) or N (a flat vector)")
TYPENET_DIAG_RULE(not_a_layer, TYPENET_P(int Index, class Type),
  "typenet: not_a_layer: this entry of the layer list is not a typenet layer (layers are tn::conv2d, "
  "tn::relu, tn::dense, ...; tags such as tn::kernel go inside a layer's template arguments)")
TYPENET_DIAG_RULE(non_positive_parameter, TYPENET_P(int Index, class Layer, class Input),
  "typenet: non_positive_parameter: sizes (filters, units, kernel, stride, groups, pool output, lrn size, "
  "input dimensions) must be at least 1, padding at least 0, and a dropout rate in [0, 100)")
TYPENET_DIAG_RULE(repeated_tag, TYPENET_P(int Index, class Layer, class Tag),
  "typenet: repeated_tag: a tag (kernel, stride, pad, groups, floor_mode/ceil_mode) is given twice to "
  "one layer")
TYPENET_DIAG_RULE(unknown_tag, TYPENET_P(int Index, class Layer, class Tag),
  "typenet: unknown_tag: this layer does not accept this template argument (conv2d takes kernel, "
  "stride, pad, groups, floor_mode; pools take kernel, stride, pad, floor_mode, ceil_mode)")
TYPENET_DIAG_RULE(missing_kernel, TYPENET_P(int Index, class Layer),
  "typenet: missing_kernel: conv2d and pooling layers need a tn::kernel<K> or tn::kernel<KH, KW> tag")
TYPENET_DIAG_RULE(needs_spatial_input, TYPENET_P(int Index, class Layer, class Input),
  "typenet: needs_spatial_input: this layer works on C x H x W activations, but its input is a flat "
  "vector (did a tn::flatten or tn::dense come too early?)")
TYPENET_DIAG_RULE(needs_flat_input, TYPENET_P(int Index, class Layer, class Input),
  "typenet: needs_flat_input: dense and softmax take a flat vector, but this input is C x H x W: put a "
  "tn::flatten before this layer")
TYPENET_DIAG_RULE(kernel_larger_than_input, TYPENET_P(int Index, class Layer, class Input),
  "typenet: kernel_larger_than_input: the window (kernel) is larger than the padded input it slides over")
TYPENET_DIAG_RULE(stride_does_not_tile_input, TYPENET_P(int Index, class Layer, class Input),
  "typenet: stride_does_not_tile_input: (input + 2*pad - kernel) is not a multiple of the stride, so the "
  "last window would not fit; change the input size or padding, or opt in to tn::floor_mode (PyTorch) "
  "or tn::ceil_mode (Caffe pooling)")
TYPENET_DIAG_RULE(groups_do_not_divide_channels, TYPENET_P(int Index, class Layer, class Input),
  "typenet: groups_do_not_divide_channels: tn::groups<G> must divide both the input channels and the "
  "conv2d's filters")
TYPENET_DIAG_RULE(pool_padding_too_large, TYPENET_P(int Index, class Layer, class Input),
  "typenet: pool_padding_too_large: pooling padding must be at most half the kernel size (as in PyTorch)")
TYPENET_DIAG_RULE(residual_shape_mismatch, TYPENET_P(int Index, class Block, class BodyOutput, class ShortcutOutput),
  "typenet: residual_shape_mismatch: a residual block adds Body(x) and Shortcut(x), so both must have the same "
  "shape; give the shortcut a projection (e.g. a 1x1 conv2d with the body's stride and filters)")
TYPENET_DIAG_RULE(concat_size_mismatch, TYPENET_P(int Index, class Block, class FirstOutput, class OtherOutput),
  "typenet: concat_size_mismatch: concat joins its branches along channels, so every branch must give the same "
  "spatial size (H x W), or every branch a flat vector")
TYPENET_DIAG_RULE(too_many_concat_branches, TYPENET_P(int Index, class Block),
  "typenet: too_many_concat_branches: a concat joins at most 8 branches; nest concats (a concat of concats "
  "joins the same channels in the same order)")
TYPENET_DIAG_RULE(duplicate_parameter_name, TYPENET_P(int Index, class Layer, class FirstLayer),
  "typenet: duplicate_parameter_name: two parameter tensors get the same key; give one of the layers another "
  "tn::named<\"...\"> key (the two layers are the template arguments below)")
TYPENET_DIAG_RULE(logits_not_flat, TYPENET_P(class Net, class Logits),
  "typenet: logits_not_flat: training needs logits, the network's output (a trailing softmax removed), to be a "
  "flat vector of class scores; end the network with tn::flatten and a tn::dense layer (the second argument "
  "below is the output shape found)")
TYPENET_DIAG_RULE(nothing_to_train, class Net,
  "typenet: nothing_to_train: the network has no layer before its loss (a trailing softmax is folded into the "
  "loss), so there are no logits to train")
TYPENET_DIAG_RULE(no_training_program, TYPENET_P(class Net, class Policy),
  "typenet: no_training_program: this execution policy (second argument below) has no training program; "
  "train with tn::exec::reference_t")
TYPENET_DIAG_RULE(no_reference_kernel, TYPENET_P(class Layer, class Input),
  "typenet: no_reference_kernel: this layer (first argument below) has no exec::reference kernel; every layer "
  "needs one: a forward(Layer, In, Out, in, out, batch, weight, bias) overload (docs/contributing.md)")
TYPENET_DIAG_RULE(no_backward_pass, TYPENET_P(class Layer, class Input),
  "typenet: no_backward_pass: training needs this layer's (first argument below) backward pass: a "
  "backward(Layer, In, Out, backward_args) overload beside its reference kernel (docs/contributing.md)")
TYPENET_DIAG_RULE(precision_not_implemented, class Precision,
  "typenet: precision_not_implemented: exec::simd computes in tn::precision::f32, tn::precision::bf16 or "
  "tn::precision::int8; the precision below has no kernels")
TYPENET_DIAG_RULE(bf16_not_compiled, class Arch,
  "typenet: bf16_not_compiled: exec::simd<Arch, tn::precision::bf16> needs the AVX512_BF16 instructions at "
  "compile time: compile with -march=native on a CPU that has them (Zen 4, Sapphire Rapids; CMake: link "
  "typenet::native), or add -mavx512bf16 -mavx512bw -mavx512vl")
TYPENET_DIAG_RULE(int8_not_compiled, class Arch,
  "typenet: int8_not_compiled: exec::simd<Arch, tn::precision::int8> needs the AVX512_VNNI instructions at "
  "compile time: compile with -march=native on a CPU that has them (Zen 4, Ice Lake, Sapphire Rapids; CMake: link "
  "typenet::native), or add -mavx512vnni -mavx512bw -mavx512vl")

// clang-format on

#undef TYPENET_P
#undef TYPENET_DIAG_RULE

}  // namespace typenet::diag
