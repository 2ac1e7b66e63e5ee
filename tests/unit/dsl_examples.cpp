// The examples of docs/dsl.md, compiled: every ```cpp block of the page is extracted at configure time
// into dsl_md_examples.hpp (see tests/unit/CMakeLists.txt) and included here, so the page cannot show
// code that does not compile. The checks below run what the page only states in comments.
#include <cstdint>
#include <ratio>
#include <string>
#include <type_traits>
#include <vector>

#include <doctest/doctest.h>

#include "dsl_md_examples.hpp"

TEST_CASE("dsl.md: tags in any order are the same layer") {
  CHECK(a::name() == b::name());
  CHECK(tn::output_shape<tn::network<tn::input<3, 227, 227>, a>> ==
        tn::output_shape<tn::network<tn::input<3, 227, 227>, b>>);
  // c: kernel 3x5, stride 2x1, pad 0x2 on 1 x 9 x 16 -> (9 - 3) / 2 + 1 = 4, (16 + 4 - 5) + 1 = 16
  CHECK(tn::output_shape<tn::network<tn::input<1, 9, 16>, c>> == tn::shape<16, 4, 16>{});
}

TEST_CASE("dsl.md: param_prefix renames the tensors") {
  tn::params<named> p;
  const auto t = p.tensors();
  REQUIRE(t.size() == 4);
  CHECK(t[0].name == "classifier.0.weight");
  CHECK(t[0].shape == std::vector<std::int64_t>{3, 4});
  CHECK(t[1].name == "classifier.0.bias");
  CHECK(t[2].name == "classifier.2.weight");
  CHECK(t[2].shape == std::vector<std::int64_t>{2, 3});
  CHECK(t[3].name == "classifier.2.bias");
  CHECK(t[3].shape == std::vector<std::int64_t>{2});
}

TEST_CASE("dsl.md: the tiny network's table") {
  const auto rows = tn::layer_table<tiny>();
  REQUIRE(rows.size() == 6);
  CHECK(rows[0].output_shape == "8 x 28 x 28");
  CHECK(rows[2].output_shape == "8 x 14 x 14");
  CHECK(rows[3].output_shape == "1568");
  CHECK(rows[4].params == 15'690);
}
