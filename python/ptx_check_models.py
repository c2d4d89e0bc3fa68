#!/usr/bin/python3
"""Every GPU kernel of the built-in models through ptxas, for sm_80 and sm_90.

For each model (`kiln-compile --builtin tiny` and `llama3-8b`, the
Llama-3-8B-shaped config), in f32 and in bf16 (f32 accumulation), and each
architecture, lowers the model with
`kiln-opt --kiln-cuda-lower-to-linalg --kiln-cuda-tile --kiln-cuda-to-ptx`,
assembles every kernel with `ptxas -v` and prints a table (registers,
spills, stack, shared memory). Fails if ptxas rejects a kernel or a kernel
spills registers. Needs the CUDA toolkit (ptxas), no GPU. CTest `ptxas`.

  /usr/bin/python3 python/ptx_check_models.py --kiln-compile build/bin/kiln-compile \\
      --kiln-opt build/bin/kiln-opt [--ptxas /usr/local/cuda/bin/ptxas]
"""

import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ptx_report  # noqa: E402

TARGETS = [("sm_80", "+ptx75"), ("sm_90", "+ptx80")]
MODELS = ["tiny", "llama3-8b"]
DTYPES = ["f32", "bf16"]


def lower(args, model, dtype, chip, features):
    llm = subprocess.run([args.kiln_compile, "--builtin", model, "--dtype",
                          dtype, "--emit", "llm", "-o", "-", "--quiet"],
                         capture_output=True, text=True, check=True).stdout
    proc = subprocess.run(
        [args.kiln_opt, "--kiln-cuda-lower-to-linalg", "--kiln-cuda-tile",
         f"--kiln-cuda-to-ptx=chip={chip} features={features}"],
        input=llm, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{model} {dtype} {chip}: kiln-opt failed:\n"
                           + proc.stderr[-3000:])
    return proc.stdout


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln-compile", required=True)
    ap.add_argument("--kiln-opt", required=True)
    ap.add_argument("--ptxas", default="/usr/local/cuda/bin/ptxas")
    args = ap.parse_args(argv)
    if not os.path.exists(args.ptxas):
        print(f"ptx_check_models: no ptxas at {args.ptxas}", file=sys.stderr)
        return 1
    ok, total = True, 0
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'model':15} {ptx_report.HEADER}")
        for model, dtype in [(m, d) for m in MODELS for d in DTYPES]:
            for chip, features in TARGETS:
                try:
                    kernels = ptx_report.kernels_of(
                        lower(args, model, dtype, chip, features))
                except (RuntimeError, subprocess.CalledProcessError) as e:
                    print(f"FAIL: {e}")
                    ok = False
                    continue
                if not kernels:
                    print(f"FAIL: {model} {dtype} {chip}: no kernels")
                    ok = False
                total += len(kernels)
                ok &= ptx_report.report(kernels, args.ptxas, True, tmp,
                                        prefix=f"{model + ' ' + dtype:15} ")
    print(f"{total} kernels for {len(MODELS)} models x {len(DTYPES)} dtypes "
          f"x {len(TARGETS)} architectures: " + ("all accepted by ptxas, no spills" if ok
                               else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
