// describe<Net>() and layer_table<Net>(): the rows and the totals line.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include <typenet/zoo/networks.hpp>

namespace tn = typenet;
using namespace typenet::zoo;

namespace {
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}
// The whitespace-separated words of a line.
std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}
using W = std::vector<std::string>;
}  // namespace

TEST_CASE("describe: lenet5's layer table") {
  const auto lines = lines_of(tn::describe<lenet5>());
  // Header, the input row, 12 layer rows, the totals.
  REQUIRE(lines.size() == 15);
  CHECK(words(lines[0]) == W{"index", "layer", "output", "params", "MACs", "stage"});
  CHECK(words(lines[1]) == W{"-", "input", "1", "x", "32", "x", "32", "1", "x", "32", "x", "32"});
  CHECK(words(lines[2]) == W{"0", "conv2d", "6,", "kernel", "5x5", "6", "x", "28", "x", "28", "156", "117,600", "0"});
  CHECK(words(lines[4]) ==
        W{"2", "max_pool", "kernel", "2x2,", "stride", "2", "6", "x", "14", "x", "14", "0", "0", "0"});
  CHECK(words(lines[8]) == W{"6", "flatten", "400", "0", "0", "-"});
  CHECK(words(lines[9]) == W{"7", "dense", "120", "120", "48,120", "48,000", "2"});
  CHECK(words(lines[13]) == W{"11", "dense", "10", "10", "850", "840", "4"});
  // 61,706 parameters * 4 bytes = 246,824; activations (1,024 + 4,704 * 2 + 1,176 + 1,600 * 2 + 400 * 2 + 120 * 2 +
  // 84 * 2 + 10) * 4 = 64,104; buffers 2 * 4 * 4,704 = 37,632.
  CHECK(
      lines[14] ==
      "total: 61,706 parameters (246,824 bytes), 416,520 multiply-adds per image, activations 64,104 bytes per image, "
      "forward buffers 37,632 bytes per image");
}

TEST_CASE("describe: the seed AlexNet's table names every layer with its parameters") {
  const auto lines = lines_of(tn::describe<seed_alexnet>());
  REQUIRE(lines.size() == 2 + 22 + 1);
  CHECK(words(lines[2]) == W{"0", "conv2d", "96,", "kernel", "11x11,", "stride", "4", "96", "x", "55", "x", "55",
                             "34,944", "105,415,200", "0"});
  CHECK(words(lines[5]) == W{"3", "conv2d", "256,", "kernel", "5x5,", "pad", "2", "256", "x", "27", "x", "27",
                             "614,656", "447,897,600", "1"});
  CHECK(words(lines[16]) == W{"14", "dropout", "50%", "9216", "0", "0", "-"});
  CHECK(words(lines[23]) == W{"21", "softmax", "1000", "0", "0", "7"});
  CHECK(lines[24].rfind("total: 62,378,344 parameters (249,513,376 bytes), 1,135,256,096 multiply-adds per image", 0) ==
        0);
}

TEST_CASE("describe: the Caffe AlexNet shows LRN, ceil rounding and groups") {
  const auto rows = tn::layer_table<caffe_alexnet>();
  REQUIRE(rows.size() == 24);
  CHECK(rows[2].layer == "lrn 5, alpha 1/10000, beta 3/4, k 2");
  CHECK(rows[3].layer == "max_pool kernel 3x3, stride 2, ceil");
  CHECK(rows[4].layer == "conv2d 256, kernel 5x5, pad 2, groups 2");
  CHECK(rows[4].output_shape == "256 x 27 x 27");
  CHECK(rows[4].params == 256 * 48 * 25 + 256);
  CHECK(rows[4].stage == 1);
  CHECK(rows[15].stage == -1);
}

TEST_CASE("describe: torchvision's floor rounding and asymmetric tags are printed") {
  CHECK(tn::layer_table<torchvision_alexnet>()[0].layer == "conv2d 64, kernel 11x11, stride 4, pad 2, floor");
  CHECK(tn::layer_table<torchvision_alexnet>()[13].layer == "adaptive_avg_pool 6x6");
  struct net : tn::network<tn::input<1, 9, 16>, tn::conv2d<2, tn::kernel<3, 5>, tn::stride<2, 1>, tn::pad<0, 2>>> {};
  const auto rows = tn::layer_table<net>();
  CHECK(rows[0].layer == "conv2d 2, kernel 3x5, stride 2x1, pad 0x2");
  CHECK(rows[0].output_shape == "2 x 4 x 16");  // (9 - 3) / 2 + 1, (16 + 4 - 5) / 1 + 1
}
