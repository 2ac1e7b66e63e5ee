#!/usr/bin/env python3
"""typenet against oneDNN (its fastest per-layer plan), ONNX Runtime and OpenVINO on the seed AlexNet, with
the same weights and inputs, outputs checked first, timed in alternation on a shared machine.

Run it with the interpreter of the venv that bench/peers/make_venv.sh makes (ONNX Runtime and OpenVINO
from PyPI, Debian's PyTorch through --system-site-packages):

    bench/peers/make_venv.sh                       # once: build-bench/peers-venv
    cmake --build build-bench --target bench_compare_onednn
    build-bench/peers-venv/bin/python bench/peers/onnx_peers.py --build build-bench --rounds 3 \\
        --json build-bench/peers.json

What it does:
 1. `bench_compare_onednn --dump DATA` writes typenet's weights (safetensors, PyTorch names), the inputs of
    batch 1 and 64, and typenet's logits and softmax probabilities for them (exec::simd).
 2. The PyTorch twin (tools/torch_zoo.py, seed_alexnet) loads those weights; its logits are checked against
    typenet's; it is exported to ONNX (opset 13, dynamic batch) twice: the whole network (softmax output,
    what every engine is timed on) and the network without its softmax (the logits, for the checks).
 3. ONNX Runtime (CPU provider, intra-op threads = T, inter-op 1, sequential execution, all graph
    optimisations) and OpenVINO (CPU, model reshaped to the static batch, INFERENCE_NUM_THREADS = T, LATENCY
    hint, one stream, INFERENCE_PRECISION_HINT f32) load both files; each engine's logits are checked against
    typenet's: max |diff| <= 1e-4 * max |logit| (the bound of bench_compare_onednn; see its source). A
    mismatch stops the script (exit 1) before any timing.
 4. R rounds. In each round, for each (batch, threads) point, one group: wait until the machine is idle
    (other processes under --idle vCPU over 2 s, at most --max-wait s), then the engines in an order that
    rotates from round to round: ONNX Runtime and OpenVINO (in this process: the median of K passes), and
    `bench_compare_onednn --only BxT --rounds 1` (typenet and oneDNN, alternating in that process, logits
    checked again). The CPU time other processes used during the group is measured (busy time in
    /proc/stat minus this script's and its children's); a group above --max-foreign vCPU is redone, up to
    --tries times, then kept and marked. oneDNN's plan is selected by measurement in the first round's
    bench_compare_onednn of each point and passed with --plan afterwards.
 5. Prints the median over rounds of the per-round medians [min - max] per engine and point, the ratios
    peer time / typenet time (above 1: typenet faster), the load averages and foreign CPU per group;
    --json keeps everything.

--dry-run checks steps 1-3 and times one pass of each engine at batch 1 (no gate); it needs no idle machine.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, HERE)
from measure import busy_seconds, wait_idle  # noqa: E402  (the same idle gate as measure.py)

LOGIT_BOUND = 1e-4  # relative to max |logit|, as in bench_compare_onednn


def own_seconds():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_description():
    info = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if ":" in line:
                k, v = (x.strip() for x in line.split(":", 1))
                info.setdefault(k, v)
            if not line.strip() and info:
                break
    flags = info.get("flags", "").split()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    return f"{info.get('model name', '?')}, family {info.get('cpu family', '?')} model {info.get('model', '?')}, {isa}"


def median_ms(fn, iters):
    fn()  # one untimed pass: the previous engine evicted the caches
    t = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        t.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(t)


def check(name, got, want, against="typenet", bound=LOGIT_BOUND):
    import numpy as np
    diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
    big = float(np.max(np.abs(want)))
    ok = diff <= bound * big and np.isfinite(diff)
    print(f"check {name}: logits max |diff| {diff:.3g} ({diff / big:.2%} of max |logit|) against {against}, max "
          f"|logit| {big:.4g}, bound {bound * big:.3g}: {'pass' if ok else 'FAIL'}", flush=True)
    return {"max_abs_diff": diff, "max_abs_logit": big, "bound": bound * big, "pass": bool(ok)}


def export(data, opset):
    """Loads typenet's weights into the PyTorch twin, checks its logits, writes the two ONNX files."""
    import numpy as np
    import torch
    import torch_zoo
    from export_safetensors import load_safetensors
    full_path, logits_path = os.path.join(data, "seed_alexnet.onnx"), os.path.join(data, "seed_alexnet_logits.onnx")
    model = torch_zoo.build("seed_alexnet").eval()
    model.load_state_dict(load_safetensors(os.path.join(data, "weights.safetensors")))
    logits_model = torch_zoo.logits_module(model)
    x = torch.from_numpy(np.load(os.path.join(data, "input_b1.npy")))
    with torch.inference_mode():
        torch_logits = logits_model(x).numpy()
    result = check("pytorch twin (batch 1)", torch_logits, np.load(os.path.join(data, "logits_b1.npy")))
    if not result["pass"]:
        sys.exit("onnx_peers: the PyTorch twin disagrees with typenet; not exporting")
    if not (os.path.exists(full_path) and os.path.exists(logits_path)):
        for m, path, out in ((model, full_path, "probs"), (logits_model, logits_path, "logits")):
            torch.onnx.export(m, x, path, opset_version=opset, input_names=["input"], output_names=[out],
                              dynamic_axes={"input": {0: "batch"}, out: {0: "batch"}})
        print(f"exported {full_path} and {logits_path} (opset {opset})", flush=True)
    return full_path, logits_path, result


class OrtEngine:
    name = "onnxruntime"

    def __init__(self, path, threads):
        import onnxruntime as ort
        o = ort.SessionOptions()
        o.intra_op_num_threads = threads
        o.inter_op_num_threads = 1
        o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])

    def run(self, x):
        return self.sess.run(None, {"input": x})[0]


class OvEngine:
    name = "openvino"

    def __init__(self, path, threads, batch, image=(3, 227, 227), precision="f32"):
        import openvino as ov
        core = ov.Core()
        model = core.read_model(path)
        model.reshape({"input": [batch, *image]})
        self.compiled = core.compile_model(model, "CPU", {
            "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1,
            "INFERENCE_PRECISION_HINT": precision})
        self.req = self.compiled.create_infer_request()

    def run(self, x):
        self.req.infer({0: x})
        return self.req.get_output_tensor(0).data


def run_typenet_onednn(args, batch, threads, iters, plan):
    cmd = [args.compare, "--only", f"{batch}x{threads}", "--rounds", "1", "--iters1", str(iters), "--iters64",
           str(iters), "--select-rounds", str(args.select_rounds)]
    if plan:
        cmd += ["--plan", plan]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stdout + p.stderr, flush=True)
        sys.exit(f"onnx_peers: {' '.join(cmd)} failed (exit {p.returncode})")
    out = p.stdout
    m = re.search(r"typenet +([\d.]+) ms/img .*\| oneDNN best +([\d.]+) ms/img", out)
    pm = re.search(r"oneDNN plan (\S+ \S+ \S+ \S+ \S+);", out)
    cm = re.search(r"logits agree: max \|typenet - oneDNN\| (\S+), max \|logit\| (\S+)", out)
    if not (m and pm and cm):
        print(out, flush=True)
        sys.exit("onnx_peers: cannot read bench_compare_onednn's output")
    return float(m.group(1)) * batch, float(m.group(2)) * batch, pm.group(1).replace(" ", ","), out, cm.groups()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--data", help="dump folder (default BUILD/peers-data)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--points", default="1x1,1x2,64x1,64x2", help="BATCHxTHREADS list")
    ap.add_argument("--iters1", type=int, default=10)
    ap.add_argument("--iters64", type=int, default=2)
    ap.add_argument("--select-rounds", type=int, default=3, help="bench_compare_onednn --select-rounds")
    ap.add_argument("--idle", type=float, default=0.35, help="max vCPU used by others before a group starts")
    ap.add_argument("--max-foreign", type=float, default=0.35, help="max vCPU used by others during a group")
    ap.add_argument("--max-wait", type=float, default=180, help="seconds to wait for an idle machine")
    ap.add_argument("--tries", type=int, default=2)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--json")
    ap.add_argument("--dry-run", action="store_true", help="checks and one pass per engine at batch 1")
    args = ap.parse_args()
    data = args.data or os.path.join(args.build, "peers-data")
    args.compare = os.path.join(args.build, "bin", "bench_compare_onednn")
    if not os.path.exists(args.compare):
        sys.exit(f"{args.compare} not found: cmake --build {args.build} --target bench_compare_onednn")

    import numpy as np
    import onnxruntime
    import openvino
    import torch
    cpu = cpu_description()
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; {cpu}; load average {loadavg()}; onnxruntime "
          f"{onnxruntime.__version__}, openvino {openvino.__version__}, torch {torch.__version__}", flush=True)

    # 1-2. typenet's files, the PyTorch twin, the ONNX files.
    if not os.path.exists(os.path.join(data, "logits_b64.npy")):
        subprocess.run([args.compare, "--dump", data], check=True)
    full_path, logits_path, twin_check = export(data, args.opset)

    points = [tuple(int(v) for v in p.split("x")) for p in args.points.split(",")]
    if args.dry_run:
        points = [(1, 1)]
    inputs = {b: np.load(os.path.join(data, f"input_b{b}.npy")) for b in sorted({b for b, _ in points})}
    want = {b: np.load(os.path.join(data, f"logits_b{b}.npy")) for b in inputs}

    # 3. Engines, each checked on logits before any timing.
    checks = {"pytorch_twin_b1": twin_check}
    engines = {}
    for b, t in points:
        for make in (lambda path: OrtEngine(path, t), lambda path: OvEngine(path, t, b)):
            e = make(logits_path)
            checks[f"{e.name}_b{b}_t{t}"] = c = check(f"{e.name} batch {b} threads {t}", e.run(inputs[b]), want[b])
            del e
            if not c["pass"]:
                sys.exit(f"onnx_peers: logits differ (batch {b}, {t} threads); not timing")
        engines[(b, t)] = [OrtEngine(full_path, t), OvEngine(full_path, t, b)]

    if args.dry_run:
        for e in engines[(1, 1)]:
            print(f"dry run: {e.name} batch 1, 1 thread: {median_ms(lambda: e.run(inputs[1]), 1):.2f} ms", flush=True)
        tn, dn, plan, _, _ = run_typenet_onednn(args, 1, 1, 1, "direct")
        print(f"dry run: typenet {tn:.2f} ms, oneDNN (direct) {dn:.2f} ms", flush=True)
        return 0

    # 4. Rounds of gated groups.
    plans, groups = {}, []
    names = ["typenet", "onednn", "onnxruntime", "openvino"]
    for r in range(args.rounds):
        for b, t in points:
            iters = args.iters1 if b == 1 else args.iters64
            for attempt in range(1, args.tries + 1):
                pre, waited = wait_idle(args.idle, args.max_wait)
                la0, b0, o0, t0 = loadavg(), busy_seconds(), own_seconds(), time.time()
                ms = {}
                order = [0, 1, 2]  # 0: ORT, 1: OpenVINO, 2: typenet + oneDNN
                order = order[r % 3:] + order[:r % 3]
                log = ""
                for k in order:
                    if k < 2:
                        e = engines[(b, t)][k]
                        ms[e.name] = median_ms(lambda: e.run(inputs[b]), iters)
                    else:
                        ms["typenet"], ms["onednn"], plans[(b, t)], log, _ = run_typenet_onednn(
                            args, b, t, iters, plans.get((b, t)))
                    time.sleep(0.1)
                elapsed = time.time() - t0
                foreign = max(0.0, (busy_seconds() - b0 - (own_seconds() - o0)) / elapsed)
                kept = foreign <= args.max_foreign or attempt == args.tries
                g = {"round": r + 1, "batch": b, "threads": t, "attempt": attempt, "waited_s": round(waited, 1),
                     "pre_load_vcpu": round(pre, 2), "foreign_vcpu": round(foreign, 2), "loadavg_before": la0,
                     "loadavg_after": loadavg(), "utc": time.strftime("%H:%M:%S", time.gmtime(t0)),
                     "order": [["onnxruntime", "openvino", "typenet+onednn"][k] for k in order],
                     "ms_per_batch": ms, "onednn_plan": plans[(b, t)],
                     "kept": kept, "busy_when_kept": foreign > args.max_foreign}
                print(f"## round {r + 1} batch {b} threads {t} attempt {attempt}: waited {waited:.0f} s, foreign "
                      f"{foreign:.2f} vCPU, load {la0} -> {g['loadavg_after']}: "
                      + ", ".join(f"{n} {ms[n]:.2f}" for n in names) + " ms/batch"
                      + ("" if kept else " (dropped)"), flush=True)
                if r == 0 and attempt == 1:
                    print("".join("#   " + line + "\n" for line in log.splitlines() if "oneDNN" in line
                                  or line.startswith("  ")), end="", flush=True)
                groups.append(g)
                if kept:
                    break

    # 5. Summary.
    print(f"\n# {cpu}; {args.rounds} rounds; median over rounds of per-round medians [min - max], ms per image; "
          "ratio = peer time / typenet time (above 1: typenet faster)")
    print("| batch, threads | typenet | oneDNN (fastest plan) | ONNX Runtime | OpenVINO | vs oneDNN | vs ORT "
          "| vs OpenVINO | foreign vCPU (max) |")
    print("|---|---|---|---|---|---|---|---|---|")
    summary = []
    for b, t in points:
        kept = [g for g in groups if g["batch"] == b and g["threads"] == t and g["kept"]]
        row = {"batch": b, "threads": t, "onednn_plan": plans.get((b, t))}
        cells = []
        for n in names:
            v = [g["ms_per_batch"][n] / b for g in kept]
            row[n] = {"median": statistics.median(v), "min": min(v), "max": max(v)}
            cells.append(f"{row[n]['median']:.2f} [{row[n]['min']:.2f} - {row[n]['max']:.2f}]")
        ratios = [row[n]["median"] / row["typenet"]["median"] for n in names[1:]]
        row["ratios"] = dict(zip(names[1:], ratios))
        foreign = max(g["foreign_vcpu"] for g in kept)
        summary.append(row)
        print(f"| {b}, {t} | " + " | ".join(cells) + " | " + " | ".join(f"{x:.3f}x" for x in ratios)
              + f" | {foreign:.2f} |")
    for (b, t), p in plans.items():
        print(f"# oneDNN plan batch {b} threads {t}: {p}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": cpu, "onnxruntime": onnxruntime.__version__, "openvino": openvino.__version__,
                       "torch": torch.__version__, "checks": checks, "groups": groups, "summary": summary,
                       "logit_bound_relative": LOGIT_BOUND}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
