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

# Workspace buffers that share a slot must never be live together: a
# buffer lives from the first launch that uses it to the last (the entry's
# results to the end).
for plan in plans:
    uses = {}
    for i, launch in enumerate(plan["launches"]):
        for a in launch["args"]:
            if "memref" in a:
                uses.setdefault(a["memref"]["buffer"], []).append(i)
    for r in plan["results"]:
        uses.setdefault(r["buffer"], []).append(len(plan["launches"]))
    slots = {}
    for b, buf in enumerate(plan["buffers"]):
        if buf.get("workspace"):
            slots.setdefault(buf["slot"], []).append(b)
    for slot, members in slots.items():
        spans = sorted((min(uses[b]), max(uses[b]), b) for b in members
                       if b in uses)
        for (f1, l1, b1), (f2, l2, b2) in zip(spans, spans[1:]):
            if f2 <= l1:
                print(f"OVERLAP {plan['entry']} slot {slot}: buffer {b1} "
                      f"[{f1}, {l1}] and buffer {b2} [{f2}, {l2}]")
                ok = False
    print(f"{plan['entry']}: {sum(1 for b in plan['buffers'] if b.get('workspace'))} "
          f"workspace buffers in {plan['workspace_slots']} slots, "
          + ("no overlapping lifetimes" if ok else "OVERLAPS"))
sys.exit(0 if ok else 1)
