#!/usr/bin/python3
"""Mutation check of typenet's kernel tests: applies deliberate bugs (mutants) one at a time to a scratch
copy of the repository, builds the test programs that should catch each, runs them through CTest, and
reports every mutant as killed (a test failed) or survived (every test passed).

  tools/mutate.py --check     (every mutant's snippet occurs exactly once in the repository: CTest
                               tools.mutants_apply, so a kernel edit that strands a mutant fails the suite)
  tools/mutate.py [--list] [--only NAME,...] [--kernel TEXT] [--jobs N] [--workdir DIR] [--keep]
                  [--markdown FILE] [--gpu]

The scratch copy holds the files git tracks plus untracked files it does not ignore (so uncommitted work is
checked too; build directories are ignored and not copied), under --workdir (default
/tmp/typenet-mutate-<uid>). Nothing in the repository itself is changed.

Each mutant is a row of MUTANTS below: the file, an exact snippet of it (which must occur exactly once),
its replacement, the CTest tests (a regex) that must fail, and the targets they need. To keep a run short
the scratch build gets one program per tests/simd/*_test.cpp file (mutate.simd.<file>, label simd: the
same sources the default suite's simd.tests program compiles), so a mutant rebuilds only the files it
needs; the reference mutants run reference.tests and parity.reference_layers themselves.

Before the mutants, the unmutated tests must pass (baseline); a mutant that does not compile is reported
as "no build" (a bad table row, not a kill). Exit status: 0 when every mutant run was killed, 1 otherwise
(a survivor, a build failure, a failing baseline). Mutants marked gpu need exec::cuda and a GPU; they are
listed as "not run" unless --gpu is given (the build then enables CUDA). Mutants marked cpu (a /proc/cpuinfo
flag: the AMX kernels) run only where the CPU has it, and those marked no_cpu (the direct int8 kernels'
program paths, which AMX replaces) only where it lacks it; elsewhere they are "not run".
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def simd(*files):
    """Targets and CTest regex for the per-file simd programs of the scratch build."""
    return {"targets": [f"mutate_simd_{f}" for f in files],
            "tests": "^mutate\\.simd\\.(" + "|".join(files) + ")$"}


def unit(*names):
    """Targets and CTest regex for the unit tests of the given source files (tests/unit/<name>.cpp)."""
    return {"targets": ["typenet_unit_tests"], "tests": "^unit\\.(" + "|".join(names) + ")$"}


REFERENCE = {"targets": ["typenet_reference_tests", "typenet_reference_layer_harness"],
             "tests": "^(reference\\.tests|parity\\.reference_layers)$"}
SIMD_ALLOC = {"targets": ["typenet_simd_alloc_check"], "tests": "^simd\\.no_allocation$"}
REF_ALLOC = {"targets": ["typenet_reference_alloc_tests"], "tests": "^reference\\.no_allocation$"}
TRAIN_ELEMENTWISE = {"targets": ["typenet_train_elementwise_tests"], "tests": "^reference\\.train_elementwise$"}
CUDA_NONFINITE = {"targets": ["typenet_cuda_nonfinite"], "tests": "^cuda\\.nonfinite$", "gpu": True}

POOL = "include/typenet/kernels/simd/pool.hpp"
TOPS = "include/typenet/kernels/train_ops.hpp"
TELEM = "include/typenet/train/elementwise.hpp"
NORM = "include/typenet/kernels/simd/norm.hpp"
ACT = "include/typenet/kernels/simd/activation.hpp"
COMMON = "include/typenet/kernels/simd/common.hpp"
CONV = "include/typenet/kernels/simd/conv2d.hpp"
DENSE = "include/typenet/kernels/simd/dense.hpp"
WINO = "include/typenet/kernels/simd/winograd.hpp"
RPOOL = "include/typenet/kernels/reference/pool.hpp"
RNORM = "include/typenet/kernels/reference/norm.hpp"
RACT = "include/typenet/kernels/reference/activation.hpp"
RCONV = "include/typenet/kernels/reference/conv2d.hpp"
CGEMM = "include/typenet/kernels/cuda/gemm.hpp"
CPOINT = "include/typenet/kernels/cuda/pointwise.hpp"
WTRANS = "include/typenet/kernels/winograd_transforms.hpp"
NCHW = "include/typenet/kernels/nchw_ops.hpp"
IPRE = "include/typenet/image/preprocess.hpp"
IDEC = "include/typenet/image/decode.hpp"
IMAGE = {"targets": ["typenet_image_tests"], "tests": "^image\\.(tests|torchvision)$"}
DW = "include/typenet/kernels/simd/depthwise.hpp"
ELT = "include/typenet/kernels/simd/eltwise.hpp"
FGRAPH = "include/typenet/fusion/graph.hpp"
RBACK = "include/typenet/kernels/reference/backward.hpp"
TSIMD = "include/typenet/train/simd.hpp"
GEMM = "include/typenet/kernels/simd/gemm.hpp"
BF16 = "include/typenet/kernels/simd/bf16.hpp"
BF16P = "include/typenet/exec/simd/bf16.hpp"
BF16G = "include/typenet/exec/simd/bf16_graph.hpp"
AMX = "include/typenet/kernels/simd/amx.hpp"
INT8 = "include/typenet/kernels/simd/int8.hpp"
INT8G = "include/typenet/exec/simd/int8_graph.hpp"
INT8P = "include/typenet/exec/simd/int8.hpp"
SGRAPH = "include/typenet/exec/simd/graph.hpp"
REF_BACKWARD = {"targets": ["typenet_reference_tests", "typenet_reference_layer_harness"],
                "tests": "^(reference\\.tests|parity\\.reference_layers_backward)$"}

# name, kernel, bug, file, original snippet, replacement, tests
MUTANTS = [
    # --- training: the reference backward loop nests (kernels/reference/backward.hpp)
    dict(name="ref-conv-backward-stride", kernel="reference conv2d backward", bug="dx: stride check dropped",
         file=RBACK, old="if (ty < 0 || ty % g.stride_h != 0 || ty / g.stride_h >= g.out_h) continue;",
         new="if (ty < 0 || ty / g.stride_h >= g.out_h) continue;", **REF_BACKWARD),
    dict(name="ref-lrn-backward-mirrored", kernel="reference lrn backward", bug="window mirrored (even sizes)",
         file=RBACK, old="for (int c = std::max(j - (size - 1) / 2, 0); c <= std::min(j + size / 2, channels - 1); ++c)",
         new="for (int c = std::max(j - size / 2, 0); c <= std::min(j + (size - 1) / 2, channels - 1); ++c)",
         **REF_BACKWARD),
    dict(name="ref-avgpool-backward-divisor", kernel="reference avg_pool backward", bug="ceil divisor not clipped",
         file=RBACK, old="const int xe = std::min(xs + g.kernel_w, g.in_w + g.pad_w);",
         new="const int xe = std::min(xs + g.kernel_w, g.in_w);", **REF_BACKWARD),
    dict(name="ref-maxpool-backward-last-tie", kernel="reference max_pool backward", bug="ties go to the last maximum",
         file=RBACK, old="if (v > best || std::isnan(v)) {", new="if (v >= best || std::isnan(v)) {", **REF_BACKWARD),
    dict(name="ref-batchnorm-backward-xhat", kernel="reference batch_norm backward",
         bug="dx: xhat times the wrong sum (dbias for dweight)",
         file=RBACK, old="static_cast<double>(m) * a.dy[i] - dbias - xhat * dweight",
         new="static_cast<double>(m) * a.dy[i] - dbias - xhat * dbias", **REF_BACKWARD),
    dict(name="ref-batchnorm-running-var-biased", kernel="reference batch_norm training", bug="running var biased",
         file=RBACK, old="momentum * squares / static_cast<double>(m - 1)",
         new="momentum * squares / static_cast<double>(m)", **REF_BACKWARD),
    # --- training: exec::simd's program (train/simd.hpp) and its matrix product (kernels/simd/gemm.hpp)
    dict(name="simd-train-col2im-last-column", kernel="simd training conv2d", bug="col2im drops the last column",
         file=TSIMD, old="if (ix >= 0 && ix < g.in_w) line[ix] += from[ox];",
         new="if (ix >= 0 && ix < g.in_w - 1) line[ix] += from[ox];", **simd("train_test")),
    dict(name="simd-train-im2col-left-pad", kernel="simd training conv2d", bug="im2col: first column read as padding",
         file=TSIMD, old="out[ox] = ix < 0 || ix >= g.in_w ? 0.f : line[ix];",
         new="out[ox] = ix <= 0 || ix >= g.in_w ? 0.f : line[ix];", **simd("train_test")),
    dict(name="simd-train-partials-one-thread", kernel="simd training conv2d", bug="weight gradient of thread 0 only",
         file=TSIMD, old="    for (const auto& w : work_) {", new="    for (const auto& w : std::span(work_).first(1)) {",
         **simd("train_test")),
    dict(name="simd-train-dense-dx-split", kernel="simd training dense", bug="dx: thread split loses a column",
         file=TSIMD, old="const std::int64_t i0 = in * t / n_threads, i1 = in * (t + 1) / n_threads;",
         new="const std::int64_t i0 = in * t / n_threads, i1 = in * (t + 1) / n_threads - (t == 0);",
         **simd("train_test")),
    dict(name="simd-gemm-edge-column", kernel="simd gemm", bug="edge tile: last column not stored",
         file=GEMM, old="                for (int j = 0; j < w; ++j)", new="                for (int j = 0; j + 1 < w; ++j)",
         **simd("train_test")),
    # --- training: the element-wise program (exec::cuda's; train/elementwise.hpp, kernels/train_ops.hpp),
    # checked on the host executor
    dict(name="train-ops-conv-dx-stride", kernel="element-wise conv2d backward", bug="dx: stride test dropped",
         file=TOPS, old="if (ty < 0 || ty % g.stride_h != 0 || ty / g.stride_h >= g.out_h) continue;",
         new="if (ty < 0 || ty / g.stride_h >= g.out_h) continue;", **TRAIN_ELEMENTWISE),
    dict(name="train-ops-conv-dw-group", kernel="element-wise conv2d backward", bug="dw: channel ignores the group",
         file=TOPS, old="const int c = f / (g.out_c / g.groups) * cg + local;", new="const int c = local;",
         **TRAIN_ELEMENTWISE),
    dict(name="train-ops-covering-last", kernel="element-wise pooling backward",
         bug="the last window over an input position is skipped",
         file=TOPS, old="return {first, last < outputs - 1 ? last : outputs - 1};",
         new="return {first, last < outputs - 1 ? last - 1 : outputs - 1};", **TRAIN_ELEMENTWISE),
    dict(name="train-ops-maxpool-last-tie", kernel="element-wise max_pool", bug="ties go to the last maximum",
         file=TOPS, old="if (v > best.value) best = {v, iy * g.in_w + ix};",
         new="if (v >= best.value) best = {v, iy * g.in_w + ix};", **TRAIN_ELEMENTWISE),
    dict(name="train-ops-dropout-counter", kernel="element-wise dropout", bug="mask i drawn from output i, not i + 1",
         file=TOPS, old="std::uint64_t z = stream + static_cast<std::uint64_t>(i + 1) * 0x9e3779b97f4a7c15ull;",
         new="std::uint64_t z = stream + static_cast<std::uint64_t>(i) * 0x9e3779b97f4a7c15ull;",
         **TRAIN_ELEMENTWISE),
    dict(name="train-ops-lrn-window", kernel="element-wise lrn backward", bug="dx: the window loses its first channel",
         file=TOPS, old="const int c0 = j - (l.size - 1) / 2 < 0 ? 0 : j - (l.size - 1) / 2;",
         new="const int c0 = j - (l.size - 1) / 2 < 0 ? 0 : j - (l.size - 1) / 2 + 1;",
         **TRAIN_ELEMENTWISE),
    dict(name="train-elementwise-bn-running-not-downloaded", kernel="element-wise batch_norm",
         bug="running statistics left on the device",
         file=TELEM, old="exec_.to_host_later(p.data() + running, params_.get() + running, 2 * c);",
         new="(void)running, (void)p;", **TRAIN_ELEMENTWISE),
    dict(name="train-elementwise-bn-variance-biased", kernel="element-wise batch_norm",
         bug="running var biased", file=TELEM, old="momentum * squares / (m - 1));", new="momentum * squares / m);",
         **TRAIN_ELEMENTWISE),
    dict(name="train-elementwise-concat-slice-offset", kernel="element-wise concat backward",
         bug="a branch's share read from the image's start", file=TELEM,
         old="const std::int64_t j = o / floats * joined + at + o % floats;",
         new="const std::int64_t j = o / floats * joined + (Into ? at : 0) + o % floats;", **TRAIN_ELEMENTWISE),
    dict(name="train-elementwise-dense-bias-grad", kernel="element-wise dense backward",
         bug="bias gradient of the first image only", file=TOPS,
         old="for (int n = 0; n < batch; ++n) sum += dy[std::int64_t{n} * units + u];",
         new="for (int n = 0; n < (batch > 0); ++n) sum += dy[std::int64_t{n} * units + u];", **TRAIN_ELEMENTWISE),
    dict(name="train-elementwise-host-dweight-kept", kernel="element-wise program: a layer on the host",
         bug="its weight gradient not copied back", file=TELEM,
         old="if constexpr (L::weights > 0) exec_.to_device(a.dweight, hdw, L::weights);", new="",
         **REFERENCE),
    dict(name="train-elementwise-host-dy-missing", kernel="element-wise program: a layer on the host",
         bug="its output gradient not copied to the host", file=TELEM,
         old="exec_.to_host_later(hdy, a.dy, outputs);", new="", **REFERENCE),
    # --- simd pooling (kernels/simd/pool.hpp)
    dict(name="simd-maxpool-nan-ordered-neq", kernel="simd max_pool", bug="NaN: x != x (ordered on AVX/AVX-512)",
         file=POOL, old="acc = xsimd::select((v > acc) | is_nan(v), v, acc);",
         new="acc = xsimd::select((v > acc) | (v != v), v, acc);", **simd("nonfinite_test")),
    dict(name="simd-maxpool-nan-tail", kernel="simd max_pool", bug="NaN in the scalar channel tail",
         file=POOL, old="if (v > acc || std::isnan(v)) acc = v;", new="if (v > acc) acc = v;",
         **simd("nonfinite_test")),
    dict(name="simd-maxpool-start-lowest", kernel="simd max_pool", bug="start value lowest(), not -inf",
         file=POOL,
         old="batch acc = Op == pool_op::max ? batch(-std::numeric_limits<float>::infinity()) : batch(0.f);",
         new="batch acc = Op == pool_op::max ? batch(std::numeric_limits<float>::lowest()) : batch(0.f);",
         **simd("nonfinite_test")),
    dict(name="simd-avgpool-no-ceil-clip", kernel="simd avg_pool", bug="ceil clip of the divisor removed",
         file=POOL, old="const int he0 = std::min(hs0 + Geo::kh, H + Geo::ph);", new="const int he0 = hs0 + Geo::kh;",
         **simd("pool_test")),
    dict(name="simd-avgpool-no-ceil-clip-w", kernel="simd avg_pool", bug="ceil clip of the divisor (columns)",
         file=POOL, old="const int we0 = std::min(ws0 + Geo::kw, W + Geo::pw);", new="const int we0 = ws0 + Geo::kw;",
         **simd("pool_test")),
    dict(name="simd-pool-pad-off-by-one", kernel="simd max/avg_pool", bug="padding off-by-one (last row lost)",
         file=POOL, old="const int hs = std::max(hs0, 0), he = std::min(he0, H);",
         new="const int hs = std::max(hs0, 0), he = std::min(he0, H - 1);", **simd("pool_test")),
    dict(name="simd-pool-left-pad", kernel="simd max/avg_pool", bug="padding off-by-one (left column)",
         file=POOL, old="const int ws = std::max(ws0, 0), we = std::min(we0, W);",
         new="const int ws = std::max(ws0 + 1, 0), we = std::min(we0, W);", **simd("pool_test")),
    dict(name="simd-pool-tail-short", kernel="simd max/avg_pool", bug="channel tail: last channel skipped",
         file=POOL, old="      for (; c < C; ++c) {\n        float acc = Op", new="      for (; c < C - 1; ++c) {\n        float acc = Op",
         **simd("pool_test")),
    dict(name="simd-adaptive-floor-end", kernel="simd adaptive_avg_pool", bug="window end floor, not ceil",
         file=POOL, old="const int ws = ow * W / OW, we = ((ow + 1) * W + OW - 1) / OW;",
         new="const int ws = ow * W / OW, we = ((ow + 1) * W) / OW;", **simd("pool_test")),
    dict(name="simd-adaptive-tail", kernel="simd adaptive_avg_pool", bug="channel tail: last channel skipped",
         file=POOL, old="        for (; c < C; ++c) {\n          float acc = 0.f;",
         new="        for (; c < C - 1; ++c) {\n          float acc = 0.f;", **simd("pool_test")),
    # --- simd graph networks (depthwise.hpp, eltwise.hpp, the residual epilogues, batch-norm folding)
    dict(name="simd-depthwise-right-pad", kernel="simd depthwise conv2d", bug="padding off-by-one (right column)",
         file=DW, old="kw1 = std::min(KW, W - iw0);", new="kw1 = std::min(KW, W - iw0 - 1);", **simd("graph_test")),
    dict(name="simd-depthwise-tail-short", kernel="simd depthwise conv2d", bug="channel tail: last channel lost",
         file=DW, old="std::min(V, C - c0), io);", new="std::min(V, C - c0 - 1), io);", **simd("graph_test")),
    dict(name="simd-depthwise-strip-column-short", kernel="simd depthwise conv2d (strips)",
         bug="a strip's last input column not read", file=DW, old="constexpr int cols = (N - 1) * SW + KW;",
         new="constexpr int cols = (N - 1) * SW + KW - 1;", **simd("depthwise_test", "graph_test")),
    dict(name="simd-depthwise-strip-past-edge", kernel="simd depthwise conv2d (strips)",
         bug="strips run one column into the right padding", file=DW, old="(W - KW + PW) / SW + 1 : 0",
         new="(W - KW + PW) / SW + 2 : 0", **simd("depthwise_test", "graph_test")),
    dict(name="simd-conv-chunk-skips-row", kernel="simd conv2d (direct), a share's rows in chunks (AVX2)",
         bug="a row skipped after each chunk of rows", file="include/typenet/exec/simd/graph.hpp",
         old="for (std::int64_t c = b; c < e; c += chunk)",
         new="for (std::int64_t c = b; c < e; c += chunk + (chunk < e - b))", **simd("graph_test")),
    dict(name="simd-conv-row-share-short", kernel="simd conv2d (direct), rows shared out per thread",
         bug="each thread's last row of its share skipped", file="include/typenet/exec/simd/graph.hpp",
         old="gb * rows + std::min(e, c + chunk), res);", new="gb * rows + std::min(e - 1, c + chunk), res);",
         **simd("graph_test")),
    dict(name="simd-band-window-short", kernel="simd conv2d + depthwise in row bands",
         bug="a depthwise row consumed before its window's last producer row", file=SGRAPH,
         old="r * dg::sh - dg::ph + (end ? dg::kh : 0)", new="r * dg::sh - dg::ph + (end ? dg::kh - 1 : 0)",
         **simd("graph_test")),
    dict(name="simd-band-no-second-pass", kernel="simd conv2d + depthwise in row bands",
         bug="the rows at the end of a share that read the next thread's rows skipped", file=SGRAPH,
         old="if (d < e) consume(d, e);", new="if (d < e) consume(d, d);", **simd("graph_test")),
    dict(name="simd-band-inputs-not-kept", kernel="simd conv2d + depthwise in row bands (arena)",
         bug="the producer's input not kept alive through the depthwise op (their memory shared)", file=FGRAPH,
         old="if (i > 0 && band_candidate(i - 1)) {", new="if (i > 0 && band_candidate(i - 1) && i == 0) {",
         **simd("graph_test")),
    dict(name="simd-bn-fold-no-mean", kernel="batch-norm folding (simd, cuda)", bug="running_mean left out of the bias",
         file=FGRAPH, old="(double{b_out[std::size_t(f)]} - mean[f]) * s + beta[f]",
         new="(double{b_out[std::size_t(f)]} - 0.0 * mean[f]) * s + beta[f]", **simd("graph_test")),
    # --- kernels/mma_layout.hpp: exec::cuda's fp16/bf16 tensor-core fragments, checked on the host
    dict(name="mma-k16-a-upper-k-by-row", kernel="cuda fp16/bf16 GEMM fragments",
         bug="A registers 1, 3 take the upper k half instead of 2, 3",
         file="include/typenet/kernels/mma_layout.hpp", old="(lane % 4) * 2 + half + (r >> 1) * 8;",
         new="(lane % 4) * 2 + half + (r & 1) * 8;", **unit("mma_layout")),
    dict(name="mma-k16-b-halves-swapped", kernel="cuda fp16/bf16 GEMM fragments", bug="B's two halves swapped",
         file="include/typenet/kernels/mma_layout.hpp", old="return (lane % 4) * 2 + half + r * 8;",
         new="return (lane % 4) * 2 + (1 - half) + r * 8;", **unit("mma_layout")),
    # --- core: the activation plan's placement (core/plan.hpp) and init_he (core/params.hpp)
    dict(name="plan-place-drops-live-value", kernel="activation plan (placement by liveness)",
         bug="a value read by the op that defines the next one counted as dead", file="include/typenet/core/plan.hpp",
         old="if (last[k] < later[i]) continue;", new="if (last[k] <= later[i]) continue;", **unit("graph_test")),
    dict(name="plan-place-busy-unsorted", kernel="activation plan (placement by liveness)",
         bug="busy ranges scanned unsorted", file="include/typenet/core/plan.hpp",
         old="for (; at > 0 && (begin[at - 1] > off[k]", new="for (; false && (begin[at - 1] > off[k]",
         **unit("graph_test")),
    dict(name="init-he-running-var-zero", kernel="init_he", bug="batch norm's running_var starts at 0",
         file="include/typenet/core/params.hpp", old='const bool ones = t.name == "weight" || t.name == "running_var";',
         new='const bool ones = t.name == "weight";', **unit("params_tensors")),
    dict(name="simd-graph-chunk-output-not-advanced", kernel="simd graph program (batch in chunks)",
         bug="every chunk writes the first images' outputs", file="include/typenet/exec/simd/policy.hpp",
         old="simd_graph::store_output<low>(pool_, fr.at(low::output), out + std::int64_t{first} * Net::output_shape::size,",
         new="simd_graph::store_output<low>(pool_, fr.at(low::output), out + 0 * first * Net::output_shape::size,",
         targets=["typenet-zoo"], tests="^parity\\.squeezenet1_1\\.simd$"),
    dict(name="simd-conv-residual-ignored", kernel="simd conv2d (direct) residual join",
         bug="residual not added", file=CONV,
         old="if (n > 0) acc[p][b] = acc[p][b] + detail::load_first<batch>(rp + b * V, n);",
         new="(void)n, (void)rp;", **simd("graph_test")),
    dict(name="simd-winograd-residual-ignored", kernel="simd winograd residual join", bug="residual not added",
         file=WINO, old="if constexpr (Add) v = v + detail::load_first<vec>(residual + o, n);", new="(void)residual;",
         **simd("graph_test")),
    dict(name="simd-depthwise-residual-ignored", kernel="simd depthwise residual join", bug="residual not added",
         file=DW, old="if constexpr (Add) acc[u] = acc[u] + io.template load_first<vec>(rp + c0 + u * V, n);",
         new="(void)rp;", **simd("graph_test")),
    dict(name="simd-relu6-no-upper-clip", kernel="simd relu6 (all epilogues)", bug="upper clip at 6 missing",
         file=DENSE, old="return min_nan_second(V(6.0f), relu_keep_nan(v));",
         new="return relu_keep_nan(v);", **simd("graph_test")),
    dict(name="simd-relu6-drops-nan", kernel="simd relu6 (all epilogues)", bug="NaN: relu6 as min(max(x, 0), 6)",
         file=DENSE, old="return min_nan_second(V(6.0f), relu_keep_nan(v));",
         new="return min_nan_second(max_nan_second(v, V(0.0f)), V(6.0f));", **simd("graph_test")),
    dict(name="simd-affine-no-shift", kernel="simd batch_norm (stand-alone)", bug="shift dropped (vector part)",
         file=ELT, old="vec::load_unaligned(scale + c), vec::load_unaligned(shift + c))",
         new="vec::load_unaligned(scale + c), vec(0.f))", **simd("graph_test")),
    dict(name="simd-concat-branches-swapped", kernel="simd concat", bug="branches joined in reverse order",
         file=ELT, old="std::memcpy(yp, in[k] + p * channels[k],",
         new="std::memcpy(yp, in[count - 1 - k] + p * channels[k],", **simd("graph_test")),
    # --- simd LRN (kernels/simd/norm.hpp)
    dict(name="simd-lrn-window-ignored", kernel="simd lrn", bug="window ignored (own channel only)",
         file=NORM, old="static_for<Size>([&](auto d) { s += batch::load_unaligned(sq + c + d); });",
         new="s = batch::load_unaligned(sq + c + before);", **simd("lrn_test")),
    dict(name="simd-lrn-even-window-mirrored", kernel="simd lrn", bug="even sizes: window mirrored",
         file=NORM, old="static constexpr int before = Size / 2, after = (Size - 1) / 2;",
         new="static constexpr int before = (Size - 1) / 2, after = Size / 2;", **simd("lrn_test")),
    dict(name="simd-lrn-window-short", kernel="simd lrn", bug="window size off by one",
         file=NORM, old="static_for<Size>([&](auto d)", new="static_for<Size - 1>([&](auto d)", **simd("lrn_test")),
    dict(name="simd-lrn-alpha-not-over-size", kernel="simd lrn", bug="alpha not divided by size",
         file=NORM, old="const batch scale(static_cast<float>(alpha / Size))",
         new="const batch scale(static_cast<float>(alpha))", **simd("lrn_test")),
    dict(name="simd-lrn-pow-beta-fixed", kernel="simd lrn", bug="pow path ignores beta",
         file=NORM, old="std::pow(double(dv[j]), beta)", new="std::pow(double(dv[j]), 0.75)", **simd("lrn_test")),
    dict(name="simd-lrn-tail-short", kernel="simd lrn", bug="channel tail: last channel not stored",
         file=NORM, old="for (int j = 0; j < C - c; ++j)", new="for (int j = 0; j + 1 < C - c; ++j)",
         **simd("lrn_test")),
    # --- simd activations (activation.hpp, common.hpp)
    dict(name="simd-relu-max-drops-nan", kernel="simd relu (all epilogues)", bug="NaN: ReLU as max(x, 0)",
         file=COMMON, old="return max_nan_second(Batch(0.f), x);",
         new="return max_nan_second(x, Batch(0.f));", **simd("nonfinite_test")),
    dict(name="simd-relu-tail-drops-nan", kernel="simd relu", bug="NaN in the scalar tail",
         file=ACT, old="for (; i < end; ++i) y[i] = x[i] < 0.f ? 0.f : x[i];",
         new="for (; i < end; ++i) y[i] = x[i] > 0.f ? x[i] : 0.f;", **simd("nonfinite_test")),
    dict(name="simd-softmax-no-max-shift", kernel="simd softmax", bug="max not subtracted (overflow)",
         file=ACT, old="y[i] = std::exp(x[i] - m);", new="y[i] = std::exp(x[i]);", **simd("nonfinite_test")),
    # --- simd conv2d, dense, winograd epilogues and edges
    dict(name="simd-conv-relu-max", kernel="simd conv2d", bug="NaN: epilogue ReLU as max(x, 0)",
         file=CONV, old="for (int b = 0; b < NB; ++b) acc[p][b] = detail::apply_epilogue<Epilogue>(acc[p][b]);",
         new="for (int b = 0; b < NB; ++b) acc[p][b] = std::is_same_v<Epilogue, epilogue_relu> ? "
             "xsimd::select(acc[p][b] > batch(0.f), acc[p][b], batch(0.f)) : "
             "detail::apply_epilogue<Epilogue>(acc[p][b]);",
         **simd("nonfinite_test")),
    dict(name="simd-conv-pad-off-by-one", kernel="simd conv2d", bug="padding off-by-one (bottom row)",
         file=CONV, old="a.kh1 = std::min(KH, H - a.ih0);", new="a.kh1 = std::min(KH, H - a.ih0 - 1);",
         **simd("nonfinite_test", "pool_test", "conv_test")),
    dict(name="simd-conv-partial-block", kernel="simd conv2d", bug="tail: partial channel block short",
         file=CONV, old="std::memcpy(yp, tmp, sizeof(float) * std::size_t(std::clamp(a.valid, 0, B)));",
         new="std::memcpy(yp, tmp, sizeof(float) * std::size_t(std::clamp(a.valid - 1, 0, B)));",
         **simd("nonfinite_test", "conv_test")),
    dict(name="simd-conv-last-tile-skipped", kernel="simd conv2d", bug="tail: the last pixel tile of a row skipped",
         file=CONV, old="for (int t = 0; t < tiles; ++t) {", new="for (int t = 0; t < tiles - 1; ++t) {",
         **simd("policy_test")),
    dict(name="simd-conv-small-tiles-shifted", kernel="simd conv2d (even tiles)",
         bug="tail: the smaller tiles of a row start one pixel late", file=CONV,
         old="const int ow0 = big_tiles * tile + (t - big_tiles) * small_tile;",
         new="const int ow0 = big_tiles * tile + (t - big_tiles) * small_tile + (t + 1 == tiles ? 0 : 1);",
         **simd("conv_test")),
    dict(name="simd-conv-merged-image-stride", kernel="simd conv2d (1x1 rows merged, AVX2 tiles)",
         bug="merged rows: the image's height not divided, so images after the first are read from the wrong place",
         file=CONV, old="conv_geometry<Geo::c, Geo::h / K, Geo::w * K,", new="conv_geometry<Geo::c, Geo::h, Geo::w * K,",
         **simd("conv_test")),
    dict(name="simd-conv-merged-rows-per-image", kernel="simd conv2d (1x1 rows merged; killed where AVX2 tiles run)",
         bug="the graph program shares out a merged layer's output rows, not its rows of work", file=SGRAPH,
         old="run_direct_conv(fr, &direct::template run<epilogue, Add>, direct::rows_per_image,",
         new="run_direct_conv(fr, &direct::template run<epilogue, Add>, geo::oh,", **simd("graph_test")),
    dict(name="simd-conv-shared-pixel-offset", kernel="simd conv2d (shared tiles)",
         bug="run-time strides: the last pixel of each half-tile one float off", file=CONV,
         old="for (int k = 0; k < H; ++k) off[k] = k * stride;",
         new="for (int k = 0; k < H; ++k) off[k] = k * stride + (k == H - 1);", **simd("conv_test")),
    dict(name="simd-conv-shared-second-base", kernel="simd conv2d (shared tiles)",
         bug="run-time strides: the second half of a tile starts a pixel early", file=CONV,
         old="const float* xb[2] = {x, x + H * stride};", new="const float* xb[2] = {x, x + (H - 1) * stride};",
         **simd("conv_test")),
    dict(name="simd-conv-shared-padding", kernel="simd conv2d (shared tiles)",
         bug="run-time strides: the column padding of 5x5 layers read one short", file=CONV,
         old="static int pw(const tile_args& a) { return a.pw; }",
         new="static int pw(const tile_args& a) { return a.pw - (a.kw == 5); }", **simd("conv_test")),
    dict(name="simd-conv-shared-rgb-stride", kernel="simd conv2d (shared tiles, AVX2 3x3 stems)",
         bug="run-time strides: a 3-channel layer's column stride read as 1", file=CONV,
         old="static int sw(const tile_args& a) { return a.sw; }",
         new="static int sw(const tile_args& a) { return a.c == 3 ? 1 : a.sw; }", **simd("conv_test")),
    dict(name="simd-dense-relu-max", kernel="simd dense", bug="NaN: epilogue ReLU as max(x, 0)",
         file=DENSE, old="return relu_keep_nan(v);", new="return max_nan_second(v, V(0.0f));",
         **simd("nonfinite_test")),
    dict(name="simd-dense-bias-after-relu", kernel="simd dense", bug="epilogue order: bias after ReLU",
         file=DENSE, old="detail::apply_epilogue<Epilogue>((a0 + a2) + detail::load_first<vec>(bias + o, n0))",
         new="detail::apply_epilogue<Epilogue>(a0 + a2) + detail::load_first<vec>(bias + o, n0)",
         **simd("dense_test")),  # the batch-1 GEMV path
    dict(name="simd-dense-tail-piece-skipped", kernel="simd dense", bug="tail: the one-row piece of a batch tail skipped",
         file=DENSE, old="if (r & P) {", new="if ((r & P) && P > 1) {", **simd("dense_test")),
    dict(name="simd-dense-tail-piece-row", kernel="simd dense", bug="tail: a piece starts at the tile's first row",
         file=DENSE, old="tile<R, K, Epilogue>(w, bias + o, xp + r0, yt + std::size_t(r0) * Out,",
         new="tile<R, K, Epilogue>(w, bias + o, xp, yt + std::size_t(r0) * Out,", **simd("dense_test")),
    dict(name="simd-winograd-relu-max", kernel="simd winograd", bug="NaN: epilogue ReLU as max(x, 0)",
         file=WINO, old="detail::store_first(detail::apply_epilogue<Epilogue>(v), out + o, n);",
         new="detail::store_first(std::is_same_v<Epilogue, epilogue_relu> ? xsimd::select(v > vec(0.0f), v, vec(0.0f)) : "
             "detail::apply_epilogue<Epilogue>(v), out + o, n);",
         **simd("nonfinite_test")),
    dict(name="simd-winograd-bias-after-relu", kernel="simd winograd", bug="epilogue order: bias after ReLU",
         file=WINO, old="detail::store_first(detail::apply_epilogue<Epilogue>(v), out + o, n);",
         new="detail::store_first(bv[b] + detail::apply_epilogue<Epilogue>(v - bv[b]), out + o, n);",
         **simd("nonfinite_test")),
    dict(name="simd-winograd-partial-fblock", kernel="simd winograd",
         bug="tail: last output channel of a partial f-block lost", file=WINO,
         old="valid[b] = std::clamp(F - f, 0, lanes);", new="valid[b] = std::clamp(F - f - 1, 0, lanes);",
         **simd("winograd_test")),
    dict(name="simd-winograd-gemm-row-lost", kernel="simd winograd",
         bug="register tile: one tile row of each GEMM group skipped", file=WINO,
         old="rows = T * (g + 1) / groups - k0;", new="rows = std::max(1, T * (g + 1) / groups - k0 - 1);",
         **simd("winograd_test")),
    dict(name="simd-winograd-f4-input-coefficient", kernel="simd winograd F(4x4, 3x3)",
         bug="input transform: one coefficient of B^T wrong (-4 for -5)", file=WINO,
         old="t[5] = xsimd::fma(four, d[1], xsimd::fnma(five, d[3], d[5]));",
         new="t[5] = xsimd::fma(four, d[1], xsimd::fnma(four, d[3], d[5]));", **simd("winograd_test")),
    dict(name="simd-winograd-f4-output-row", kernel="simd winograd F(4x4, 3x3)",
         bug="output transform: the last row of A^T loses its m5 term", file=WINO,
         old="y[3] = xsimd::fma(vec(8.0f), s, q) + m[5];", new="y[3] = xsimd::fma(vec(8.0f), s, q);",
         **simd("winograd_test")),
    dict(name="simd-winograd-clip-column", kernel="simd winograd",
         bug="tail: the last column of every tile not stored", file=WINO,
         old="cols = std::min(M, W - p.x0);", new="cols = std::min(M - 1, W - p.x0);", **simd("winograd_test")),
    dict(name="simd-winograd-gemm-channel-lost", kernel="simd winograd",
         bug="GEMM: the last input channel of every tile's sum skipped", file=WINO,
         old="for (int c = 0; c < s.c; ++c) {", new="for (int c = 0; c + 1 < s.c; ++c) {", **simd("winograd_test")),
    dict(name="simd-graph-winograd-tile-split", kernel="graph programs' Winograd thread split",
         bug="the last tile of each thread's share skipped", file=SGRAPH,
         old="kernel(shape, packed, bias, in, out, fr.workspace + std::size_t(t) * workspace_floats, r.begin, r.end, res);",
         new="kernel(shape, packed, bias, in, out, fr.workspace + std::size_t(t) * workspace_floats, r.begin, r.end - 1, res);",
         **simd("graph_test")),
    dict(name="simd-graph-direct-conv-block-lost", kernel="graph programs' direct convolution row split",
         bug="the last output-channel block of each row share skipped", file=SGRAPH,
         old="for (std::int64_t gb = 0; gb < group_blocks; ++gb)", new="for (std::int64_t gb = 0; gb + 1 < group_blocks; ++gb)",
         **simd("graph_test")),
    # --- reference kernels (the oracle), against hand-computed values and PyTorch
    dict(name="ref-maxpool-nan", kernel="reference max_pool", bug="NaN loses against numbers",
         file=RPOOL, old="if (v > best || std::isnan(v)) best = v;", new="if (v > best) best = v;", **REFERENCE),
    dict(name="ref-avgpool-no-ceil-clip", kernel="reference avg_pool", bug="ceil clip of the divisor removed",
         file=RPOOL, old="const int ye = std::min(ys + g.kernel_h, g.in_h + g.pad_h);",
         new="const int ye = ys + g.kernel_h;", **REFERENCE),
    dict(name="ref-adaptive-floor-end", kernel="reference adaptive_avg_pool", bug="window end floor, not ceil",
         file=RPOOL, old="const int y1 = ((y + 1) * in_h + out_h - 1) / out_h;",
         new="const int y1 = ((y + 1) * in_h) / out_h;", **REFERENCE),
    dict(name="ref-lrn-even-window-mirrored", kernel="reference lrn", bug="even sizes: window mirrored",
         file=RNORM, old="const int c0 = std::max(c - size / 2, 0);\n      const int c1 = std::min(c + (size - 1) / 2, channels - 1);",
         new="const int c0 = std::max(c - (size - 1) / 2, 0);\n      const int c1 = std::min(c + size / 2, channels - 1);",
         **REFERENCE),
    dict(name="ref-lrn-window-ignored", kernel="reference lrn", bug="window ignored (own channel only)",
         file=RNORM, old="const double v = image[j * plane + i];",
         new="const double v = j == c ? image[j * plane + i] : 0.0;", **REFERENCE),
    dict(name="ref-relu-drops-nan", kernel="reference relu", bug="NaN: relu as x > 0 ? x : 0",
         file=RACT, old="out[i] = in[i] < 0.f ? 0.f : in[i];", new="out[i] = in[i] > 0.f ? in[i] : 0.f;", **REFERENCE),
    dict(name="ref-conv-pad-off-by-one", kernel="reference conv2d", bug="padding off-by-one (bottom row)",
         file=RCONV, old="if (iy < 0 || iy >= g.in_h) continue;", new="if (iy < 0 || iy >= g.in_h - 1) continue;",
         **REFERENCE),
    # --- the no-allocation promise (an allocation injected into adaptive pooling: issue 9 item 7)
    dict(name="simd-adaptive-allocates", kernel="simd adaptive_avg_pool", bug="allocates in forward",
         file=POOL, old="const int hs = oh * H / OH, he = ((oh + 1) * H + OH - 1) / OH;",
         new="float* volatile leak = new float[1];\n      delete[] leak;\n"
             "      const int hs = oh * H / OH, he = ((oh + 1) * H + OH - 1) / OH;", **SIMD_ALLOC),
    dict(name="ref-adaptive-allocates", kernel="reference adaptive_avg_pool", bug="allocates in forward",
         file=RPOOL, old="const int y0 = (y * in_h) / out_h;",
         new="float* volatile leak = new float[1];\n      delete[] leak;\n      const int y0 = (y * in_h) / out_h;",
         **REF_ALLOC),
    # --- exec::cuda (need a GPU: cuda.nonfinite)
    dict(name="cuda-maxpool-no-nan-flag", kernel="cuda max_pool", bug="NaN: fmaxf alone",
         file=CPOINT, old="if (nan) r = __int_as_float(0x7fc00000);", new="if (false) r = __int_as_float(0x7fc00000);",
         **CUDA_NONFINITE),
    dict(name="cuda-relu-drops-nan", kernel="cuda relu", bug="NaN: relu as v > 0 ? v : 0",
         file=CPOINT, old="y[i] = v > 0.f || v != v ? v : 0.f;", new="y[i] = v > 0.f ? v : 0.f;", **CUDA_NONFINITE),
    # --- kernels/nchw_ops.hpp: the per-output functions of exec::cuda's graph kernels, its GEMM and Winograd
    # epilogues and the host Winograd transforms; checked on the host (unit.nchw_ops, the simd Winograd tests)
    dict(name="nchw-relu-drops-nan", kernel="activate (cuda epilogues, Winograd)", bug="NaN: ReLU as v > 0 ? v : 0",
         file=NCHW, old="    return v < 0.f ? 0.f : v;", new="    return v > 0.f ? v : 0.f;",
         **unit("nchw_ops", "winograd_transforms")),
    dict(name="nchw-relu6-no-upper-clip", kernel="activate (cuda epilogues)", bug="relu6 not clipped at 6",
         file=NCHW, old="return v < 0.f ? 0.f : (v > 6.f ? 6.f : v);", new="return v < 0.f ? 0.f : v;",
         **unit("nchw_ops", "winograd_transforms")),
    dict(name="nchw-depthwise-pad-off-by-one", kernel="cuda depthwise", bug="padding off by one (rows)",
         file=NCHW, old="const int ih = oh * G::sh - G::ph + i;", new="const int ih = oh * G::sh - G::ph + i + 1;",
         **unit("nchw_ops")),
    dict(name="nchw-depthwise-residual-dropped", kernel="cuda depthwise", bug="the residual join ignored",
         file=NCHW, old="  if (res != nullptr) acc += res[o];", new="", **unit("nchw_ops")),
    dict(name="nchw-concat-offset-ignored", kernel="cuda concat", bug="every branch at channel 0",
         file=NCHW, old="+ std::int64_t{Offset} * Pixels +", new="+", **unit("nchw_ops")),
    dict(name="wino-output-residual-dropped", kernel="cuda winograd output transform (host-checked)",
         bug="the residual join ignored", file=WTRANS, old="      if (add != nullptr) val += add[oh * WT::ow + ow];",
         new="", **unit("winograd_transforms")),
    dict(name="nchw-affine-wrong-channel", kernel="cuda batch norm", bug="channel index from the pixel",
         file=NCHW, old="const int c = static_cast<int>((o / Pixels) % Channels);",
         new="const int c = static_cast<int>(o % Channels);", **unit("nchw_ops")),
    # --- photos (image/preprocess.hpp, image/decode.hpp): torchvision's preprocessing bit for bit
    dict(name="image-resize-all-fma", kernel="image resize", bug="every tap with FMA (not PyTorch's order)",
         file=IPRE, old="for (; k <= grouped; ++k) acc = acc + product(src[k * step], w[k]);",
         new="for (; k <= grouped; ++k) acc = std::fma(src[k * step], w[k], acc);", **IMAGE),
    dict(name="image-resize-no-fma", kernel="image resize", bug="every tap as mul + add",
         file=IPRE, old="for (; k < n; ++k) acc = std::fma(src[k * step], w[k], acc);",
         new="for (; k < n; ++k) acc = acc + product(src[k * step], w[k]);", **IMAGE),
    dict(name="image-resize-support-not-widened", kernel="image resize", bug="no antialiasing (support 1)",
         file=IPRE, old="const float support = scale >= 1.0f ? scale : 1.0f;", new="const float support = 1.0f;",
         **IMAGE),
    dict(name="image-resize-round-half-up", kernel="image resize", bug="round half away from zero",
         file=IPRE, old="std::clamp(std::nearbyint(v), 0.0f, 255.0f)", new="std::clamp(std::floor(v + 0.5f), 0.0f, 255.0f)",
         **IMAGE),
    dict(name="image-crop-offset-floor", kernel="image center_crop", bug="offset floored, not rounded half to even",
         file=IPRE, old="std::nearbyint(static_cast<double>(have - want) / 2.0)", new="(have - want) / 2", **IMAGE),
    dict(name="image-jpeg-warnings-ignored", kernel="image JPEG decode", bug="libjpeg warnings ignored (truncation padded)",
         file=IDEC, old="if (level < 0 && info->err->msg_code != JWRN_EXTRANEOUS_DATA) jpeg_fail(info);",
         new="(void)level;", **IMAGE),
    # --- bf16: kernels/simd/bf16.hpp and the program exec/simd/bf16.hpp (need a CPU with AVX512_BF16)
    dict(name="bf16-conv-last-kernel-row", kernel="bf16 conv2d", bug="the last kernel row is skipped",
         file=BF16, old="const int kh0 = std::max(0, -ih0), kh1 = std::min(KH, H - ih0);",
         new="const int kh0 = std::max(0, -ih0), kh1 = std::min(KH - 1, H - ih0);", **simd("bf16_test")),
    dict(name="bf16-conv-padding-column", kernel="bf16 conv2d", bug="the right padding column reads the input",
         file=BF16, old="ptr[p] = (iw >= 0 && iw < W) ? xr + std::size_t(iw) * Cs : zeros;",
         new="ptr[p] = (iw >= 0 && iw <= W) ? xr + std::size_t(iw) * Cs : zeros;", **simd("bf16_test")),
    dict(name="bf16-conv-pair-order", kernel="bf16 conv2d packing", bug="the two channels of a pair swapped",
         file=BF16, old="pb[(pair * B + j) * 2 + ic % 2] = bf16_round(v);",
         new="pb[(pair * B + j) * 2 + (ic + 1) % 2] = bf16_round(v);", **simd("bf16_test")),
    dict(name="bf16-dense-gemv-odd-tail", kernel="bf16 dense GEMV", bug="the odd last pair is skipped",
         file=BF16, old="if constexpr (In2 % 2 != 0) {", new="if constexpr (In2 % 2 != 0 && false) {",
         **simd("bf16_test")),
    dict(name="bf16-dense-gemm-panel-row", kernel="bf16 dense GEMM", bug="the panel's last row of a tile is 0",
         file=BF16, old="if (row < batch) {", new="if (row < batch && row % tile_rows != tile_rows - 1) {",
         **simd("bf16_test")),
    dict(name="bf16-round-truncates", kernel="bf16 rounding", bug="weights truncated instead of rounded",
         file=BF16, old="u += 0x7fffu + ((u >> 16) & 1u);", new="u += 0u;", **simd("bf16_test")),
    dict(name="bf16-relu-loses-nan", kernel="bf16 and int8 epilogues", bug="ReLU as a max turns NaN into 0",
         file=DENSE, old="v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), zero);",
         new="v = _mm512_maskz_max_ps(0xffff, v, zero);", **simd("bf16_test", "int8_test")),
    dict(name="bf16-wino-input-transform", kernel="bf16 Winograd", bug="B^T d: last row's sign flipped",
         file=BF16, old="t[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);", new="t[3][j] = _mm512_add_ps(d[1][j], d[3][j]);",
         **simd("bf16_test")),
    dict(name="bf16-wino-last-column", kernel="bf16 Winograd", bug="a tile's second column dropped at the edge",
         file=BF16, old="const bool two_rows = p.y0 + 1 < H, two_cols = p.x0 + 1 < W;",
         new="const bool two_rows = p.y0 + 1 < H, two_cols = p.x0 + 2 < W;", **simd("bf16_test")),
    dict(name="bf16-wino-pack-pair", kernel="bf16 Winograd packing", bug="the two channels of a pair swapped",
         file=BF16, old="packed[((std::size_t(fb) * 16 + xi) * (Cs / 2) + c / 2) * FB * 2 + j * 2 + c % 2] =",
         new="packed[((std::size_t(fb) * 16 + xi) * (Cs / 2) + c / 2) * FB * 2 + j * 2 + (c + 1) % 2] =",
         **simd("bf16_test")),
    dict(name="bf16-dense-input-order", kernel="bf16 program dense", bug="a flattened NHWC input read as NCHW",
         file="include/typenet/exec/simd/policy.hpp", old="d[std::size_t(p) * Cs + c] = w[std::size_t(o) * N + std::size_t(c) * P + p];",
         new="d[std::size_t(c) * P + p] = w[std::size_t(o) * N + std::size_t(c) * P + p];", **simd("bf16_test")),
    dict(name="bf16-island-skips-rounding", kernel="bf16 and int8 programs", bug="an fp32 island's output is not stored",
         file="include/typenet/exec/simd/reduced.hpp",
         old="io.out.template from_f32<out_layout, out_floats>(f.scratch_b, static_cast<T*>(out_v), r.begin, r.end);",
         new="(void)r;", **simd("bf16_test", "int8_test")),
    # --- bf16 graph program: exec/simd/bf16_graph.hpp and the kernel paths it added
    dict(name="bf16-conv-residual-offset", kernel="bf16 conv2d residual", bug="the residual read one pixel on",
         file=BF16, old="if constexpr (Add) acc[p][b] = _mm512_add_ps(acc[p][b], bf16_detail::load_first(res + at + b * V, n));",
         new="if constexpr (Add) acc[p][b] = _mm512_add_ps(acc[p][b], bf16_detail::load_first(res + at + Fs + b * V, n));",
         **simd("bf16_graph_test")),
    dict(name="bf16-wino-residual-dropped", kernel="bf16 Winograd residual", bug="the residual is not added",
         file=BF16, old="if constexpr (Add) v = _mm512_add_ps(v, bf16_detail::load_first(residual + (at + (y - y0)) + off, n));",
         new="(void)residual;", **simd("bf16_graph_test")),
    dict(name="bf16-depthwise-store-truncates", kernel="bf16 depthwise storage", bug="stores truncate instead of rounding",
         file=BF16, old="_mm256_storeu_si256(reinterpret_cast<__m256i*>(p), (__m256i)_mm512_cvtneps_pbh(__m512(v)));",
         new="_mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_maskz_cvtepi32_epi16(0xffff, _mm512_maskz_srli_epi32(0xffff, _mm512_castps_si512(__m512(v)), 16)));",
         **simd("bf16_graph_test")),
    dict(name="bf16-graph-concat-order", kernel="bf16 graph concat", bug="the branches concatenated in reverse",
         file=BF16G, old="std::memcpy(y, in[std::size_t(k)] + std::size_t(q) * c, sizeof(bf16_t) * c);",
         new="std::memcpy(y, in[std::size_t(Op.input_count - 1 - k)] + std::size_t(q) * c, sizeof(bf16_t) * c);",
         **simd("bf16_graph_test")),
    dict(name="bf16-graph-shadow-residual", kernel="bf16 and int8 graph programs", bug="a shadow op's residual not widened",
         file="include/typenet/exec/simd/reduced_graph.hpp",
         old="if constexpr (op.residual >= 0) stored_value<Format, Low, op.residual>::widen_all(fr);",
         new="", **simd("bf16_graph_test", "int8_graph_test")),
    dict(name="bf16-pool-tail-dropped", kernel="bf16 pool storage", bug="the channels past the last vector not pooled",
         file=POOL, old="if (c < C) vector(c, C - c);", new="(void)c;", **simd("bf16_graph_test", "int8_graph_test")),
    dict(name="bf16-graph-rows-split", kernel="bf16 graph program", bug="a thread's last output row is skipped",
         file=BF16G, old="direct::template run<epilogue, add>(weights(), bias.get(), in, out, fr.zeros, fr.batch, gb * rows + b,\n                                                gb * rows + e, res);",
         new="direct::template run<epilogue, add>(weights(), bias.get(), in, out, fr.zeros, fr.batch, gb * rows + b,\n                                                gb * rows + e - 1, res);",
         **simd("bf16_graph_test")),
    # --- int8: kernels/simd/int8.hpp (need a CPU with AVX512_VNNI)
    dict(name="int8-conv-zero-point-ignored", kernel="int8 conv2d", bug="the input's zero point is not subtracted",
         file=INT8, old="e.comp[b] = _mm512_mullo_epi32(s, z);", new="e.comp[b] = _mm512_setzero_si512(); (void)s; (void)z;",
         **simd("int8_test")),
    dict(name="int8-conv-row-sums-all-rows", kernel="int8 conv2d", bug="padding rows' weights subtracted too",
         file=INT8, old="for (int kh = kh0; kh < kh1; ++kh) s = _mm512_add_epi32(",
         new="for (int kh = 0; kh < KH; ++kh) s = _mm512_add_epi32(", **simd("int8_test")),
    dict(name="int8-conv-padding-column", kernel="int8 conv2d", bug="the right padding column reads the input",
         file=INT8, old="ptr[p] = (iw >= 0 && iw < W) ? xr + std::size_t(iw) * Cs : pad;",
         new="ptr[p] = (iw >= 0 && iw <= W) ? xr + std::size_t(iw) * Cs : pad;", **simd("int8_test")),
    dict(name="int8-conv-quad-order", kernel="int8 conv2d packing", bug="two channels of a quad swapped",
         file=INT8, old="pb[(quad * B + j) * 4 + ic % 4] = q;", new="pb[(quad * B + j) * 4 + (ic ^ 1) % 4] = q;",
         **simd("int8_test")),
    dict(name="int8-dense-gemv-odd-tail", kernel="int8 dense GEMV", bug="the odd last quad is skipped",
         file=INT8, old="if constexpr (In4 % 2 != 0) {\n      const std::int8_t* wi",
         new="if constexpr (false) {\n      const std::int8_t* wi", **simd("int8_test")),
    dict(name="int8-dense-gemm-panel-row", kernel="int8 dense GEMM", bug="the panel's last row of a tile is 0",
         file=INT8, old="for (int row = row_begin; row < row_end; ++row) {\n      std::uint32_t* dst = panel + std::size_t(row / tile_rows) * In4",
         new="for (int row = row_begin; row < row_end - 1; ++row) {\n      std::uint32_t* dst = panel + std::size_t(row / tile_rows) * In4",
         **simd("int8_test")),
    dict(name="int8-quantize-truncates", kernel="int8 quantisation", bug="outputs truncated instead of rounded",
         file=INT8, old="_mm512_add_epi32(_mm512_maskz_cvtps_epi32(all, t)", new="_mm512_add_epi32(_mm512_maskz_cvttps_epi32(all, t)",
         **simd("int8_test")),
    dict(name="int8-quantize-nan-wraps", kernel="int8 quantisation", bug="NaN is not clamped (operands swapped)",
         file=INT8, old="t = _mm512_maskz_max_ps(all, t, _mm512_set1_ps(float(-q.zero)));",
         new="t = _mm512_maskz_max_ps(all, _mm512_set1_ps(float(-q.zero)), t);", **simd("int8_test")),
    dict(name="int8-requant-truncates", kernel="int8 conv2d / dense u8 epilogue", bug="outputs truncated instead of rounded",
         file=INT8, old="_mm512_maskz_cvtepi32_epi8(all, _mm512_maskz_cvtps_epi32(all, t))",
         new="_mm512_maskz_cvtepi32_epi8(all, _mm512_maskz_cvttps_epi32(all, t))", **simd("int8_test")),
    dict(name="int8-requant-zero-not-folded", kernel="int8 conv2d / dense u8 epilogue",
         bug="the output's zero point not folded into the bias",
         file=INT8, old="bias = _mm512_fmadd_ps(bias, inv, zero);", new="bias = _mm512_mul_ps(bias, inv);",
         **simd("int8_test")),
    dict(name="int8-requant-residual-scale-unfolded", kernel="int8 conv2d u8 epilogue",
         bug="the residual's scale not divided by the output's",
         file=INT8, old="__m512 fold_scale(__m512 s) const noexcept { return _mm512_mul_ps(s, inv); }",
         new="__m512 fold_scale(__m512 s) const noexcept { return s; }", **simd("int8_test")),
    dict(name="int8-requant-relu6-unbounded", kernel="int8 u8 epilogue", bug="ReLU6 clamps at 255, not at 6",
         file=INT8, old="return std::is_same_v<Epilogue, epilogue_relu6> ? std::min(",
         new="return false ? std::min(", **simd("int8_test", "int8_graph_test")),
    dict(name="int8-program-padding-zero", kernel="int8 program conv", bug="the padding row holds 0, not the zero point",
         file="include/typenet/exec/simd/int8.hpp", old="pad(amx ? 0 : kernel::pad_bytes + 64, static_cast<u8>(s.in.q.zero)),",
         new="pad(amx ? 0 : kernel::pad_bytes + 64, u8{0}),", no_cpu="amx_int8", **simd("int8_test")),
    dict(name="int8-calibrate-ranges-shifted", kernel="int8 calibration", bug="a stage's range recorded for the one before",
         file="include/typenet/exec/simd/int8.hpp", old="{ take(k + simd_native<Net>, v, size); });",
         new="{ take(k, v, size); });", **simd("int8_test")),
    dict(name="int8-graph-calibrate-shifted", kernel="int8 calibration", bug="a graph value's range recorded for the next",
         file="include/typenet/exec/simd/int8.hpp", old="{ take(k + simd_native<Net>, v, size); });",
         new="{ take(k + 1 - simd_native<Net>, v, size); });", **simd("int8_graph_test")),
    dict(name="int8-conv-residual-zero-point", kernel="int8 conv2d residual", bug="the residual's zero point not subtracted",
         file=INT8, old="_mm512_maskz_cvtepi32_ps(all, _mm512_sub_epi32(r, rz)), rs, v), y, n);",
         new="_mm512_maskz_cvtepi32_ps(all, r), rs, v), y, n); (void)rz;", **simd("int8_test", "int8_graph_test")),
    dict(name="int8-graph-residual-scale", kernel="int8 graph conv", bug="the residual dequantised with the output's scale",
         file=INT8G, old="res_q(add ? q[std::size_t(Op.residual)] : ks::act_quant{}),",
         new="res_q(add ? q[std::size_t(Op.output)] : ks::act_quant{}),", **simd("int8_graph_test")),
    dict(name="int8-pool-u8-narrow-truncates", kernel="int8 max pool on u8", bug="a stored max keeps 7 bits",
         file=INT8, old="return _mm512_maskz_cvtepi32_epi8(int8_detail::all, _mm512_maskz_cvtps_epi32(int8_detail::all, __m512(v)));",
         new="return _mm512_maskz_cvtepi32_epi8(int8_detail::all, _mm512_and_si512(_mm512_maskz_cvtps_epi32(int8_detail::all, __m512(v)), _mm512_set1_epi32(127)));",
         **simd("int8_graph_test")),
    dict(name="int8-graph-padding-zero", kernel="int8 graph conv", bug="the padding row holds 0, not the zero point",
         file=INT8G, old="pad(amx ? 0 : kernel::pad_bytes + 64, static_cast<u8>(q[std::size_t(Op.inputs[0])].zero)),",
         new="pad(amx ? 0 : kernel::pad_bytes + 64, u8{0}),", no_cpu="amx_int8", **simd("int8_graph_test")),
    dict(name="int8-depthwise-zero-point-ignored", kernel="int8 depthwise on u8", bug="the input's zero point is not subtracted",
         file=INT8, old="return V(_mm512_sub_ps(__m512(elem_io<std::uint8_t>::load<V>(p)), zero));",
         new="return V(__m512(elem_io<std::uint8_t>::load<V>(p)));", **simd("int8_graph_test")),
    dict(name="int8-depthwise-tail-stores-vector", kernel="int8 depthwise on u8", bug="a partial channel vector stores 16 lanes",
         file=INT8, old="int8_detail::store_clamped(__m512(t), lo, hi, p, n);",
         new="int8_detail::store_clamped(__m512(t), lo, hi, p, 16 + 0 * n);", **simd("int8_graph_test")),
    dict(name="int8-graph-depthwise-scale", kernel="int8 depthwise on u8", bug="the input's scale not folded into the weights",
         file=INT8, old="const float ws = in_scale * out.inv_scale;", new="const float ws = out.inv_scale + 0 * in_scale;",
         **simd("int8_graph_test")),
    dict(name="int8-depthwise-zero-not-folded", kernel="int8 depthwise on u8", bug="the output's zero point not folded into the bias",
         file=INT8, old="for (float& v : b) v = std::fma(v, out.inv_scale, float(out.zero));",
         new="for (float& v : b) v = v * out.inv_scale;", **simd("int8_graph_test")),
    dict(name="int8-depthwise-store-no-activation", kernel="int8 depthwise on u8", bug="the store clamps at 0 instead of the activation's floor",
         file=INT8, old="const __m512 lo = std::is_same_v<Epilogue, epilogue_none> ? _mm512_setzero_ps() : act_low;",
         new="const __m512 lo = _mm512_setzero_ps();", **simd("int8_graph_test")),
    dict(name="int8-depthwise-relu6-unbounded", kernel="int8 depthwise on u8", bug="ReLU6 clamps at 255 instead of 6",
         file=INT8, old="const __m512 hi = std::is_same_v<Epilogue, epilogue_relu6> ? relu6_high : _mm512_set1_ps(255.0f);",
         new="const __m512 hi = _mm512_set1_ps(255.0f);", **simd("int8_graph_test")),
    dict(name="int8-weight-scale-per-layer", kernel="int8 weight packing", bug="one scale for every output channel",
         file=INT8, old="const float sw = real ? weight_scale(wo, per_output) : 1.0f;",
         new="const float sw = real ? weight_scale(w, per_output) : 1.0f;", **simd("int8_test")),
    dict(name="simd-stage-image-offset-ignored", kernel="graph programs' stages",
         bug="a value for a later stage written at image 0 of its chunk by every earlier chunk",
         file=SGRAPH, old="std::int64_t{first % cap_[k]} * elems[v];", new="std::int64_t{0 * first % cap_[k]} * elems[v];",
         **simd("graph_test", "bf16_graph_test", "int8_graph_test")),
    dict(name="simd-stage-chunk-not-multiple", kernel="graph programs' stages",
         bug="a stage's chunk not a multiple of the one before (a chunk straddles two of the next stage)",
         file=SGRAPH, old="c = std::max<std::int64_t>(cap_[k - 1], c / cap_[k - 1] * cap_[k - 1]);",
         new="c = std::max<std::int64_t>(cap_[k - 1], c);", **simd("graph_test")),
    dict(name="simd-stage-last-chunk-skipped", kernel="graph programs' stages",
         bug="a stage's last, partial chunk of the batch never run", file=SGRAPH,
         old="if (end % c == 0 || end == batch) {", new="if (end % c == 0) {",
         **simd("graph_test", "bf16_graph_test", "int8_graph_test")),
    dict(name="simd-stage-weight-bound-ignored", kernel="graph programs' stages",
         bug="no stage for weight-bound ops (ResNet-50's layer4 in chunks of 2)", file=SGRAPH,
         old="(allows[i] >= step * chunk || weight_bound(i, chunk))",
         new="(allows[i] >= step * chunk || (false && weight_bound(i, chunk)))",
         **simd("graph_test")),
    dict(name="simd-stage-weight-bound-first-op", kernel="graph programs' stages",
         bug="a weight-bound stage may start at an op that is not weight-bound itself", file=SGRAPH,
         old="2 * weights[i] >= weight_ratio * chunk * touched[i];", new="true;", **simd("graph_test")),
    dict(name="simd-in-place-residual-still-read", kernel="graph programs' in-place residuals",
         bug="a join writes in its residual's place though a later op reads the residual", file=SGRAPH,
         old="l.home[r] == s && life.last_use[r] == static_cast<int>(I - b) &&",
         new="l.home[r] == s && life.last_use[r] >= static_cast<int>(I - b) &&", **simd("graph_test")),
    dict(name="simd-in-place-residual-is-input", kernel="graph programs' in-place residuals",
         bug="a convolution writes in the place of its residual that is also its input", file=SGRAPH,
         old="for (int k = 0; k < op.input_count; ++k) ok = ok && op.inputs[static_cast<std::size_t>(k)] != op.residual;",
         new="", **simd("graph_test")),
    dict(name="simd-batched-winograd-direct-weights", kernel="simd graph 7 x 7 convolutions (Winograd from 8 images)",
         bug="the Winograd run reads the direct kernel's packing", file=SGRAPH,
         old="packed.get() + batched_offset, bias.get()", new="packed.get(), bias.get()", **simd("graph_test")),
    # --- kernels/simd/amx.hpp: bf16 convolutions on AMX tiles (need a CPU with AMX; skipped elsewhere)
    dict(name="amx-last-channel-block", kernel="bf16 conv2d on AMX tiles", bug="the last block of 32 channels skipped",
         file=AMX, old="for (int c = 0; c < steps; ++c, at += 64, wp += 2048) {",
         new="for (int c = 0; c + 1 < steps; ++c, at += 64, wp += 2048) {", cpu="amx_bf16", **simd("bf16_test")),
    dict(name="amx-second-pixel-tile", kernel="bf16 conv2d on AMX tiles", bug="pixels 16 - 31 read pixel 0's tile",
         file=AMX, old="_tile_loadd(5, at + 16 * stride, stride);", new="_tile_loadd(5, at, stride);",
         cpu="amx_bf16", **simd("bf16_test")),
    dict(name="amx-padding-row", kernel="bf16 conv2d on AMX tiles", bug="the bottom padding row keeps stale data",
         file=AMX, old="if (ih < 0 || ih >= H) {\n        std::memset(row, fill, sizeof(T) * Wp * Cs);",
         new="if (ih < 0 || ih > H) {\n        std::memset(row, fill, sizeof(T) * Wp * Cs);", cpu="amx_bf16", **simd("bf16_test")),
    dict(name="amx-gather-padding-column", kernel="bf16 conv2d on AMX tiles (gathered windows)",
         bug="a window that reaches the right padding is copied whole", file=AMX,
         old="const bool inside = iw0 >= 0 && iw0 + KW <= W;", new="const bool inside = iw0 >= 0;",
         cpu="amx_bf16", **simd("bf16_test")),
    dict(name="amx-gather-window-tail", kernel="bf16 conv2d on AMX tiles (gathered windows)",
         bug="the zeros that round a window up to 32 values are not written", file=AMX,
         old="_mm512_storeu_si512(dst, _mm512_maskz_loadu_epi8(m, src));",
         new="_mm512_mask_storeu_epi8(dst, m, _mm512_maskz_loadu_epi8(m, src));", cpu="amx_bf16", **simd("bf16_test")),
    dict(name="amx-last-row-copied", kernel="bf16 conv2d on AMX tiles", bug="the last input row a segment reads is not copied",
         file=AMX, old="for (int r = r0; r <= r1; ++r) {", new="for (int r = r0; r < r1; ++r) {", cpu="amx_bf16", **simd("bf16_test")),
    dict(name="amx-dropped-pixels-kept", kernel="bf16 conv2d on AMX tiles",
         bug="the grid's pixels past a row's end are stored too", file=AMX,
         old="return ow < OW ? (n * OH + oh) * OW + ow : -1;", new="return (n * OH + oh) * OW + ow;",
         cpu="amx_bf16", **simd("bf16_test")),
    dict(name="amx-segment-crosses-images", kernel="bf16 conv2d on AMX tiles",
         bug="a padded segment runs on into the next image", file=AMX,
         old=": std::min({end, (n0 + 1) * per_image, u + cap});", new=": std::min({end, u + cap});",
         cpu="amx_bf16", **simd("bf16_test")),
    dict(name="amx-dense-last-block", kernel="bf16 graph classifier on AMX tiles",
         bug="the last thread skips its last block of 32 outputs", file=BF16G,
         old="nullptr, 0, fr.batch, int(r.begin), int(r.end));",
         new="nullptr, 0, fr.batch, int(r.begin), int(r.end) - (t + 1 == n ? 1 : 0));", cpu="amx_bf16", **simd("bf16_graph_test")),
    dict(name="amx-residual-ignored", kernel="bf16 conv2d on AMX tiles", bug="the residual is not added past 16 channels",
         file=AMX, old="if constexpr (Add) v1 = _mm512_add_ps(v1,", new="if constexpr (false) v1 = _mm512_add_ps(v1,",
         cpu="amx_bf16", **simd("bf16_graph_test")),
    dict(name="amx-images-share-a-slot", kernel="bf16 conv2d on AMX tiles",
         bug="every image of a segment is copied to the first slot", file=AMX,
         old="f(n, buf + std::size_t(n - n0) * image_elems, q0, q1);", new="f(n, buf, q0, q1);",
         cpu="amx_bf16", **simd("bf16_test")),
    dict(name="amx-int8-padding-zero", kernel="int8 conv2d on AMX tiles",
         bug="padding holds 0 instead of the input's zero point", file=AMX,
         old="plan::drive(reinterpret_cast<const std::uint8_t*>(k.w), in, in_zero,",
         new="plan::drive(reinterpret_cast<const std::uint8_t*>(k.w), in, 0,", cpu="amx_int8", **simd("int8_test")),
    dict(name="amx-int8-weight-sum-row", kernel="int8 conv2d on AMX tiles",
         bug="the zero point's share counts the first kernel row only", file=AMX,
         old="            sum += q;\n", new="            if (kh == 0) sum += q;\n", cpu="amx_int8", **simd("int8_test")),
    dict(name="amx-int8-second-half", kernel="int8 conv2d on AMX tiles",
         bug="outputs 16 - 31 of a block take the first half's constants", file=AMX,
         old="comp[h] = _mm512_mullo_epi32(_mm512_loadu_si512(k.sums + c0 + 16 * h), z);",
         new="comp[h] = _mm512_mullo_epi32(_mm512_loadu_si512(k.sums + c0), z);", cpu="amx_int8", **simd("int8_test")),
    dict(name="amx-int8-dense-last-block", kernel="int8 graph classifier on AMX tiles",
         bug="the last thread skips its last block of 32 outputs", file=INT8G,
         old="nullptr, 0, fr.batch,\n                                                  int(r.begin), int(r.end));",
         new="nullptr, 0, fr.batch,\n                                                  int(r.begin), int(r.end) - (t + 1 == n ? 1 : 0));",
         cpu="amx_int8", **simd("int8_graph_test")),
    dict(name="amx-int8-chain-dense-zero-point", kernel="int8 chain dense layers on AMX tiles",
         bug="the dense layer's input zero point is taken as 0", file=INT8P,
         old="tiles::template run<typename base::epilogue>(k.view(), in, io.in.q.zero, out,",
         new="tiles::template run<typename base::epilogue>(k.view(), in, 0, out,", cpu="amx_int8", **simd("int8_test")),
    dict(name="simd-batched-winograd-not-packed", kernel="simd graph 7 x 7 convolutions (Winograd from 8 images)",
         bug="the Winograd packing left zero (never packed)", file=SGRAPH,
         old="if constexpr (batched) batched_wino::pack(w, to + batched_offset);", new="", **simd("graph_test")),
]

PER_FILE_CMAKE = """
# Added by tools/mutate.py in its scratch copy: one program per simd test file (same sources and flags as
# simd.tests), so that a mutant rebuilds only the test files that should catch it.
foreach(_f ${_typenet_simd_tests})
  get_filename_component(_n ${_f} NAME_WE)
  add_executable(mutate_simd_${_n} main.cpp ${_f})
  target_link_libraries(mutate_simd_${_n} PRIVATE typenet::typenet typenet_dev_flags doctest::doctest Threads::Threads)
  add_test(NAME mutate.simd.${_n} COMMAND mutate_simd_${_n})
  set_tests_properties(mutate.simd.${_n} PROPERTIES LABELS simd TIMEOUT 1200)
endforeach()
"""


def run(cmd, cwd=None, log=None, timeout=None):
    res = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=timeout)
    if log is not None:
        with open(log, "a") as f:
            f.write(f"$ {' '.join(cmd)}\n{res.stdout}\n")
    return res


def copy_tree(dst):
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, stdout=subprocess.PIPE).stdout.split(b"\0")
    for f in files:
        if not f:
            continue
        rel = f.decode()
        src = os.path.join(ROOT, rel)
        if not os.path.isfile(src):  # deleted in the work tree
            continue
        out = os.path.join(dst, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        shutil.copy2(src, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--list", action="store_true", help="print the mutant table and exit")
    ap.add_argument("--check", action="store_true",
                    help="check that every mutant's snippet occurs exactly once in the repository, and exit")
    ap.add_argument("--only", default="", help="comma-separated mutant names")
    ap.add_argument("--kernel", default="", help="only mutants whose kernel contains this text")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--workdir", default=f"/tmp/typenet-mutate-{os.getuid()}")
    ap.add_argument("--keep", action="store_true",
                    help="reuse the build of an earlier run (not after an interrupted one: the copied sources keep "
                         "their times, so objects built from a mutated file would look up to date)")
    ap.add_argument("--markdown", default="", help="also write the result table to this file")
    ap.add_argument("--gpu", action="store_true", help="also run the mutants that need a GPU")
    args = ap.parse_args()

    mutants = MUTANTS
    if args.only:
        names = set(args.only.split(","))
        unknown = names - {m["name"] for m in MUTANTS}
        if unknown:
            print(f"mutate.py: unknown mutants: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        mutants = [m for m in mutants if m["name"] in names]
    if args.kernel:
        mutants = [m for m in mutants if args.kernel in m["kernel"]]
    if args.check:
        stale = 0
        for m in mutants:
            count = open(os.path.join(ROOT, m["file"])).read().count(m["old"])
            if count != 1:
                stale += 1
                print(f"mutate.py: {m['name']}: the snippet occurs {count} times in {m['file']} (it must occur "
                      f"once: update the mutant to the kernel's current code)", file=sys.stderr)
        print(f"mutate.py --check: {len(mutants) - stale} of {len(mutants)} mutants apply")
        return 1 if stale else 0
    if args.list:
        for m in mutants:
            print(f"{m['name']:34} {m['kernel']:28} {m['bug']:42} {m['file']}  tests {m['tests']}")
        return 0

    src, build = os.path.join(args.workdir, "src"), os.path.join(args.workdir, "build")
    log = os.path.join(args.workdir, "mutate.log")
    if not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir, exist_ok=True)
    # Always refresh the sources (the build directory is kept with --keep).
    shutil.rmtree(src, ignore_errors=True)
    copy_tree(src)
    with open(os.path.join(src, "tests/simd/CMakeLists.txt"), "a") as f:
        f.write(PER_FILE_CMAKE)
    for m in mutants:  # the table must match the sources before anything is built
        text = open(os.path.join(src, m["file"])).read()
        if text.count(m["old"]) != 1:
            print(f"mutate.py: {m['name']}: the snippet occurs {text.count(m['old'])} times in {m['file']}",
                  file=sys.stderr)
            return 2

    run_gpu = args.gpu
    active = [m for m in mutants if run_gpu or not m.get("gpu")]
    # The examples (typenet-zoo and its parity tests) only when a mutant is judged by them.
    examples = any("typenet-zoo" in m["targets"] for m in active)
    cfg = ["cmake", "-S", src, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
           "-DTYPENET_BUILD_BENCHMARKS=OFF", f"-DTYPENET_BUILD_EXAMPLES={'ON' if examples else 'OFF'}",
           f"-DTYPENET_ENABLE_CUDA={'ON' if run_gpu else 'OFF'}"]
    print(f"mutate.py: scratch copy in {src}, build in {build}, log {log}", flush=True)
    if run(cfg, log=log).returncode != 0:
        print("mutate.py: cmake failed (see the log)", file=sys.stderr)
        return 1

    targets = sorted({t for m in active for t in m["targets"]})
    t0 = time.time()
    if run(["ninja", "-C", build, f"-j{args.jobs}"] + targets, log=log).returncode != 0:
        print("mutate.py: the unmutated tests do not build (see the log)", file=sys.stderr)
        return 1
    regex = "|".join(sorted({m["tests"] for m in active}))
    base = run(["ctest", "--test-dir", build, "-R", regex, "--output-on-failure"], log=log)
    if base.returncode != 0:
        print("mutate.py: the unmutated tests fail; no mutant can be judged (see the log)", file=sys.stderr)
        return 1
    print(f"mutate.py: baseline built and passed in {time.time() - t0:.0f} s", flush=True)

    results = []
    cpu_flags = set()
    if os.path.exists("/proc/cpuinfo"):
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                cpu_flags = set(line.split(":", 1)[1].split())
                break
    for m in mutants:
        if m.get("gpu") and not run_gpu:
            results.append((m, "not run (GPU)", 0.0))
            print(f"{m['name']:34} not run (needs a GPU; --gpu)", flush=True)
            continue
        # "cpu": a /proc/cpuinfo flag the mutated path needs (the tests skip it elsewhere); "no_cpu": one that
        # routes the programs around it (their tests then never run the mutated code).
        if (m.get("cpu") and m["cpu"] not in cpu_flags) or (m.get("no_cpu") and m["no_cpu"] in cpu_flags):
            why = f"needs {m['cpu']}" if m.get("cpu") else f"runs only without {m['no_cpu']}"
            results.append((m, "not run (CPU)", 0.0))
            print(f"{m['name']:34} not run ({why})", flush=True)
            continue
        path = os.path.join(src, m["file"])
        original = open(path).read()
        t = time.time()
        try:
            with open(path, "w") as f:
                f.write(original.replace(m["old"], m["new"]))
            b = run(["ninja", "-C", build, f"-j{args.jobs}"] + m["targets"], log=log)
            if b.returncode != 0:
                status = "no build"
            else:
                r = run(["ctest", "--test-dir", build, "-R", m["tests"], "--output-on-failure"], log=log,
                        timeout=3600)
                failed = sorted(set(re.findall(r"\d+ - (\S+) \((?:Failed|Timeout|SEGFAULT|Subprocess)", r.stdout)))
                status = f"killed ({', '.join(failed)})" if r.returncode != 0 else "SURVIVED"
        finally:
            with open(path, "w") as f:
                f.write(original)
        results.append((m, status, time.time() - t))
        print(f"{m['name']:34} {status} ({time.time() - t:.0f} s)", flush=True)

    lines = ["| mutant | kernel | deliberate bug | file | result (failing tests) |", "|---|---|---|---|---|"]
    for m, status, _ in results:
        lines.append(f"| `{m['name']}` | {m['kernel']} | {m['bug']} | `{m['file'].replace('include/typenet/', '')}` "
                     f"| {status} |")
    table = "\n".join(lines)
    print("\n" + table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    bad = [m["name"] for m, s, _ in results if not s.startswith(("killed", "not run"))]
    if bad:
        print(f"mutate.py: {len(bad)} not killed: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
