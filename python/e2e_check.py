"""End-to-end check of Kiln: compile + run random Llama, Qwen2, Mistral and
Qwen3 models and compare them with the independent float64 oracle
``llama_reference.py``.

For each config (see ``make_model_dir.E2E_CONFIGS``):

1. write a random-weight Hugging Face model directory (``make_model_dir``);
2. pick a 7-token prompt from the config's seed (see "Prompt choice");
3. ``kiln-compile DIR -o DIR/model.kiln --target cpu --dtype f32``;
4. ``kiln-run DIR/model.kiln --weights DIR --prompt-ids ... --max-new-tokens
   N --greedy --print-ids --logits-out DIR/kiln_logits.npy --max-context C
   --seed 0`` (C = prompt + N rounded up to 16, at least 32);
5. compare with ``llama_reference.generate_greedy`` (float64, full
   recomputation every step, so it checks Kiln's KV cache independently):
   the generated ids must be equal, and every logit must satisfy
   ``|kiln - ref| <= atol + rtol * |ref|``.  The logits are compared for
   every step on Kiln's own sequence (teacher forcing the reference on
   Kiln's ids), so a divergence does not hide the logit errors; when ids
   differ the step, both ids and the reference's top-2 margin are printed.

Architecture configs: ``qwen2`` (q/k/v biases, tied embeddings, GQA 4/2),
``mistral`` (GQA 8/2, sliding window 8: the 7-token prompt + 16 tokens reach
position 22, so the window cuts keys off from position 8 on, i.e. in the
decode steps; the prompt fits in the window), ``mistral-w3`` (window 3,
shorter than the prompt, so the prefill is windowed too),
``mistral-nowindow`` (``sliding_window`` null) and ``llama3-rope`` (Llama
GQA 8/2 x 32, rope_theta 500000, ``rope_scaling`` llama3 with factor 8,
low/high_freq_factor 1/8, original_max_position_embeddings 64: of the 16
RoPE frequencies 1 is kept, 2 are interpolated and 13 divided by 8; the
check requires each regime to occur) and ``qwen3`` (per-head q/k RMSNorm
before RoPE, GQA 4/2 with head_dim 32 != hidden 64 / 4 heads, tied
embeddings).
For configs with biases, q/k norms, a window that cuts keys off or RoPE
scaling, the check also computes the reference with that feature switched
off and requires its logits to use > 10x the tolerance ("feature effect" in
the log line), so the config really tests the feature (measured: qwen2
biases 1.8e5x, mistral window 4.2e4x, llama3 rope scaling 2.2e4x, qwen3
q/k norm 9.5e4x).  The qwen3 q/k norm weights are 1 + 0.3 N(0, 1), so
they matter on their own: mutating the PyTorch implementation
(``--torch-as-kiln``) to drop k_norm or q_norm, swap the two weights,
ignore the weights, normalise over all heads instead of per head, or
normalise after RoPE gives tol use 1.7e4..8.9e4 on qwen3 (other configs
unaffected); even its eps 1e-5 instead of 1e-6 gives 1.5.

Narrow compute dtypes (``--dtype bf16`` / ``f16``, f32 accumulation).
Every op rounds its output to the dtype, so the logits carry a random walk
of roundings: about 13 per layer (norms, q/k/v, RoPE, attention, o, the
residual adds, gate/up, SwiGLU, down) plus the final norm, each of relative
size up to the unit roundoff u (2^-9 for bf16, 2^-11 for f16), i.e. a
relative error of about sqrt(30..45) u: 0.011..0.013 for bf16 and 0.003 for
f16.  Per-logit bounds do not fit a random walk (a logit near 0 has a
large relative error), so ``--rel-rms L`` bounds the RMS of the logit
errors by L times the RMS of the logits instead.  Measured (7 configs):
bf16 0.0108..0.0122 on the CPU and with the GPU tiling, f16 0.0013..0.0014;
the CTests use L = 0.03 (bf16) and 0.0075 (f16).  The prompt is chosen with
``--atol`` at bf16 scale (0.05; f16 0.0125) so that greedy ids do not flip
on near-ties; ids must still be equal.

Tolerance (defaults ``--atol 1e-4 --rtol 1e-4``).  Kiln computes in f32
(BF16/F16 weight files are upcast exactly to f32, as the reference does),
the oracle in float64, so the difference is Kiln's f32 rounding only.  f32
unit roundoff is 6e-8; a dot product over n <= 320 terms has a typical
relative error ~sqrt(n) * 6e-8 ~ 1e-6 (worst case n * 6e-8 ~ 2e-5); RMSNorm
renormalises after every layer so errors do not grow much over 2-3 layers,
and they do not compound over the 16 decode steps (the cached K/V of a
position are computed once from the same prefix).  With logits up to ~40
(tied configs) that is an expected ~1e-5..4e-5 absolute, against a
tolerance of 1e-4 + 1e-4 |ref| = 1e-4..4e-3.  Measured (16 tokens, all
configs): Kiln f32 2.2e-6..1.5e-5 (tol use <= 0.08); the PyTorch-eager f32
KV-cache implementation (``--torch-as-kiln``) 2.3e-6..1.6e-5 (tol use <=
0.09).  That leaves >= 5x headroom for other summation orders and
vectorised exp/rsqrt approximations, while the bugs this is meant to catch
(RoPE convention or theta, attention mask or scale, GQA head mapping, lost
KV cache rows, residual/MLP mistakes, tied vs untied head) move logits by
0.1 to 10 (checked by mutating the PyTorch implementation: tol use > 1000).
An rms_norm_eps of 1e-5 instead of 1e-6 moves them by only ~6e-5 and is not
caught.  1e-3/1e-3 (``--atol/--rtol``) is the looser fallback if a future
Kiln change (e.g. fast-math) legitimately adds error.  The "tol use" column
(``max |kiln - ref| / (atol + rtol |ref|)``, must be <= 1) shows the
headroom.

Prompt choice: random models have near-ties, where a correct f32
implementation could legitimately pick the other token.  The prompt is
drawn from ``default_rng([seed, attempt])`` for attempt = 0, 1, ...; the
first one whose reference top-2 margin at every step exceeds twice the
largest legal error of the two logits (``2 * (2 atol + rtol (|l1| + |l2|))``)
is used, so ids can only differ if the logits are out of tolerance.

Usage::

    e2e_check.py --kiln-compile build/bin/kiln-compile \\
                 --kiln-run build/bin/kiln-run [--work DIR]
                 [--configs all|NAME,NAME...] [--tokens 16]
                 [--atol 1e-4] [--rtol 1e-4] [--seed 0] [--torch-as-kiln]

``--torch-as-kiln`` runs ``benchmarks/torch_eager_decode.py`` (f32, KV cache)
in place of Kiln, to check this driver and its tolerance without Kiln.
Exit status 1 if any config fails.
"""

import argparse
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
import llama_reference  # noqa: E402
import make_model_dir  # noqa: E402

# Config i uses seed base + i: append new configs at the end.
CONFIG_ORDER = ["mha", "gqa", "tied", "untied", "headdim", "odd", "bf16",
                "f16", "sharded", "qwen2", "mistral", "mistral-w3",
                "mistral-nowindow", "llama3-rope", "qwen3"]
PROMPT_LEN = 7
MAX_PROMPT_ATTEMPTS = 64
REL_FLOOR = 0.1  # "max rel err" only over |ref| >= this (avoid 0/0)
MIN_FEATURE_EFFECT = 10.0  # tol use of the reference without the feature


def feature_effect(model, prompt, ref_ids, ref_logits, atol, rtol):
    """(feature name, tol use of the reference with the architecture's
    feature switched off, teacher-forced on the reference's ids) or None
    when the model has no such feature (or the window never cuts)."""
    off = copy.copy(model)
    if model.rope_scaling is not None:
        what = f"{model.rope_scaling['rope_type']} rope scaling"
        off.rope_scaling = None
    elif model.qkv_bias:
        what = "q/k/v biases"
        off.w = {k: v for k, v in model.w.items()}
        for k in off.w:
            if k.endswith("_proj.bias"):
                off.w[k] = np.zeros_like(off.w[k])
    elif model.qk_norm:
        what = "q/k norm"
        off.qk_norm = False
    elif model.sliding_window is not None and \
            len(prompt) + len(ref_ids) - 1 > model.sliding_window:
        what = f"sliding window {model.sliding_window}"
        off.sliding_window = None
    else:
        return None
    n = len(ref_ids)
    full = llama_reference.forward(off, list(prompt) + [
        int(t) for t in ref_ids[:n - 1]])[len(prompt) - 1:]
    ref = ref_logits.astype(np.float64)
    use = np.abs(full - ref) / (atol + rtol * np.abs(ref))
    return what, float(use.max())


def choose_prompt(model, seed, tokens, atol, rtol, prompt_len=PROMPT_LEN):
    """Returns (prompt, ref ids, ref logits, attempt, margin ratio,
    reference seconds of the chosen prompt)."""
    best = None
    for attempt in range(MAX_PROMPT_ATTEMPTS):
        rng = np.random.default_rng([seed, attempt])
        prompt = [int(t) for t in rng.integers(0, model.vocab_size,
                                                prompt_len)]
        t0 = time.perf_counter()
        ids, logits = llama_reference.generate_greedy(model, prompt, tokens)
        dt = time.perf_counter() - t0
        top2 = np.sort(logits.astype(np.float64), axis=-1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
        need = 2.0 * (2 * atol + rtol * np.abs(top2).sum(axis=-1))
        ratio = float(np.min(margin / need))
        if best is None or ratio > best[4]:
            best = (prompt, ids, logits, attempt, ratio, dt)
        if ratio >= 1.0:
            break
    return best


def run_kiln(args, name, model_dir, prompt, tokens, max_context):
    """Compiles and runs Kiln; returns (ids list, logits array) or raises
    RuntimeError with a message."""
    artifact = os.path.join(model_dir, "model.kiln")
    logits_path = os.path.join(model_dir, "kiln_logits.npy")
    for p in (artifact, logits_path):
        if os.path.exists(p):
            os.remove(p)
    if args.prebuilt:
        # Compiled elsewhere (the GPU machine has no MLIR): the config's
        # artifact, written by scripts/device/prepare.sh.
        artifact = os.path.join(args.prebuilt, name + ".kiln")
    cmds = [
        ("compile", [args.kiln_compile, model_dir, "-o", artifact,
                     "--target", args.target, "--dtype", args.dtype]
         + (["--arch", args.arch] if args.target == "cuda" else [])
         + args.compile_flag),
        ("run", [args.kiln_run, artifact, "--weights", model_dir,
                 "--prompt-ids", ",".join(map(str, prompt)),
                 "--max-new-tokens", str(tokens), "--greedy", "--print-ids",
                 "--logits-out", logits_path, "--max-context",
                 str(max_context), "--seed", "0"] + args.run_flag),
    ]
    if args.prebuilt:
        cmds = cmds[1:]
    out = ""
    for what, cmd in cmds:
        if args.verbose:
            print("  $ " + " ".join(cmd))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=args.timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{what} timed out after {args.timeout} s")
        except OSError as e:
            raise RuntimeError(f"{what}: cannot run {cmd[0]}: {e}")
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-8:]
            raise RuntimeError(f"{what} exited {proc.returncode}:\n    "
                               + "\n    ".join(tail))
        if args.verbose and proc.stderr.strip():
            print("    " + proc.stderr.strip().replace("\n", "\n    "))
        out = proc.stdout
    lines = [l for l in out.strip().splitlines() if l.strip()]
    if not lines:
        raise RuntimeError("kiln-run printed no ids on stdout")
    try:
        ids = [int(t) for t in lines[-1].split()]
    except ValueError:
        raise RuntimeError(f"cannot parse ids from stdout line {lines[-1]!r}")
    if not os.path.exists(logits_path):
        raise RuntimeError(f"kiln-run wrote no {logits_path}")
    logits = np.load(logits_path)
    return ids, logits


def run_torch(model_dir, prompt, tokens, max_context):
    sys.path.insert(0, os.path.join(os.path.dirname(_HERE), "benchmarks"))
    import torch_eager_decode as ted
    model = ted.load_model(model_dir, max_context)
    ids, rows, _, _ = ted.generate(model, prompt, tokens, keep_logits=True)
    return ids, np.array(rows, np.float32)


def check_config(args, name, index):
    cfg, wdtype, shards = make_model_dir.E2E_CONFIGS[name]
    seed = args.seed + index
    model_dir = os.path.join(args.work, name)
    make_model_dir.make_model_dir(model_dir, cfg, wdtype, shards, seed)
    model = llama_reference.load_model(model_dir)
    tokens = args.tokens
    prompt, ref_ids, ref_logits, attempt, mratio, ref_s = choose_prompt(
        model, seed, tokens, args.atol, args.rtol, args.prompt_len)
    max_context = min(max(32, -(-(args.prompt_len + tokens) // 16) * 16),
                      model.max_position_embeddings)
    row = dict(config=name, wdtype=wdtype, layers=model.num_layers,
               heads=f"{model.num_heads}/{model.num_kv_heads}x"
                     f"{model.head_dim}",
               ids_equal="-", abs_err=float("nan"), rel_err=float("nan"),
               tol_use=float("nan"), margin=float(
                   llama_reference.top2_margin(ref_logits).min()),
               ref_s=ref_s, status="FAIL", notes=[])
    if mratio < 1.0:
        row["notes"].append(f"no prompt with a safe margin in "
                            f"{MAX_PROMPT_ATTEMPTS} attempts (best ratio "
                            f"{mratio:.2f}); near-tie flips are possible")
    effect = feature_effect(model, prompt, ref_ids, ref_logits, args.atol,
                            args.rtol)
    untested = False  # the config does not test its feature
    if effect and effect[1] <= MIN_FEATURE_EFFECT:
        untested = True
        row["notes"].append(f"the reference without {effect[0]} uses only "
                            f"{effect[1]:.3g}x the tolerance (<= "
                            f"{MIN_FEATURE_EFFECT:g}): the config does not "
                            "test that feature")
    regimes = ""
    if model.rope_scaling is not None:
        hml = llama_reference.llama3_regimes(model.head_dim, model.rope_theta,
                                             model.rope_scaling)
        regimes = (f"; rope frequencies high/medium/low "
                   f"{hml[0]}/{hml[1]}/{hml[2]}")
        if min(hml) == 0:
            untested = True
            row["notes"].append(f"llama3 rope scaling: frequency regimes "
                                f"high/medium/low {hml[0]}/{hml[1]}/{hml[2]}"
                                f": not all three occur")
    print(f"[{name}] {model.architecture}, seed {seed}, prompt {prompt} "
          f"(attempt {attempt}), {tokens} tokens, max-context {max_context}, "
          f"reference {ref_s:.3f} s" + regimes
          + (f"; feature effect: without {effect[0]} the reference uses "
             f"{effect[1]:.3g}x the tolerance" if effect else ""))
    t0 = time.perf_counter()
    try:
        if args.torch_as_kiln:
            ids, logits = run_torch(model_dir, prompt, tokens, max_context)
        else:
            ids, logits = run_kiln(args, name, model_dir, prompt, tokens,
                                   max_context)
    except RuntimeError as e:
        row["status"] = "ERROR"
        row["notes"].append(str(e))
        return row
    row["sut_s"] = time.perf_counter() - t0
    if logits.ndim != 2 or logits.shape != (len(ids), model.vocab_size):
        row["notes"].append(f"logits shape {logits.shape}, expected "
                            f"({len(ids)}, {model.vocab_size})")
        return row
    if len(ids) != tokens:
        row["notes"].append(f"kiln generated {len(ids)} ids, expected "
                            f"{tokens}")
    n = min(len(ids), tokens)
    ids_equal = len(ids) == tokens and all(
        int(a) == int(b) for a, b in zip(ids, ref_ids))
    row["ids_equal"] = "yes" if ids_equal else "NO"
    if ids_equal:
        cmp_ref = ref_logits.astype(np.float64)
    else:
        for i in range(n):
            if int(ids[i]) != int(ref_ids[i]):
                srt = np.sort(ref_logits[i].astype(np.float64))
                row["notes"].append(
                    f"ids differ first at step {i}: kiln {ids[i]}, ref "
                    f"{int(ref_ids[i])}; ref top-2 margin {srt[-1] - srt[-2]:.3g}"
                    f", kiln logit of ref id {logits[i, int(ref_ids[i])]:.6g}"
                    f" vs of its own {logits[i, int(ids[i])]:.6g}")
                break
        # Reference logits on Kiln's own sequence (teacher forcing).
        full = llama_reference.forward(model, list(prompt) + [
            int(t) for t in ids[:n - 1]])
        cmp_ref = full[args.prompt_len - 1:args.prompt_len - 1 + n]
    diff = np.abs(logits[:n].astype(np.float64) - cmp_ref[:n])
    big = np.abs(cmp_ref[:n]) >= REL_FLOOR
    row["abs_err"] = float(diff.max())
    row["rel_err"] = float((diff[big] / np.abs(cmp_ref[:n][big])).max()) \
        if big.any() else 0.0
    use = diff / (args.atol + args.rtol * np.abs(cmp_ref[:n]))
    row["tol_use"] = float(use.max())
    if args.rel_rms:
        # Narrow compute dtypes: every op rounds its output, so the error is
        # a random walk over the roundings; bound its size relative to the
        # logits instead of every element (see --rel-rms).
        rel_rms = float(np.sqrt(np.mean((logits[:n] - cmp_ref[:n]) ** 2)) /
                        np.sqrt(np.mean(cmp_ref[:n] ** 2)))
        row["tol_use"] = rel_rms / args.rel_rms
        use = np.zeros_like(use)
    if not np.all(np.isfinite(logits[:n])):
        row["notes"].append("kiln logits contain NaN/inf")
    elif row["tol_use"] > 1.0:
        step, col = np.unravel_index(int(np.argmax(use)), use.shape)
        row["notes"].append(
            f"logits out of tolerance: worst at step {step}, id {col}: kiln "
            f"{logits[step, col]:.7g}, ref {cmp_ref[step, col]:.7g}")
    if ids_equal and row["tol_use"] <= 1.0 and not row["notes"]:
        row["status"] = "PASS"
    elif ids_equal and row["tol_use"] <= 1.0 and mratio < 1.0 and \
            not untested:
        row["status"] = "PASS"
    return row


def print_table(rows, args):
    head = ["config", "weights", "layers", "heads", "ids equal",
            "max abs err", "max rel err", "tol use", "min margin", "ref s",
            "status"]
    body = []
    for r in rows:
        body.append([r["config"], r["wdtype"], str(r["layers"]), r["heads"],
                     r["ids_equal"], f"{r['abs_err']:.3g}",
                     f"{r['rel_err']:.3g}", f"{r['tol_use']:.3g}",
                     f"{r['margin']:.3g}", f"{r['ref_s']:.3f}", r["status"]])
    widths = [max(len(h), *(len(b[i]) for b in body))
              for i, h in enumerate(head)]
    fmt = "  ".join("{:<%d}" % w for w in widths)
    print()
    print(f"tolerance: |kiln - ref| <= {args.atol:g} + {args.rtol:g} * |ref| "
          f"(tol use <= 1); rel err over |ref| >= {REL_FLOOR:g}; min margin "
          f"= reference top-2 margin; ref s = reference time for "
          f"{args.tokens} tokens")
    print(fmt.format(*head))
    print(fmt.format(*["-" * w for w in widths]))
    for b in body:
        print(fmt.format(*b))
    for r in rows:
        for note in r["notes"]:
            print(f"{r['config']}: {note}")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Kiln end-to-end check against "
                                 "the float64 Llama/Qwen2/Mistral/Qwen3 "
                                 "reference")
    ap.add_argument("--kiln-compile", help="path of kiln-compile")
    ap.add_argument("--kiln-run", help="path of kiln-run")
    ap.add_argument("--work", help="work directory (kept); default: a "
                    "temporary directory, removed at the end")
    ap.add_argument("--configs", default="all",
                    help="comma list of " + ",".join(CONFIG_ORDER) + " or all")
    ap.add_argument("--tokens", type=int, default=16,
                    help="new tokens per config (default 16)")
    ap.add_argument("--prompt-len", type=int, default=PROMPT_LEN,
                    help="prompt tokens (default %(default)s; long prompts "
                    "make attention walk several key tiles and splits)")
    ap.add_argument("--run-flag", action="append", default=[],
                    help="extra kiln-run flag (repeatable), e.g. "
                    "--run-flag=--no-cuda-graph")
    ap.add_argument("--dtype", choices=["f32", "bf16", "f16"], default="f32",
                    help="compute dtype for kiln-compile (default f32; the "
                    "narrow ones need their own --atol/--rtol)")
    ap.add_argument("--rel-rms", type=float, default=0.0,
                    help="instead of --atol/--rtol per logit, require the "
                    "RMS of the logit errors to be at most this fraction of "
                    "the RMS of the logits (for --dtype bf16/f16)")
    ap.add_argument("--atol", type=float, default=1e-4)
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0,
                    help="base seed (config i uses seed + i)")
    ap.add_argument("--timeout", type=int, default=600,
                    help="seconds per kiln command")
    ap.add_argument("--target", choices=["cpu", "cuda"], default="cpu",
                    help="kiln-compile --target (cuda needs a GPU to run)")
    ap.add_argument("--arch", default="sm_90",
                    help="with --target cuda: kiln-compile --arch")
    ap.add_argument("--compile-flag", action="append", default=[],
                    help="extra kiln-compile flag (repeatable), e.g. "
                    "--compile-flag=--gpu-tiling-on-cpu")
    ap.add_argument("--prebuilt", help="directory with a precompiled "
                    "CONFIG.kiln per config (no kiln-compile run)")
    ap.add_argument("--torch-as-kiln", action="store_true",
                    help="test benchmarks/torch_eager_decode.py instead of "
                    "Kiln (checks the driver without Kiln)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)

    names = []
    for part in args.configs.split(","):
        part = part.strip()
        if not part:
            continue
        if part == "all":
            names += CONFIG_ORDER
        elif part in make_model_dir.E2E_CONFIGS:
            names.append(part)
        else:
            ap.error(f"unknown config {part!r}; choose from "
                     f"{','.join(CONFIG_ORDER)} or all")
    names = list(dict.fromkeys(names))
    if not names:
        ap.error("no configs selected")
    if args.tokens < 1:
        ap.error("--tokens must be >= 1")
    if not args.torch_as_kiln:
        for flag in ("kiln_compile", "kiln_run"):
            if flag == "kiln_compile" and args.prebuilt:
                continue
            path = getattr(args, flag)
            if not path:
                ap.error(f"--{flag.replace('_', '-')} is required (or "
                         "--torch-as-kiln)")
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                resolved = shutil.which(path)
                if not resolved:
                    ap.error(f"--{flag.replace('_', '-')}: {path} is not an "
                             "executable")
                setattr(args, flag, resolved)
            else:
                setattr(args, flag, os.path.abspath(path))
    tmp = None
    if args.work:
        os.makedirs(args.work, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="kiln-e2e-")
        args.work = tmp.name
    rows = []
    try:
        for name in names:
            rows.append(check_config(args, name, CONFIG_ORDER.index(name)))
    finally:
        if tmp:
            tmp.cleanup()
    print_table(rows, args)
    failed = [r["config"] for r in rows if r["status"] != "PASS"]
    print()
    print(f"{len(rows) - len(failed)}/{len(rows)} configs passed"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
