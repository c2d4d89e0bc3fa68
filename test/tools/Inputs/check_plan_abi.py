"""Checks that every launch of the launch plans passes exactly the
parameters its kernel's PTX entry declares (per memref 3 + 2 x rank, one
per index or f32), and that their widths agree (memref slots and indices
are 64-bit; f32 is 32-bit).

  check_plan_abi.py PLAN.json GPU.mlir
"""
import json
import re
import sys

sys.path.insert(0, sys.argv[3]) if len(sys.argv) > 3 else None
from ptx_report import kernels_of  # noqa: E402

plans = json.load(open(sys.argv[1]))
ptx = dict(kernels_of(open(sys.argv[2]).read()))
ok, count = True, 0
for plan in plans:
    for i, launch in enumerate(plan["launches"]):
        expected = []
        for a in launch["args"]:
            if "memref" in a:
                rank = len(a["memref"]["sizes"])
                expected += ["u64"] * (3 + 2 * rank)
            elif "index" in a:
                expected.append("u64")
            else:
                expected.append("f32")
        text = ptx[launch["module"]]
        m = re.search(r"\.entry " + re.escape(launch["function"]) +
                      r"\((.*?)\)", text, re.S)
        params = re.findall(r"\.param \.(\w+)", m.group(1)) if m else None
        got = ["f32" if p in ("f32", "b32") else "u64" for p in params or []]
        if params is None or got != expected:
            print(f"MISMATCH {plan['entry']} launch {i} {launch['module']}: "
                  f"plan {expected} kernel {params}")
            ok = False
        count += 1
print(f"{count} launches " + ("match their kernels' parameters" if ok
                              else "do NOT match"))
sys.exit(0 if ok else 1)
