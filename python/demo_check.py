#!/usr/bin/python3
"""Checks the demo model end to end: Kiln's text equals the numpy reference's.

Compiles models/kiln-demo with kiln-compile, generates from a text prompt
with `kiln-run --prompt ... --greedy` (the runtime's C++ tokenizer, the
compiled CPU kernels, the KV cache), and compares with an independent path:
the prompt encoded by the pure-python BPE encoder of
python/train_demo_model.py, greedy decoding with python/llama_reference.py
(float64, no KV cache, until the end-of-sequence token or the token limit),
and the ids decoded back to text. The generated ids and the text must be
equal; the logits must agree within atol = rtol = 1e-4 (the bf16 weights
are exact in both; Kiln computes in f32, whose rounding over 4 layers of
width 256 stays near 1e-5 on logits of magnitude ~10).

  python/demo_check.py --kiln-compile build/bin/kiln-compile \\
      --kiln-run build/bin/kiln-run [--prompt TEXT] [--max-new-tokens N]
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import llama_reference as ref  # noqa: E402
from train_demo_model import EOS, DemoTokenizer  # noqa: E402

DEFAULT_PROMPT = "The LORD is my shepherd"


def run(cmd, what):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        sys.exit(f"demo_check: {what} exited {proc.returncode}:\n"
                 + proc.stderr[-2000:])
    return proc.stdout


def reference_generate(model, prompt_ids, max_new_tokens, eos_id):
    seq, new, rows = list(prompt_ids), [], []
    for _ in range(max_new_tokens):
        logits = ref.forward(model, seq)[-1]
        tok = int(np.argmax(logits))
        rows.append(logits)
        new.append(tok)
        seq.append(tok)
        if tok == eos_id:
            break
    return new, np.array(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln-compile", required=True)
    ap.add_argument("--kiln-run", required=True)
    ap.add_argument("--model", default=os.path.join(HERE, "..", "models",
                                                    "kiln-demo"))
    ap.add_argument("--prompt", default=DEFAULT_PROMPT)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--atol", type=float, default=1e-4)
    ap.add_argument("--rtol", type=float, default=1e-4)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        artifact = os.path.join(tmp, "demo.kiln")
        logits_path = os.path.join(tmp, "logits.npy")
        run([args.kiln_compile, args.model, "-o", artifact, "--quiet"],
            "kiln-compile")
        out = run([args.kiln_run, artifact, "--weights", args.model,
                   "--prompt", args.prompt, "--greedy", "--max-new-tokens",
                   str(args.max_new_tokens), "--print-ids", "--logits-out",
                   logits_path, "--quiet"], "kiln-run")
        kiln_logits = np.load(logits_path)
    # stdout: the prompt and the streamed text, a newline, then the ids.
    text_part, _, ids_line = out.rstrip("\n").rpartition("\n")
    kiln_ids = [int(t) for t in ids_line.split()]
    kiln_text = text_part

    tok = DemoTokenizer.from_json(os.path.join(args.model, "tokenizer.json"))
    model = ref.load_model(args.model)
    prompt_ids = tok.encode(args.prompt, True)
    ref_ids, ref_logits = reference_generate(
        model, prompt_ids, args.max_new_tokens, tok.special_ids[EOS])
    # kiln-run echoes the prompt and streams the continuation after it.
    ref_text = tok.decode(prompt_ids + ref_ids, True)

    margin = ref.top2_margin(ref_logits).min()
    print(f"prompt: {args.prompt!r} ({len(prompt_ids)} tokens)")
    print(f"kiln:      {kiln_text!r}")
    print(f"reference: {ref_text!r}")
    failures = []
    if kiln_ids != ref_ids:
        first = next((i for i, (a, b) in enumerate(zip(kiln_ids, ref_ids))
                      if a != b), min(len(kiln_ids), len(ref_ids)))
        failures.append(f"ids differ from step {first}: kiln {kiln_ids} "
                        f"reference {ref_ids}")
    if kiln_text != ref_text:
        failures.append("texts differ")
    if kiln_logits.shape != ref_logits.shape:
        failures.append(f"logits shape {kiln_logits.shape} vs "
                        f"{ref_logits.shape}")
    else:
        err = np.abs(kiln_logits - ref_logits)
        bound = args.atol + args.rtol * np.abs(ref_logits)
        print(f"{len(ref_ids)} tokens; max |logit diff| {err.max():.3g} "
              f"(bound {args.atol:g} + {args.rtol:g}|ref|); min top-2 margin "
              f"{margin:.3g}")
        if (err > bound).any():
            failures.append(f"logits differ by up to {err.max():.3g}")
    if len(ref_ids) < 16:
        failures.append(f"only {len(ref_ids)} tokens before the end of "
                        "sequence: choose a prompt that makes a passage")
    for f in failures:
        print("FAIL: " + f)
    print("demo_check: " + ("FAILED" if failures else "passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
