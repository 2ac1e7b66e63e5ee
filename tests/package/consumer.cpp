// A program outside typenet's build that uses it as a package: checks the seed AlexNet at compile time,
// prints its layer table, and checks that typenet::native made xsimd target the best instruction set of
// this CPU. Shared by the find_package and add_subdirectory consumers.
#include <typenet/typenet.hpp>
#include <typenet/zoo/alexnet.hpp>

#include <cstdio>

#include <xsimd/xsimd.hpp>

namespace tn = typenet;

// clang-format off
struct alexnet : tn::network<
    tn::input<3, 227, 227>,
    tn::conv2d<96, tn::kernel<11>, tn::stride<4>>, tn::relu,
    tn::max_pool<tn::kernel<3>, tn::stride<2>>,
    tn::conv2d<256, tn::kernel<5>, tn::pad<2>>, tn::relu,
    tn::max_pool<tn::kernel<3>, tn::stride<2>>,
    tn::conv2d<384, tn::kernel<3>, tn::pad<1>>, tn::relu,
    tn::conv2d<384, tn::kernel<3>, tn::pad<1>>, tn::relu,
    tn::conv2d<256, tn::kernel<3>, tn::pad<1>>, tn::relu,
    tn::max_pool<tn::kernel<3>, tn::stride<2>>,
    tn::flatten,
    tn::dropout<50>, tn::dense<4096>, tn::relu,
    tn::dropout<50>, tn::dense<4096>, tn::relu,
    tn::dense<1000>, tn::softmax> {};
// clang-format on

static_assert(tn::output_shape<alexnet> == tn::shape<1000>{});
static_assert(tn::shape_after<alexnet, 0> == tn::shape<96, 55, 55>{});
static_assert(tn::param_count<alexnet> == 62'378'344);
static_assert(tn::mac_count<alexnet> == 1'135'256'096);
static_assert(tn::param_count<tn::zoo::seed_alexnet> == tn::param_count<alexnet>);

int main() {
  std::printf("typenet %d.%d.%d\n%s", TYPENET_VERSION_MAJOR, TYPENET_VERSION_MINOR, TYPENET_VERSION_PATCH,
              tn::describe<alexnet>().c_str());
  // typenet::native: the compiled architecture is the CPU's best (xsimd's names, e.g. fma3+avx2, avx512bw).
  const unsigned best = xsimd::available_architectures().best;
  std::printf("xsimd architecture: %s (version %u; this CPU's best: version %u)\n", xsimd::default_arch::name(),
              xsimd::default_arch::version(), best);
  return xsimd::default_arch::version() == best ? 0 : 1;
}
