#!/usr/bin/env python3
"""Prefill GEMM throughput of Kiln's CUDA kernels, next to cuBLAS.

For each prebuilt artifact variant (e.g. software-pipeline stages 1..4,
swizzle on and off: scripts/device/prepare.sh compiles them with
``kiln-compile --gpu-pipeline-stages N --gpu-swizzle=...``; the launch plan
is ``NAME.plan.json`` next to each, or one shared ``--plan``), runs a
prefill of M tokens with ``kiln-run --profile-kernels`` and reads the mean
time of each GEMM kernel (a prefill launch with a ``*_proj.weight``
operand: N x K from that weight's shape). TFLOP/s is
2 M N K / time, with M the tokens per prefill launch (kiln-run prefills in
chunks of at most 1024 tokens). cuBLAS: ``torch.matmul`` on bf16 [M, K] x
[K, N], timed with CUDA events (PyTorch on the GPU machine).

    python3 benchmarks/gpu_gemm_bench.py --kiln-run build/device/kiln-run \\
        --artifacts build/device/artifacts-sm_90/gemm \\
        --plan build/device/artifacts-sm_90/gemm/llama3-8b.plan \\
        --work /tmp/kiln-8b --shape llama3-8b --tokens 512,2048

The model directory is written (random bf16 weights) when missing, as
benchmarks/gpu_decode_bench.py does. Without a GPU the script runs against
the fake driver (KILN_LIBCUDA=build/lib/libkiln-fake-cuda.so, shape tiny,
--no-cublas): the numbers are then the fake clock's, the plumbing is real.
"""

import argparse
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_decode_bench as decode  # noqa: E402

PREFILL_CHUNK = 1024  # CudaSession::kPrefillChunk


def kernel_times(stderr, entry):
    """module -> (launches, total ms) of one entry from --profile-kernels."""
    times = {}
    for line in stderr.splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[0] == entry and parts[2].isdigit():
            times[parts[1]] = (int(parts[2]), float(parts[3]))
    return times


def gemm_launches(plan_path):
    """module -> (name, [(N, K), ...]) for the prefill entry's GEMM launches:
    every `*_proj.weight` operand of the kernel (a fused kernel may hold
    several). The logits are left out: the prefill computes them for the
    last position only."""
    plans = json.load(open(plan_path))
    prefill = next(p for p in plans if p["entry"] == "prefill")
    buffers = prefill["buffers"]
    gemms = {}
    for launch in prefill["launches"]:
        if launch["module"] in gemms:
            continue
        names, shapes = [], []
        for arg in launch["args"]:
            view = arg.get("memref")
            if not view or len(view["sizes"]) != 2:
                continue
            binding = buffers[view["buffer"]].get("binding", "")
            if binding.endswith("_proj.weight"):
                names.append(binding.split(".")[-2])
                shapes.append(tuple(int(s) for s in view["sizes"]))
        if shapes:
            gemms[launch["module"]] = ("+".join(names), shapes)
    return gemms


def run_prefill(args, artifact, m):
    cmd = [args.kiln_run, artifact, "--weights", args.work, "--prompt-ids",
           ",".join(["1"] * m), "--max-new-tokens", "1", "--max-context",
           str(m + 1), "--greedy", "--quiet", "--profile-kernels"]
    done = subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    return kernel_times(done.stderr, "prefill")


def cublas_tflops(m, n, k, reps=50):
    import torch
    a = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(k, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(5):
        torch.matmul(a, b)
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        torch.matmul(a, b)
    end.record()
    torch.cuda.synchronize()
    seconds = start.elapsed_time(end) / 1e3 / reps
    return 2 * m * n * k / seconds / 1e12


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln-run", required=True)
    ap.add_argument("--artifacts", required=True,
                    help="folder of NAME.kiln with NAME.plan.json")
    ap.add_argument("--work", required=True, help="model directory (kept)")
    ap.add_argument("--shape", choices=sorted(decode.SHAPES),
                    default="llama3-8b")
    ap.add_argument("--plan", help="launch plan for artifacts without their "
                    "own NAME.plan.json (the variants share kernel names)")
    ap.add_argument("--tokens", default="512,2048")
    ap.add_argument("--no-cublas", action="store_true")
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()
    decode.write_model(args.work, args.shape)
    variants = sorted(glob.glob(os.path.join(args.artifacts, "*.kiln")))
    if not variants:
        ap.error(f"no .kiln artifacts in {args.artifacts}")
    rows, cublas = [], {}
    for artifact in variants:
        name = os.path.basename(artifact)[:-len(".kiln")]
        plan = artifact[:-len(".kiln")] + ".plan.json"
        if not os.path.exists(plan):
            if not args.plan:
                ap.error(f"{plan}: missing (or pass --plan)")
            plan = args.plan
        gemms = gemm_launches(plan)
        for m in (int(t) for t in args.tokens.split(",")):
            times = run_prefill(args, artifact, m)
            m_launch = min(m, PREFILL_CHUNK)
            for module, (proj, shapes) in sorted(gemms.items(),
                                                 key=lambda g: g[1]):
                if module not in times:
                    continue
                launches, total_ms = times[module]
                mean_s = total_ms / launches / 1e3
                flops = sum(2 * m_launch * n * k for n, k in shapes)
                n, k = shapes[0]
                key = (m_launch, n, k)
                if not args.no_cublas and key not in cublas:
                    cublas[key] = cublas_tflops(*key)
                rows.append(dict(variant=name, tokens=m, m=m_launch,
                                 gemm=proj, n=n, k=k, gemms=len(shapes),
                                 mean_us=mean_s * 1e6,
                                 tflops=flops / mean_s / 1e12,
                                 cublas_tflops=cublas.get(key)))
    head = (f"{'variant':<14} {'tokens':>6} {'M':>5} {'gemm':<18} {'N':>6} "
            f"{'K':>6} {'mean us':>9} {'TFLOP/s':>8} {'cuBLAS':>8} {'share':>6}")
    print(head)
    for r in rows:
        cb = r["cublas_tflops"]
        print(f"{r['variant']:<14} {r['tokens']:>6} {r['m']:>5} {r['gemm']:<18} "
              f"{r['n']:>6} {r['k']:>6} {r['mean_us']:>9.1f} "
              f"{r['tflops']:>8.1f} "
              + (f"{cb:>8.1f} {r['tflops'] / cb:>6.0%}" if cb else
                 f"{'-':>8} {'-':>6}"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
