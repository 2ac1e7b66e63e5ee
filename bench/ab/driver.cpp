// bench/ab/driver.cpp: loads two builds of bench/ab/model.cpp (two versions of the headers) and alternates
// their timed forward passes, A B B A A B ..., so that both meet the same phases of a noisy machine. Prints,
// per fused op, each side's median and the median of the paired differences (B - A, the two passes of one
// round), their sums, and the median ratio of the rounds' totals.
//
//   driver BATCH THREADS ROUNDS A.so B.so
#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace {

using make_fn = void* (*)(int, int);
using pass_fn = int (*)(void*, double*, int, char*, int, double*);

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int positive(const char* text, const char* what) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 1 || v > 100000) {
    std::fprintf(stderr, "driver: %s must be an integer from 1 to 100000, not '%s'\n", what, text);
    std::exit(2);
  }
  return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: driver BATCH THREADS ROUNDS A.so B.so\n");
    return 2;
  }
  const int batch = positive(argv[1], "BATCH"), threads = positive(argv[2], "THREADS");
  const int rounds = positive(argv[3], "ROUNDS");
  void* model[2];
  pass_fn pass[2];
  for (int s = 0; s < 2; ++s) {
    void* lib = dlopen(argv[4 + s], RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      std::fprintf(stderr, "driver: cannot load %s: %s\n", argv[4 + s], dlerror());
      return 1;
    }
    const auto make = reinterpret_cast<make_fn>(dlsym(lib, "typenet_ab_make"));
    pass[s] = reinterpret_cast<pass_fn>(dlsym(lib, "typenet_ab_pass"));
    if (make == nullptr || pass[s] == nullptr) {
      std::fprintf(stderr, "driver: %s is not a build of bench/ab/model.cpp\n", argv[4 + s]);
      return 1;
    }
    model[s] = make(batch, threads);
    if (model[s] == nullptr) return 1;
  }
  constexpr int capacity = 4096;
  std::vector<double> ms(capacity);
  std::vector<char> names(1 << 20);
  std::vector<std::vector<double>> t[2];  // side, op, round
  std::vector<double> total[2];
  int ops = -1;
  for (int r = 0; r < rounds; ++r)
    for (int k = 0; k < 2; ++k) {
      const int s = r % 2 == 0 ? k : 1 - k;
      double checksum = 0;
      const int n = pass[s](model[s], ms.data(), capacity, names.data(), static_cast<int>(names.size()), &checksum);
      if (n < 0 || (ops >= 0 && n != ops)) {
        std::fprintf(stderr, "driver: %s: op count %d (expected %d, at most %d)\n", argv[4 + s], n, ops, capacity);
        return 1;
      }
      ops = n;
      t[s].resize(static_cast<std::size_t>(ops));
      double sum = 0;
      for (int i = 0; i < ops; ++i) {
        t[s][static_cast<std::size_t>(i)].push_back(ms[static_cast<std::size_t>(i)]);
        sum += ms[static_cast<std::size_t>(i)];
      }
      total[s].push_back(sum);
      std::fprintf(stderr, "round %d %s: %.3f ms, output sum %.6g\n", r, s == 0 ? "A" : "B", sum, checksum);
    }
  std::vector<std::string> name;
  std::istringstream lines(names.data());
  for (std::string line; std::getline(lines, line);) name.push_back(line);
  std::printf("A: %s\nB: %s\nbatch %d, %d thread(s), %d rounds\n", argv[4], argv[5], batch, threads, rounds);
  std::printf("%-4s %10s %10s %10s  %s\n", "op", "A median", "B median", "B - A", "fused op (ms)");
  double sum_a = 0, sum_b = 0, sum_d = 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(ops); ++i) {
    std::vector<double> d;
    for (int r = 0; r < rounds; ++r) d.push_back(t[1][i][std::size_t(r)] - t[0][i][std::size_t(r)]);
    const double a = median(t[0][i]), b = median(t[1][i]), dm = median(d);
    sum_a += a, sum_b += b, sum_d += dm;
    std::printf("%-4zu %10.3f %10.3f %+10.3f  %s\n", i, a, b, dm, name[i].c_str());
  }
  std::printf("sums: A %.2f ms, B %.2f ms, paired differences B - A %+.2f ms\n", sum_a, sum_b, sum_d);
  std::vector<double> q;
  for (int r = 0; r < rounds; ++r) q.push_back(total[1][std::size_t(r)] / total[0][std::size_t(r)]);
  std::sort(q.begin(), q.end());
  std::printf("B / A per round: median %.4f (quartiles %.4f - %.4f)\n", median(q), q[q.size() / 4],
              q[3 * q.size() / 4]);
}
