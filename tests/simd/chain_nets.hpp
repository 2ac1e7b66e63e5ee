// The chain networks the reduced-precision programs' tests run (bf16_test.cpp, int8_test.cpp), and how
// their outputs are compared with the fp32 reference.
#pragma once
#include <ratio>
#include <string>
#include <type_traits>
#include <vector>

#include <typenet/zoo/alexnet.hpp>
#include <typenet/zoo/lenet.hpp>

#include "simd_util.hpp"

namespace typenet::test::chain {

using paper_lrn = lrn<5, std::ratio<1, 10000>, std::ratio<3, 4>, std::ratio<2>>;

// Every stage kind of the chain program: conv with fused relu + LRN + pool, standalone pool / relu / LRN /
// softmax (fp32 islands), adaptive pool, odd channel counts, a spatial output, a flat input, a softmax that
// is not last.
struct stages
    : network<input<3, 23, 29>, conv2d<50, kernel<5, 3>, stride<2, 3>, pad<2, 1>, floor_mode>, relu, paper_lrn,
              max_pool<kernel<3>, stride<2>, ceil_mode>, conv2d<33, kernel<3>, pad<1>>, max_pool<kernel<3>, stride<1>>,
              relu, adaptive_avg_pool<2, 3>, flatten, dense<17>, relu, dense<5>, softmax> {};
/// Groups of 2 and 3 channels (which neither bf16 pairs nor int8 quads serve: fp32 islands) and of 4 in,
/// 3 out (int8 quads; an fp32 island in bf16, whose groups need an even count out).
struct groups : network<input<6, 15, 15>, conv2d<9, kernel<3>, pad<1>, typenet::groups<3>>, relu, lrn<3>,
                        max_pool<kernel<2>, stride<2>, floor_mode>, conv2d<12, kernel<3>, typenet::groups<3>>, relu,
                        conv2d<9, kernel<1>, typenet::groups<3>>, flatten, dense<5>, softmax> {};
struct spatial_out
    : network<input<4, 12, 12>, conv2d<33, kernel<3>, pad<2>>, relu, conv2d<7, kernel<2>, stride<2>, floor_mode>> {};
struct lrn_last : network<input<8, 9, 9>, conv2d<16, kernel<3>>, relu, paper_lrn> {};
/// A dense layer on 64 inputs without a ReLU before it (the AMX dense path, its input's zero point nonzero).
struct flat : network<input<37>, dense<64>, dense<19>, relu, dropout<50>, dense<23>, softmax, dense<4>> {};

enum class ends_in { logits, softmax };

/// max |got - want| / max |want| over the logits: the outputs themselves, or for a network that ends in
/// softmax the logits recovered from both outputs (centred_logits).
inline double logit_error(const std::vector<float>& got, const std::vector<float>& want, int classes, ends_in end) {
  return end == ends_in::logits ? relative_error(got, want)
                                : relative_error(centred_logits(got, classes), centred_logits(want, classes));
}

/// Calls check(std::type_identity<Net>{}, batch, seed, weight layers, name, ends_in) for every stage-kind
/// network above at batch 1, 3 and 8.
template <class Check>
void every_stage_kind(Check&& check) {
  for (int batch : {1, 3, 8}) {
    check(std::type_identity<stages>{}, batch, 3, 4, "stages", ends_in::softmax);
    check(std::type_identity<groups>{}, batch, 4, 4, "groups", ends_in::softmax);
    check(std::type_identity<spatial_out>{}, batch, 5, 2, "spatial output", ends_in::logits);
    check(std::type_identity<lrn_last>{}, batch, 6, 1, "LRN last", ends_in::logits);
    check(std::type_identity<flat>{}, batch, 7, 4, "flat", ends_in::logits);
  }
}

/// The same for the zoo's chain networks (lenet5 and the three AlexNets).
template <class Check>
void zoo_chains(Check&& check) {
  check(std::type_identity<zoo::lenet5>{}, 1, 1, 5, "lenet5", ends_in::logits);
  check(std::type_identity<zoo::lenet5>{}, 9, 2, 5, "lenet5", ends_in::logits);
  check(std::type_identity<zoo::seed_alexnet>{}, 1, 1, 8, "seed_alexnet", ends_in::softmax);
  check(std::type_identity<zoo::seed_alexnet>{}, 3, 2, 8, "seed_alexnet", ends_in::softmax);
  check(std::type_identity<zoo::torchvision_alexnet>{}, 2, 3, 8, "torchvision_alexnet", ends_in::logits);
  check(std::type_identity<zoo::caffe_alexnet>{}, 2, 4, 8, "caffe_alexnet", ends_in::logits);
}

/// The line a network check prints with its error and bound.
inline std::string error_line(const char* precision, const char* name, int batch, double err, double bound,
                              ends_in end) {
  return std::string(name) + " batch " + std::to_string(batch) + ": max |" + precision +
         " - fp32 reference| / max |reference| = " + std::to_string(err) +
         (end == ends_in::logits ? "" : " (logits from the softmax output)") + " (bound " + std::to_string(bound) + ")";
}

}  // namespace typenet::test::chain
