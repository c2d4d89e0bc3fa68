#!/usr/bin/python3
"""Runs ptxas on every kernel of a lowered Kiln GPU module and reports them.

Reads MLIR text after `kiln-opt --kiln-cuda-to-ptx` (the `gpu.binary` ops
whose objects carry PTX as `assembly = "..."`), writes each kernel's PTX,
assembles it with `ptxas -v` for the architecture named in the PTX
(`.target sm_XX`) and prints one row per kernel: registers, spill stores and
loads, stack and shared memory. Exits 1 if ptxas rejects a kernel, or if a
kernel spills and `--no-spills` is given.

  kiln-opt model.mlir --kiln-cuda-tile --kiln-cuda-to-ptx | \\
      /usr/bin/python3 python/ptx_report.py - [--ptxas PATH] [--no-spills]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

BINARY = re.compile(r'gpu\.binary @(\w+)\s.*?assembly = "((?:[^"\\]|\\.)*)"')
INFO = {
    "registers": re.compile(r"Used (\d+) registers"),
    "spill_stores": re.compile(r"(\d+) bytes spill stores"),
    "spill_loads": re.compile(r"(\d+) bytes spill loads"),
    "stack": re.compile(r"(\d+) bytes stack frame"),
    "smem": re.compile(r"(\d+) bytes smem"),
}


def unescape(text):
    """MLIR string escapes: \\XX hex bytes, \\\\ and \\"."""
    out = bytearray()
    i = 0
    raw = text.encode("utf-8")
    while i < len(raw):
        c = raw[i]
        if c == 0x5C and i + 1 < len(raw):  # backslash
            nxt = raw[i + 1:i + 3]
            if re.fullmatch(rb"[0-9A-Fa-f]{2}", nxt):
                out.append(int(nxt, 16))
                i += 3
                continue
            out.append(raw[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return out.decode("utf-8")


def kernels_of(text):
    """[(name, ptx)] of every gpu.binary in MLIR text."""
    return [(m.group(1), unescape(m.group(2))) for m in BINARY.finditer(text)]


def assemble(name, ptx, ptxas, out_dir):
    """Runs `ptxas -v` on one kernel; returns (arch, info dict or None,
    ptxas messages)."""
    target = re.search(r"^\.target (sm_\w+)", ptx, re.M)
    arch = target.group(1) if target else "sm_90"
    path = os.path.join(out_dir, name + ".ptx")
    with open(path, "w") as f:
        f.write(ptx)
    proc = subprocess.run([ptxas, "-v", f"-arch={arch}", path, "-o",
                           os.devnull], capture_output=True, text=True)
    if proc.returncode != 0:
        return arch, None, proc.stderr
    info = {k: int(m.group(1)) if (m := r.search(proc.stderr)) else 0
            for k, r in INFO.items()}
    return arch, info, proc.stderr


HEADER = (f"{'kernel':40} {'arch':6} {'regs':>5} {'spill st':>9} "
          f"{'spill ld':>9} {'stack':>6} {'smem':>6}")


def report(kernels, ptxas, no_spills, out_dir, prefix=""):
    """Prints one row per kernel; returns whether all passed."""
    ok = True
    for name, ptx in kernels:
        arch, info, messages = assemble(name, ptx, ptxas, out_dir)
        if info is None:
            print(f"{prefix}{name:40} {arch:6} ptxas failed:\n{messages}")
            ok = False
            continue
        print(f"{prefix}{name:40} {arch:6} {info['registers']:5d} "
              f"{info['spill_stores']:9d} {info['spill_loads']:9d} "
              f"{info['stack']:6d} {info['smem']:6d}")
        if no_spills and (info["spill_stores"] or info["spill_loads"]):
            print(f"ptx_report: {name} spills registers", file=sys.stderr)
            ok = False
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", help="MLIR file, or - for stdin")
    ap.add_argument("--ptxas", default=shutil.which("ptxas")
                    or "/usr/local/cuda/bin/ptxas")
    ap.add_argument("--no-spills", action="store_true",
                    help="fail if any kernel spills registers")
    ap.add_argument("--keep", help="directory to keep the .ptx files in")
    args = ap.parse_args(argv)
    text = sys.stdin.read() if args.input == "-" else open(args.input).read()
    kernels = kernels_of(text)
    if not kernels:
        print("ptx_report: no gpu.binary with PTX in the input",
              file=sys.stderr)
        return 1
    if not os.path.exists(args.ptxas):
        print(f"ptx_report: ptxas not found at {args.ptxas}", file=sys.stderr)
        return 1
    out_dir = args.keep or tempfile.mkdtemp(prefix="kiln-ptx-")
    os.makedirs(out_dir, exist_ok=True)
    print(HEADER)
    ok = report(kernels, args.ptxas, args.no_spills, out_dir)
    print(f"{len(kernels)} kernels, " + ("all accepted by ptxas" if ok
                                         else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
