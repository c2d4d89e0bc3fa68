#!/usr/bin/env python3
"""Decode throughput on the GPU next to the memory-bandwidth limit.

For a Llama-3-8B-shaped (or Llama-3.2-1B-shaped) model with synthetic bf16
weights, one sequence: runs ``kiln-run`` on a prebuilt CUDA artifact with a
prompt of ``--context - --decode`` tokens and ``--decode`` decode steps (so
the steps run at contexts up to ``--context``), with and without CUDA-graph
replay, measures the device-to-device copy bandwidth with PyTorch, and
prints a table:

    decode tok/s (graph / no graph), time to first token, and the limit
    bytes-per-token / bandwidth, where bytes-per-token = the weights a
    decode step reads (every layer, the final norm, the LM head; one
    embedding row) + the KV cache it reads at the mean context.

Bandwidth: ``dst.copy_(src)`` of 1 GiB, 20 times, timed with CUDA events;
a copy of N bytes moves 2N bytes through DRAM, so the bandwidth is 2N / t.

Runs on the GPU machine (it has PyTorch and no MLIR): the artifact comes
from ``scripts/device/prepare.sh`` (``kiln-compile --builtin llama3-8b
--target cuda``). The weights are written here, fast: bf16 values from a
table of N(0, 0.02) samples, each tensor a different slice of it (norm
weights 1); 16 GB for the 8B shape.

    python3 benchmarks/gpu_decode_bench.py --kiln-run build/device/kiln-run \\
        --artifact build/device/artifacts-sm_90/llama3-8b.kiln \\
        --work /tmp/kiln-8b [--shape llama3-8b] [--context 512] [--decode 64]
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import time

import numpy as np

SHAPES = {
    # Kiln's built-in `tiny` (for trying the script, e.g. with the fake
    # driver: KILN_LIBCUDA=build/lib/libkiln-fake-cuda.so --bandwidth 1).
    "tiny": dict(hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                 vocab_size=256, max_position_embeddings=2048,
                 rms_norm_eps=1e-5, rope_theta=10000.0,
                 tie_word_embeddings=False),
    # Kiln's built-in `llama3-8b` (kiln-compile --builtin llama3-8b).
    "llama3-8b": dict(hidden_size=4096, intermediate_size=14336,
                      num_hidden_layers=32, num_attention_heads=32,
                      num_key_value_heads=8, head_dim=128, vocab_size=128256,
                      max_position_embeddings=8192, rms_norm_eps=1e-5,
                      rope_theta=500000.0, tie_word_embeddings=False),
    "llama3.2-1b": dict(hidden_size=2048, intermediate_size=8192,
                        num_hidden_layers=16, num_attention_heads=32,
                        num_key_value_heads=8, head_dim=64, vocab_size=128256,
                        max_position_embeddings=8192, rms_norm_eps=1e-5,
                        rope_theta=500000.0, tie_word_embeddings=True),
}


def tensors(cfg):
    """(name, shape) of every weight, in the Hugging Face layout."""
    h, i = cfg["hidden_size"], cfg["intermediate_size"]
    q = cfg["num_attention_heads"] * cfg["head_dim"]
    kv = cfg["num_key_value_heads"] * cfg["head_dim"]
    out = [("model.embed_tokens.weight", (cfg["vocab_size"], h))]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        out += [(p + "input_layernorm.weight", (h,)),
                (p + "self_attn.q_proj.weight", (q, h)),
                (p + "self_attn.k_proj.weight", (kv, h)),
                (p + "self_attn.v_proj.weight", (kv, h)),
                (p + "self_attn.o_proj.weight", (h, q)),
                (p + "post_attention_layernorm.weight", (h,)),
                (p + "mlp.gate_proj.weight", (i, h)),
                (p + "mlp.up_proj.weight", (i, h)),
                (p + "mlp.down_proj.weight", (h, i))]
    out.append(("model.norm.weight", (h,)))
    if not cfg["tie_word_embeddings"]:
        out.append(("lm_head.weight", (cfg["vocab_size"], h)))
    return out


def write_model(work, shape):
    """Writes config.json and model.safetensors (bf16) unless they exist
    for the same shape; returns the config dict."""
    cfg = dict(SHAPES[shape], architectures=["LlamaForCausalLM"],
               model_type="llama", hidden_act="silu", torch_dtype="bfloat16",
               rope_scaling=None, attention_bias=False)
    os.makedirs(work, exist_ok=True)
    cfg_path = os.path.join(work, "config.json")
    st_path = os.path.join(work, "model.safetensors")
    if os.path.exists(cfg_path) and os.path.exists(st_path):
        if json.load(open(cfg_path)) == cfg:
            return cfg
    rng = np.random.default_rng(0)
    table = (rng.standard_normal(1 << 24, dtype=np.float32) * 0.02)
    table = (table.view(np.uint32) >> 16).astype(np.uint16)  # bf16 bits
    one = np.uint16(0x3F80)
    header, offset = {}, 0
    specs = tensors(cfg)
    for name, shp in specs:
        n = int(np.prod(shp))
        header[name] = {"dtype": "BF16", "shape": list(shp),
                        "data_offsets": [offset, offset + 2 * n]}
        offset += 2 * n
    header["__metadata__"] = {"format": "pt",
                              "generator": "kiln gpu_decode_bench.py"}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    t0 = time.perf_counter()
    with open(st_path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for k, (name, shp) in enumerate(specs):
            n = int(np.prod(shp))
            if len(shp) == 1:
                f.write(np.full(n, one, np.uint16).tobytes())
                continue
            start = (k * 7919) % table.size
            while n > 0:
                chunk = table[start:start + n]
                f.write(chunk.tobytes())
                n -= chunk.size
                start = 0
    os.replace(st_path + ".tmp", st_path)
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    print(f"[bench] wrote {offset / 1e9:.1f} GB of bf16 weights in "
          f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return cfg


def copy_bandwidth():
    """DRAM bandwidth of a device-to-device copy, bytes/s (2N per N copied)."""
    import torch
    n = 1 << 30
    src = torch.empty(n, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    reps = 20
    start.record()
    for _ in range(reps):
        dst.copy_(src)
    end.record()
    torch.cuda.synchronize()
    seconds = start.elapsed_time(end) / 1e3
    name = torch.cuda.get_device_name()
    return 2 * n * reps / seconds, name


def decode_bytes(cfg, mean_context):
    """Bytes one decode step reads: weights (one embedding row) + KV."""
    total = 0
    for name, shp in tensors(cfg):
        n = int(np.prod(shp))
        if name == "model.embed_tokens.weight":
            n = shp[1] if not cfg["tie_word_embeddings"] else n
        total += 2 * n
    kv = (2 * cfg["num_hidden_layers"] * cfg["num_key_value_heads"] *
          cfg["head_dim"] * 2 * mean_context)
    return total, kv


def run_kiln(args, work, prompt, graph):
    stats = os.path.join(work, f"stats-{'graph' if graph else 'nograph'}.json")
    cmd = [args.kiln_run, args.artifact, "--weights", work, "--prompt-ids",
           ",".join(map(str, prompt)), "--max-new-tokens", str(args.decode + 1),
           "--max-context", str(args.context), "--greedy", "--quiet",
           "--stats-json", stats, "--cuda-graph" if graph else "--no-cuda-graph"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return json.load(open(stats))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln-run", required=True)
    ap.add_argument("--artifact", required=True)
    ap.add_argument("--work", required=True, help="model directory (kept)")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="llama3-8b")
    ap.add_argument("--context", type=int, default=512)
    ap.add_argument("--decode", type=int, default=64)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--bandwidth", type=float,
                    help="GB/s to use instead of measuring (no PyTorch)")
    args = ap.parse_args()
    if not 0 < args.decode < args.context:
        ap.error("--decode must be in (0, --context)")
    cfg = write_model(args.work, args.shape)
    prompt_len = args.context - args.decode
    prompt = [int(t) for t in
              np.random.default_rng(1).integers(0, cfg["vocab_size"],
                                                prompt_len)]
    if args.bandwidth:
        bandwidth, device = args.bandwidth * 1e9, "(bandwidth given)"
    else:
        bandwidth, device = copy_bandwidth()
    graph = run_kiln(args, args.work, prompt, True)
    plain = run_kiln(args, args.work, prompt, False)
    weights, kv = decode_bytes(cfg, prompt_len + args.decode / 2)
    limit = bandwidth / (weights + kv)
    rows = [
        ("device", device),
        ("model", f"{args.shape}, bf16, 1 sequence"),
        ("prompt / decode steps", f"{prompt_len} / {args.decode} "
                                  f"(context up to {args.context})"),
        ("copy bandwidth (D2D)", f"{bandwidth / 1e9:.0f} GB/s"),
        ("bytes per decode step", f"{weights / 1e9:.2f} GB weights + "
                                  f"{kv / 1e6:.1f} MB KV"),
        ("bandwidth limit", f"{limit:.1f} tok/s"),
        ("kiln decode, CUDA graph", f"{graph['decode_tok_s']:.1f} tok/s "
                                    f"({graph['decode_tok_s'] / limit:.0%} "
                                    f"of the limit)"),
        ("kiln decode, launches", f"{plain['decode_tok_s']:.1f} tok/s"),
        ("time to first token", f"{graph['ttft_s'] * 1e3:.0f} ms "
                                f"({prompt_len} tokens)"),
        ("session", graph.get("session", "")),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(device=device, shape=args.shape,
                           context=args.context, decode=args.decode,
                           bandwidth_bytes_s=bandwidth,
                           weight_bytes=weights, kv_bytes=kv,
                           limit_tok_s=limit, graph=graph, no_graph=plain),
                      f, indent=2)


if __name__ == "__main__":
    main()
