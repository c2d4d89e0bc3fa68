#!/usr/bin/env python3
"""CPU benchmarks of Kiln (issue: AOT compiler and runtime), as a table.

1. Decode tokens/s at batch 1 (f32, greedy) for a ~15M and a ~110M
   parameter LLaMA-shaped model with random weights, Kiln (`kiln-run`)
   against a PyTorch-eager implementation of the same model with a KV cache
   (`torch_eager_decode.py`, Debian's python3-torch with OpenBLAS) on the
   same machine. Both generate the same ids (checked).
2. Kiln's peak resident memory during generation against the budget
   1.2 x (weight bytes + KV-cache bytes) + 64 MiB.
3. `kiln-compile` wall time for the Llama-3-8B-sized built-in config.

Every measurement is the median of --repeat runs. Usage:

    /usr/bin/python3 benchmarks/cpu_bench.py [--build build] [--work DIR]
        [--repeat 3] [--new-tokens 64] [--prompt-len 16] [--json OUT]

Installs python3-torch and libopenblas0-pthread with apt-get when they are
missing (Debian's torch uses the reference BLAS otherwise).
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

import make_model_dir  # noqa: E402

MODELS = ["bench-15m", "bench-110m"]


def ensure_packages():
    missing = []
    for pkg in ["python3-torch", "libopenblas0-pthread"]:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                           capture_output=True, text=True)
        if "install ok installed" not in r.stdout:
            missing.append(pkg)
    if missing:
        print(f"[bench] installing {' '.join(missing)}", file=sys.stderr)
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(sudo + ["apt-get", "update", "-q"], check=True)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-q"] + missing,
                       check=True, env=dict(os.environ,
                                            DEBIAN_FRONTEND="noninteractive"))


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"[bench] failed: {' '.join(cmd)}\n{r.stderr}")
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--work", default="/tmp/kiln-bench")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--skip-8b", action="store_true")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    ensure_packages()
    compile_bin = os.path.join(args.build, "bin", "kiln-compile")
    run_bin = os.path.join(args.build, "bin", "kiln-run")
    os.makedirs(args.work, exist_ok=True)
    prompt = ",".join(str(1 + i) for i in range(args.prompt_len))
    results = {"machine": platform.processor() or platform.machine(),
               "cpus": os.cpu_count(),
               "commit": run(["git", "-C", ROOT, "rev-parse", "--short",
                              "HEAD"]).stdout.strip(),
               "date": time.strftime("%Y-%m-%d"), "models": []}
    for name in args.models.split(","):
        model = os.path.join(args.work, name)
        if not os.path.exists(os.path.join(model, "config.json")):
            print(f"[bench] writing {model}", file=sys.stderr)
            make_model_dir.make_model_dir(
                model, make_model_dir.PRESETS[name], dtype="F32")
        artifact = model + ".kiln"
        run([compile_bin, model, "-o", artifact, "--quiet"])
        # Kiln and PyTorch alternate, so that both see the same machine
        # load (shared machines drift by 2x within minutes).
        kiln, torch_runs = [], []
        ids = None
        for i in range(args.repeat):
            stats = os.path.join(args.work, f"{name}.stats.json")
            r = run([run_bin, artifact, "--weights", model, "--prompt-ids",
                     prompt, "--max-new-tokens", str(args.new_tokens),
                     "--greedy", "--print-ids", "--quiet", "--stats-json",
                     stats])
            ids = r.stdout.split()
            with open(stats) as f:
                kiln.append(json.load(f))
            t = run([sys.executable,
                     os.path.join(ROOT, "benchmarks", "torch_eager_decode.py"),
                     "--model", model, "--prompt-ids", prompt,
                     "--new-tokens", str(args.new_tokens), "--repeat", "1",
                     "--warmup", "1", "--json"])
            torch_runs.append(json.loads(t.stdout.strip().splitlines()[-1]))
        torch = dict(torch_runs[-1])
        for key in ["decode_tok_s", "prefill_s"]:
            torch[key] = statistics.median(t[key] for t in torch_runs)
        med = lambda key: statistics.median(k[key] for k in kiln)  # noqa
        budget = 1.2 * (kiln[0]["weight_bytes"] +
                        kiln[0]["kv_cache_bytes"]) + 64 * 2**20
        results["models"].append({
            "model": name, "params": torch.get("params"),
            "kiln_decode_tok_s": med("decode_tok_s"),
            "kiln_prompt_tok_s": args.prompt_len / med("prefill_s"),
            "kiln_ttft_s": med("ttft_s"),
            "torch_decode_tok_s": torch["decode_tok_s"],
            "torch_threads": torch.get("threads"),
            "kiln_decode_range": [min(k["decode_tok_s"] for k in kiln),
                                  max(k["decode_tok_s"] for k in kiln)],
            "torch_decode_range": [min(t["decode_tok_s"] for t in torch_runs),
                                   max(t["decode_tok_s"] for t in torch_runs)],
            "torch_prompt_tok_s": args.prompt_len / torch["prefill_s"],
            "ids_equal": [int(i) for i in ids] == torch["ids"],
            "peak_rss_mib": max(k["peak_rss_bytes"] for k in kiln) / 2**20,
            "rss_budget_mib": budget / 2**20,
            "decode_allocations": max(k["decode_allocations"] for k in kiln),
        })

    if not args.skip_8b:
        times = []
        for _ in range(args.repeat):
            t = time.time()
            run([compile_bin, "--builtin", "llama3-8b", "-o",
                 os.path.join(args.work, "llama3-8b.kiln"), "--quiet"])
            times.append(time.time() - t)
        results["compile_llama3_8b_s"] = statistics.median(times)

    print(f"Kiln CPU benchmarks ({results['cpus']} CPUs, PyTorch "
          f"{results['models'][0]['torch_threads']} thread(s), Kiln 1 "
          f"thread, commit "
          f"{results['commit']}, {results['date']}; median of {args.repeat})")
    print()
    print("| model | params | Kiln decode tok/s | PyTorch eager decode tok/s "
          "| speedup | Kiln range | PyTorch range | Kiln prompt tok/s | PyTorch prompt tok/s | same ids "
          "| peak RSS MiB | budget MiB | decode allocs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for m in results["models"]:
        speedup = m["kiln_decode_tok_s"] / m["torch_decode_tok_s"]
        ok &= speedup >= 1 and m["peak_rss_mib"] <= m["rss_budget_mib"]
        print(f"| {m['model']} | {m['params'] / 1e6:.1f}M "
              f"| {m['kiln_decode_tok_s']:.1f} | {m['torch_decode_tok_s']:.1f} "
              f"| {speedup:.2f}x "
              f"| {m['kiln_decode_range'][0]:.0f}-{m['kiln_decode_range'][1]:.0f} "
              f"| {m['torch_decode_range'][0]:.0f}-{m['torch_decode_range'][1]:.0f} "
              f"| {m['kiln_prompt_tok_s']:.0f} "
              f"| {m['torch_prompt_tok_s']:.0f} | {m['ids_equal']} "
              f"| {m['peak_rss_mib']:.0f} | {m['rss_budget_mib']:.0f} "
              f"| {m['decode_allocations']} |")
    if "compile_llama3_8b_s" in results:
        t = results["compile_llama3_8b_s"]
        ok &= t < 60
        print(f"\nkiln-compile --builtin llama3-8b (whole pipeline, codegen "
              f"and link): {t:.1f} s (target < 60 s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    print("\nall targets met" if ok else "\nNOT all targets met")


if __name__ == "__main__":
    main()
