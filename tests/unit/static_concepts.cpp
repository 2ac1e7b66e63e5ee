// Static-only checks (built as an object library, nothing runs): concepts, negative `requires`, and the
// public names DESIGN.md fixes. A failure here is a build failure of the target typenet_unit_static.
#include <type_traits>

#include <typenet/zoo/networks.hpp>

namespace tn = typenet;
using namespace typenet::zoo;

namespace {

// Layers are the types that derive from layer_base; tags, inputs, shapes and networks are not.
static_assert(tn::Layer<tn::relu> && tn::Layer<tn::softmax> && tn::Layer<tn::flatten> && tn::Layer<tn::dense<3>>);
static_assert(tn::Layer<tn::conv2d<8, tn::kernel<3>>> && tn::Layer<tn::max_pool<tn::kernel<2>>>);
static_assert(tn::Layer<tn::avg_pool<tn::kernel<2>>> && tn::Layer<tn::adaptive_avg_pool<6>>);
static_assert(tn::Layer<tn::dropout<>> && tn::Layer<paper_lrn>);
static_assert(!tn::Layer<tn::kernel<3>> && !tn::Layer<tn::stride<2>> && !tn::Layer<tn::floor_mode>);
static_assert(!tn::Layer<tn::input<3, 8, 8>> && !tn::Layer<tn::shape<3>> && !tn::Layer<int> && !tn::Layer<lenet5>);
// A declaration with an invalid layer is not even a valid layer *type* to ask about: only the network checks.
static_assert(tn::Layer<tn::conv2d<0, tn::kernel<0>>>);

// Networks.
static_assert(tn::Network<seed_alexnet> && tn::Network<lenet5> && !tn::Network<int> && !tn::Network<tn::relu>);
static_assert(seed_alexnet::is_valid && caffe_alexnet::is_valid);

// Shapes.
static_assert(tn::SpatialShape<tn::shape<3, 4, 5>> && !tn::SpatialShape<tn::shape<60>> &&
              !tn::SpatialShape<tn::shape<3, 4>>);
static_assert(tn::FlatShape<tn::shape<60>> && !tn::FlatShape<tn::shape<1, 1, 60>>);
static_assert(tn::shape<3, 4, 5>::size == 60 && tn::shape<3, 4, 5>::rank == 3 && tn::shape<7>::rank == 1);
static_assert(tn::shape<3, 4, 5>{} == tn::shape<3, 4, 5>{} && !(tn::shape<3, 4, 5>{} == tn::shape<5, 4, 3>{}));
static_assert(!(tn::shape<60>{} == tn::shape<3, 4, 5>{}));  // same size, different shape
static_assert(tn::shape<3, 4, 5>::dims[2] == 5);

// The queries require a network: asking them of anything else is not a well-formed expression.
template <class T>
concept has_param_count = requires {
  tn::param_count<T>;
};
template <class T>
concept has_output_shape = requires {
  tn::output_shape<T>;
};
template <class T>
concept has_params = requires {
  typename tn::params<T>;
};
template <class T>
concept has_memory_plan = requires {
  tn::memory_plan<T>::bytes_per_image;
};
static_assert(has_param_count<lenet5> && !has_param_count<int> && !has_param_count<tn::conv2d<8, tn::kernel<3>>>);
static_assert(has_output_shape<lenet5> && !has_output_shape<tn::shape<3>>);
static_assert(has_params<lenet5> && !has_params<float>);
static_assert(has_memory_plan<lenet5> && !has_memory_plan<int>);

// A type with no `program` member template is not an execution policy.
static_assert(!tn::ExecutionPolicy<int, lenet5>);
struct no_run_policy {
  template <class Net>
  struct program {
    program(const tn::params<Net>&, int, const no_run_policy&) {}
  };
};
static_assert(!tn::ExecutionPolicy<no_run_policy, lenet5>);
struct minimal_policy {
  template <class Net>
  struct program {
    program(const tn::params<Net>&, int, const minimal_policy&) {}
    void run(const float*, float*, int) {}
  };
};
static_assert(tn::ExecutionPolicy<minimal_policy, lenet5> && !tn::ExecutionPolicy<minimal_policy, int>);

// model<Net, Policy> exposes the per-image sizes.
static_assert(tn::model<lenet5, minimal_policy>::input_size == 1024 &&
              tn::model<lenet5, minimal_policy>::output_size == 10);

// Rounding and tag defaults as types.
static_assert(tn::conv2d<4, tn::kernel<3>, tn::floor_mode>::round == tn::rounding::floor);
static_assert(tn::max_pool<tn::kernel<3>, tn::ceil_mode>::round == tn::rounding::ceil);
static_assert(tn::kernel<3>::h == 3 && tn::kernel<3>::w == 3 && tn::kernel<3, 5>::w == 5);
static_assert(tn::dropout<>::percent == 50);
static_assert(tn::adaptive_avg_pool<6>::out_w == 6);

// LRN's real parameters are ratios; the paper's values survive the conversion.
static_assert(paper_lrn::size == 5 && paper_lrn::alpha == 1e-4 && paper_lrn::beta == 0.75 && paper_lrn::k == 2.0);
static_assert(tn::lrn<3>::k == 1.0);  // PyTorch's default k

// A failed network answers queries with empty results (no further errors): the rule is checked elsewhere
// (tests/compile_fail); here only the query types are checked on a valid network.
static_assert(std::is_same_v<std::remove_cv_t<decltype(tn::shape_after<lenet5, 0>)>, tn::shape<6, 28, 28>>);

}  // namespace
