#!/usr/bin/env python3
"""Kiln against Hugging Face transformers on the same random weights.

For each end-to-end config (python/make_model_dir.py's E2E_CONFIGS, the
same seeds as python/e2e_check.py), writes the model directory, loads it
with transformers' AutoModelForCausalLM (LlamaForCausalLM,
Qwen2ForCausalLM, MistralForCausalLM, Qwen3ForCausalLM; float32, eager
attention, on the CPU so that no TF32 or reduced-precision kernels enter),
decodes greedily with its KV cache for N tokens after a 7-token prompt, and
compares with `kiln-run --greedy --print-ids --logits-out` on a prebuilt
artifact (scripts/device/prepare.sh compiles them: the GPU machine has no
MLIR). Ids must be equal and logits within atol = rtol = 1e-3: both sides
compute in f32 but in different orders over up to 4 layers, and transformers'
f32 kernels are not the float64 oracle that e2e_check.py uses (1e-4 there).

Needs torch and transformers (the GPU machine has them; Debian's python3
on the development machines does not have transformers).

  python3 python/hf_check.py --kiln-run build/device/kiln-run \\
      --prebuilt build/device/artifacts-sm_90 [--configs all] [--tokens 16]
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_model_dir  # noqa: E402
from e2e_check import CONFIG_ORDER, PROMPT_LEN  # noqa: E402


def hf_greedy(model_dir, prompt, tokens):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        model_dir, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    ids, rows = [], []
    with torch.no_grad():
        out = model(torch.tensor([prompt]), use_cache=True)
        for _ in range(tokens):
            logits = out.logits[0, -1].double().numpy()
            tok = int(np.argmax(logits))
            rows.append(logits)
            ids.append(tok)
            out = model(torch.tensor([[tok]]),
                        past_key_values=out.past_key_values, use_cache=True)
    return ids, np.array(rows)


def kiln_greedy(args, name, model_dir, prompt, tokens):
    artifact = os.path.join(args.prebuilt, name + ".kiln")
    logits_path = os.path.join(model_dir, "kiln_logits.npy")
    proc = subprocess.run(
        [args.kiln_run, artifact, "--weights", model_dir, "--prompt-ids",
         ",".join(map(str, prompt)), "--max-new-tokens", str(tokens),
         "--greedy", "--print-ids", "--logits-out", logits_path, "--quiet"],
        capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-1500:])
    ids = [int(t) for t in proc.stdout.strip().splitlines()[-1].split()]
    return ids, np.load(logits_path).astype(np.float64)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln-run", required=True)
    ap.add_argument("--prebuilt", required=True,
                    help="directory with CONFIG.kiln per config")
    ap.add_argument("--configs", default="all")
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--atol", type=float, default=1e-3)
    ap.add_argument("--rtol", type=float, default=1e-3)
    args = ap.parse_args(argv)
    names = CONFIG_ORDER if args.configs == "all" else args.configs.split(",")
    failed = []
    print(f"{'config':18} {'ids':>4} {'max |diff|':>11} {'status':>6}  notes")
    with tempfile.TemporaryDirectory(prefix="kiln-hf-") as tmp:
        for name in names:
            cfg, wdtype, shards = make_model_dir.E2E_CONFIGS[name]
            seed = args.seed + CONFIG_ORDER.index(name)
            model_dir = os.path.join(tmp, name)
            make_model_dir.make_model_dir(model_dir, cfg, wdtype, shards, seed)
            rng = np.random.default_rng(seed)
            prompt = [int(t) for t in rng.integers(
                1, cfg["vocab_size"], PROMPT_LEN)]
            try:
                hf_ids, hf_logits = hf_greedy(model_dir, prompt, args.tokens)
                k_ids, k_logits = kiln_greedy(args, name, model_dir, prompt,
                                              args.tokens)
            except Exception as e:  # report every config, then fail
                print(f"{name:18} {'-':>4} {'-':>11} {'ERROR':>6}  {e}")
                failed.append(name)
                continue
            same = hf_ids == k_ids
            err = float(np.abs(k_logits - hf_logits).max()) \
                if k_logits.shape == hf_logits.shape else float("inf")
            ok = same and np.all(np.abs(k_logits - hf_logits)
                                 <= args.atol + args.rtol * np.abs(hf_logits))
            print(f"{name:18} {'yes' if same else 'NO':>4} {err:11.3g} "
                  f"{'PASS' if ok else 'FAIL':>6}  "
                  + ("" if same else f"hf {hf_ids} kiln {k_ids}"))
            if not ok:
                failed.append(name)
    print(f"{len(names) - len(failed)}/{len(names)} configs agree with "
          "transformers" + (f"; FAILED: {', '.join(failed)}" if failed
                            else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
