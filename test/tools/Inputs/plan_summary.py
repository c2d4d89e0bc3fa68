"""Prints a launch plan (kiln-compile --emit plan) compactly, one line per
symbol, buffer kind, launch and result, for FileCheck."""
import json
import sys

for plan in json.load(sys.stdin):
    print(f"entry {plan['entry']}")
    for i, s in enumerate(plan["symbols"]):
        dim = f" dim {s['dim']}" if "dim" in s else ""
        print(f"  s{i} = {s['binding']}{dim}")
    workspace = [b for b in plan["buffers"] if b.get("workspace")]
    print(f"  buffers: {len(plan['buffers']) - len(workspace)} bound, "
          f"{len(workspace)} workspace")
    for launch in plan["launches"]:
        args = []
        for a in launch["args"]:
            if "memref" in a:
                m = a["memref"]
                args.append(f"buf{m['buffer']}[{m['offset']}; "
                            f"{', '.join(m['sizes'])}]")
            elif "index" in a:
                args.append(a["index"])
            else:
                args.append(f"f32 {a.get('f32', hex(a['f32_bits']))}")
        print(f"  launch {launch['module']} grid ({', '.join(launch['grid'])})"
              f" block ({', '.join(map(str, launch['block']))}) "
              f"args {' | '.join(args)}")
    for r in plan["results"]:
        print(f"  result buf{r['buffer']} sizes ({', '.join(r['sizes'])})")
