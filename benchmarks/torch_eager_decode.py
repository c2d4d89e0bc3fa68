"""PyTorch-eager baseline: Llama/Qwen2/Mistral/Qwen3 greedy decoding with a KV
cache.

A self-contained re-implementation of Hugging Face's ``LlamaForCausalLM``
(``modeling_llama.py`` style: ``LlamaRMSNorm``, ``LlamaRotaryEmbedding``
with ``rotate_half``, ``LlamaAttention`` with GQA ``repeat_kv``,
``LlamaMLP``, ``LlamaDecoderLayer``) for torch >= 1.13, without the
``transformers`` package.  The KV cache is preallocated per layer as
``[1, num_kv_heads, max_context, head_dim]`` and written in place.
``Qwen2ForCausalLM`` is the same with q/k/v_proj biases;
``MistralForCausalLM`` the same with a ``sliding_window`` W (when not null):
query position p reads cached key j iff ``p - W < j <= p``, in the prefill
and in every decode step (the cache keeps all positions; the window is a
mask over it); ``Qwen3ForCausalLM`` the same (no biases) with
``Qwen3RMSNorm`` modules ``q_norm``/``k_norm`` over head_dim applied to every
query and key head after the projection and before RoPE (``head_dim`` must
be in config.json, ``attention_bias`` and ``use_sliding_window`` false).
``rope_scaling`` of type ``llama3`` (key ``rope_type``, or
``type`` in older configs; HF ``_compute_llama3_parameters``) rescales
RoPE's inv_freq per frequency, written here in terms of r = L * inv_freq /
(2 pi) = L / wavelength (L = ``original_max_position_embeddings``): r <
``low_freq_factor``: inv_freq / ``factor``; r > ``high_freq_factor``:
unchanged; otherwise interpolated with s = (r - low) / (high - low) as
inv_freq * ((1 - s) / factor + s).  null or type ``default`` is plain RoPE;
other types are rejected.

Weights are read from a Hugging Face model directory (``config.json`` +
``model.safetensors`` or sharded) with ``python/safetensors_np.py`` and
computed in float32 (F16/BF16 files are upcast), batch 1, under
``torch.inference_mode()``.

Protocol: an untimed warm-up (prefill + 2 decode steps), then
prefill of the prompt (only the last position goes through the LM head, as
in Kiln) and the greedy choice of the first new token (``ttft_s`` =
``prefill_s``), then ``new_tokens - 1`` decode steps, one token each.
``decode_tok_s = (new_tokens - 1) / decode_s``; prompt tokens/s =
``prompt_tokens / prefill_s``.  With ``--repeat R`` the timed generation
runs R times and the median prefill and decode times are reported.

Note: torch's CPU matmuls go through the system BLAS.  Debian's
``python3-torch`` links ``libblas.so.3``, which is the slow reference BLAS
unless an optimised one (``libopenblas0-pthread``) is installed; the
timing is only a meaningful baseline with the latter.

CLI::

    torch_eager_decode.py --model DIR [--prompt-len 16] [--new-tokens 64]
        [--threads T] [--seed S] [--prompt-ids 1,2,3] [--repeat R] [--json]
        [--check-against-reference]

``--check-against-reference`` checks this implementation against
``python/llama_reference.py`` (float64, no KV cache): greedy ids must be
equal for max(16, --new-tokens) tokens and the logits close (|diff| <=
1e-3 + 1e-3 |ref|).  Without ``--model`` it runs on a temporary ``tiny``
preset model.
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(_HERE), "python"))
import safetensors_np  # noqa: E402


class LlamaConfig:
    ARCHS = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2",
             "MistralForCausalLM": "mistral", "Qwen3ForCausalLM": "qwen3"}

    def __init__(self, d):
        archs = list(d.get("architectures") or ["LlamaForCausalLM"])
        if len(archs) != 1 or archs[0] not in self.ARCHS:
            raise ValueError(f"unsupported architectures {archs}")
        self.architecture = self.ARCHS[archs[0]]
        if d.get("model_type", self.architecture) != self.architecture:
            raise ValueError(f"model_type {d['model_type']} does not match "
                             f"{archs[0]}")
        self.rope_scaling = self._rope_scaling(d.get("rope_scaling"))
        if (self.architecture in ("llama", "qwen3")
                and d.get("attention_bias")) or d.get("mlp_bias"):
            raise ValueError("attention_bias/mlp_bias are not supported")
        if self.architecture in ("qwen2", "qwen3") and \
                d.get("use_sliding_window"):
            raise ValueError("use_sliding_window: true is not supported")
        if self.architecture == "qwen3" and d.get("head_dim") is None:
            raise ValueError("Qwen3: head_dim missing (HF's default is 128)")
        self.qkv_bias = self.architecture == "qwen2"
        self.qk_norm = self.architecture == "qwen3"
        self.sliding_window = None
        if self.architecture == "mistral" and d.get("sliding_window"):
            self.sliding_window = int(d["sliding_window"])
        if d.get("hidden_act", "silu") != "silu":
            raise ValueError(f"hidden_act {d['hidden_act']} is not supported")
        self.hidden_size = int(d["hidden_size"])
        self.intermediate_size = int(d["intermediate_size"])
        self.num_hidden_layers = int(d["num_hidden_layers"])
        self.num_attention_heads = int(d["num_attention_heads"])
        self.num_key_value_heads = int(d.get("num_key_value_heads")
                                       or self.num_attention_heads)
        self.head_dim = int(d.get("head_dim")
                            or self.hidden_size // self.num_attention_heads)
        if self.qkv_bias and \
                self.head_dim * self.num_attention_heads != self.hidden_size:
            raise ValueError("Qwen2: head_dim must be hidden_size / "
                             "num_attention_heads")
        self.vocab_size = int(d["vocab_size"])
        self.max_position_embeddings = int(d.get("max_position_embeddings",
                                                 2048))
        self.rms_norm_eps = float(d.get("rms_norm_eps", 1e-6))
        self.rope_theta = float(d.get("rope_theta", 10000.0))
        self.tie_word_embeddings = bool(d.get("tie_word_embeddings", False))


    @staticmethod
    def _rope_scaling(rs):
        """None (plain RoPE) or {factor, low_freq_factor, high_freq_factor,
        original_max_position_embeddings} of a llama3 rope_scaling."""
        if rs is None:
            return None
        if not isinstance(rs, dict):
            raise ValueError(f"rope_scaling: expected an object, got {rs!r}")
        kind = rs["rope_type"] if "rope_type" in rs else rs.get("type")
        if kind == "default":
            return None
        if kind != "llama3":
            raise ValueError(f"rope_scaling: unsupported rope type {kind!r}")
        out = {}
        for k in ("factor", "low_freq_factor", "high_freq_factor",
                  "original_max_position_embeddings"):
            if k not in rs:
                raise ValueError(f"rope_scaling: llama3 without {k!r}")
            out[k] = float(rs[k])
        if not (out["factor"] > 0 and 0 < out["low_freq_factor"]
                < out["high_freq_factor"]
                and out["original_max_position_embeddings"] > 0):
            raise ValueError(f"rope_scaling: bad llama3 parameters {rs}")
        return out


def llama3_inv_freq(inv_freq, rs):
    """llama3 rope scaling of a float64 inv_freq tensor, by the ratio
    r = original_max_position_embeddings / wavelength."""
    r = rs["original_max_position_embeddings"] * inv_freq / (2 * math.pi)
    lo, hi, factor = rs["low_freq_factor"], rs["high_freq_factor"], \
        rs["factor"]
    s = ((r - lo) / (hi - lo)).clamp(0.0, 1.0)  # 0 below lo, 1 above hi
    return inv_freq * ((1.0 - s) / factor + s)


class LlamaRMSNorm(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance
                                                    + self.variance_epsilon)
        return self.weight * hidden_states


class LlamaRotaryEmbedding(nn.Module):
    def __init__(self, dim, max_positions, base, rope_scaling=None):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2,
                                                dtype=torch.float64) / dim))
        if rope_scaling is not None:
            inv_freq = llama3_inv_freq(inv_freq, rope_scaling)
        t = torch.arange(max_positions, dtype=torch.float64)
        freqs = torch.outer(t, inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos_cached", emb.cos().float(), persistent=False)
        self.register_buffer("sin_cached", emb.sin().float(), persistent=False)

    def forward(self, start, length):
        return (self.cos_cached[start:start + length],
                self.sin_cached[start:start + length])


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin):
    cos, sin = cos[None, None], sin[None, None]   # [1, 1, S, D]
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def repeat_kv(x, n_rep):
    b, nkv, s, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None].expand(b, nkv, n_rep, s, d).reshape(b, nkv * n_rep,
                                                              s, d)


class LlamaAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.num_heads = cfg.num_attention_heads
        self.num_kv_heads = cfg.num_key_value_heads
        self.head_dim = cfg.head_dim
        self.n_rep = self.num_heads // self.num_kv_heads
        self.sliding_window = cfg.sliding_window
        h, d, b = cfg.hidden_size, cfg.head_dim, cfg.qkv_bias
        self.q_proj = nn.Linear(h, self.num_heads * d, bias=b)
        self.k_proj = nn.Linear(h, self.num_kv_heads * d, bias=b)
        self.v_proj = nn.Linear(h, self.num_kv_heads * d, bias=b)
        self.o_proj = nn.Linear(self.num_heads * d, h, bias=False)
        if cfg.qk_norm:  # Qwen3: RMSNorm over head_dim, per head
            self.q_norm = LlamaRMSNorm(d, cfg.rms_norm_eps)
            self.k_norm = LlamaRMSNorm(d, cfg.rms_norm_eps)
        self.qk_norm = cfg.qk_norm
        self.scale = 1.0 / math.sqrt(d)

    def forward(self, x, cos, sin, k_cache, v_cache, start):
        b, s, _ = x.shape
        q = self.q_proj(x).view(b, s, self.num_heads, self.head_dim)
        k = self.k_proj(x).view(b, s, self.num_kv_heads, self.head_dim)
        v = self.v_proj(x).view(b, s, self.num_kv_heads, self.head_dim)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        end = start + s
        k_cache[:, :, start:end] = k
        v_cache[:, :, start:end] = v
        keys = repeat_kv(k_cache[:, :, :end], self.n_rep)
        values = repeat_kv(v_cache[:, :, :end], self.n_rep)
        scores = torch.matmul(q, keys.transpose(2, 3)) * self.scale
        if s > 1 or (self.sliding_window and end > self.sliding_window):
            # query p = start+i sees keys j <= p (and p - j < W)
            p = torch.arange(start, end)[:, None]
            j = torch.arange(end)[None, :]
            mask = j > p
            if self.sliding_window:
                mask |= p - j >= self.sliding_window
            scores = scores.masked_fill(mask, float("-inf"))
        probs = F.softmax(scores, dim=-1, dtype=torch.float32)
        out = torch.matmul(probs, values)
        out = out.transpose(1, 2).reshape(b, s, self.num_heads * self.head_dim)
        return self.o_proj(out)


class LlamaMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h, i = cfg.hidden_size, cfg.intermediate_size
        self.gate_proj = nn.Linear(h, i, bias=False)
        self.up_proj = nn.Linear(h, i, bias=False)
        self.down_proj = nn.Linear(i, h, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self_attn = LlamaAttention(cfg)
        self.mlp = LlamaMLP(cfg)
        self.input_layernorm = LlamaRMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = LlamaRMSNorm(cfg.hidden_size,
                                                     cfg.rms_norm_eps)

    def forward(self, x, cos, sin, k_cache, v_cache, start):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, k_cache,
                               v_cache, start)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(LlamaDecoderLayer(cfg)
                                    for _ in range(cfg.num_hidden_layers))
        self.norm = LlamaRMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class LlamaForCausalLM(nn.Module):
    def __init__(self, cfg, max_context):
        super().__init__()
        self.config = cfg
        self.model = LlamaModel(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.rotary_emb = LlamaRotaryEmbedding(cfg.head_dim, max_context,
                                               cfg.rope_theta,
                                               cfg.rope_scaling)
        self.max_context = max_context
        shape = (1, cfg.num_key_value_heads, max_context, cfg.head_dim)
        self.k_caches = [torch.zeros(shape) for _ in range(cfg.num_hidden_layers)]
        self.v_caches = [torch.zeros(shape) for _ in range(cfg.num_hidden_layers)]

    def forward(self, input_ids, start):
        """input_ids [1, S] at positions start..start+S-1 -> logits of the
        last position [vocab]; the KV cache rows start..start+S-1 are
        written."""
        s = input_ids.shape[1]
        if start + s > self.max_context:
            raise ValueError(f"context {start + s} exceeds --max-context "
                             f"{self.max_context}")
        cos, sin = self.rotary_emb(start, s)
        x = self.model.embed_tokens(input_ids)
        for layer, kc, vc in zip(self.model.layers, self.k_caches,
                                 self.v_caches):
            x = layer(x, cos, sin, kc, vc, start)
        x = self.model.norm(x[:, -1])
        return self.lm_head(x)[0]


def load_model(model_dir, max_context=None):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = LlamaConfig(json.load(f))
    max_context = max_context or cfg.max_position_embeddings
    model = LlamaForCausalLM(cfg, max_context)
    weights = safetensors_np.load_dir(model_dir)
    state = {k: torch.from_numpy(np.ascontiguousarray(v, np.float32))
             for k, v in weights.items()}
    if cfg.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing
               if not (cfg.tie_word_embeddings and m == "lm_head.weight")]
    if missing or unexpected:
        raise ValueError(f"weights mismatch: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    model.eval()
    return model


def num_parameters(model):
    return sum(p.numel() for p in model.parameters())  # tied counted once


def generate(model, prompt_ids, new_tokens, keep_logits=False):
    """Greedy: prefill + (new_tokens - 1) decode steps.  Returns (ids,
    logits list or None, prefill_s, decode_s)."""
    ids, rows = [], []
    with torch.inference_mode():
        t0 = time.perf_counter()
        logits = model(torch.tensor([prompt_ids], dtype=torch.long), 0)
        tok = int(torch.argmax(logits))
        t1 = time.perf_counter()
        ids.append(tok)
        if keep_logits:
            rows.append(logits.numpy().copy())
        pos = len(prompt_ids)
        for _ in range(new_tokens - 1):
            logits = model(torch.tensor([[tok]], dtype=torch.long), pos)
            tok = int(torch.argmax(logits))
            ids.append(tok)
            if keep_logits:
                rows.append(logits.numpy().copy())
            pos += 1
        t2 = time.perf_counter()
    return ids, (rows if keep_logits else None), t1 - t0, t2 - t1


def parse_ids(text):
    return [int(t) for t in text.replace(" ", "").split(",") if t]


def check_against_reference(model_dir, prompt, new_tokens):
    import llama_reference
    n = max(16, new_tokens)
    model = load_model(model_dir, len(prompt) + n)
    ids, rows, _, _ = generate(model, prompt, n, keep_logits=True)
    ref = llama_reference.load_model(model_dir)
    ref_ids, ref_logits = llama_reference.generate_greedy(ref, prompt, n)
    logits = np.array(rows, np.float32)
    # Teacher-forced comparison row by row only while the ids agree.
    same = [int(a) == int(b) for a, b in zip(ids, ref_ids)]
    k = same.index(False) + 1 if False in same else n
    err = np.abs(logits[:k].astype(np.float64) - ref_logits[:k])
    bound = 1e-3 + 1e-3 * np.abs(ref_logits[:k].astype(np.float64))
    ok = all(same) and bool(np.all(err <= bound))
    margin = llama_reference.top2_margin(ref_logits)
    print(f"check-against-reference: {model_dir}: prompt {prompt}")
    print(f"  torch ids: {ids}")
    print(f"  ref   ids: {[int(t) for t in ref_ids]}")
    print(f"  ids equal: {all(same)}; logits max |torch-ref| = "
          f"{err.max():.3g} (max |ref| {np.abs(ref_logits).max():.3g}, "
          f"tolerance 1e-3 + 1e-3*|ref|); min ref top-2 margin "
          f"{margin.min():.3g}")
    print("  " + ("PASS" if ok else "FAIL"))
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch-eager LLaMA/Qwen2/"
                                 "Mistral/Qwen3 decode benchmark (batch 1, "
                                 "f32, KV cache)")
    ap.add_argument("--model", help="Hugging Face model directory")
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--prompt-ids", type=parse_ids,
                    help="explicit prompt (overrides --prompt-len)")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch.set_num_threads (default: torch's default)")
    ap.add_argument("--max-context", type=int, default=None,
                    help="KV cache length (default prompt + new tokens)")
    ap.add_argument("--seed", type=int, default=0, help="prompt ids seed")
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed warm-up runs (prefill + 2 decode steps)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="timed runs; the median prefill and decode times "
                    "are reported (default 1)")
    ap.add_argument("--json", action="store_true",
                    help="print one JSON line instead of text")
    ap.add_argument("--check-against-reference", action="store_true",
                    help="check greedy ids/logits against llama_reference.py "
                    "(tiny preset if no --model) and exit")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.new_tokens < 1:
        ap.error("--new-tokens must be >= 1")

    if args.check_against_reference:
        tmp = None
        model_dir = args.model
        if model_dir is None:
            import make_model_dir
            tmp = tempfile.TemporaryDirectory()
            model_dir = tmp.name
            make_model_dir.make_model_dir(model_dir,
                                          make_model_dir.PRESETS["tiny"])
        with open(os.path.join(model_dir, "config.json")) as f:
            vocab = int(json.load(f)["vocab_size"])
        prompt = args.prompt_ids or [int(t) for t in np.random.default_rng(
            args.seed).integers(0, vocab, min(args.prompt_len, 16))]
        ok = check_against_reference(model_dir, prompt,
                                     min(args.new_tokens, 16))
        if tmp:
            tmp.cleanup()
        return 0 if ok else 1

    if not args.model:
        ap.error("--model is required")
    with open(os.path.join(args.model, "config.json")) as f:
        vocab = int(json.load(f)["vocab_size"])
    prompt = args.prompt_ids or [int(t) for t in np.random.default_rng(
        args.seed).integers(0, vocab, args.prompt_len)]
    max_context = args.max_context or len(prompt) + args.new_tokens
    model = load_model(args.model, max_context)
    for _ in range(args.warmup):
        generate(model, prompt, min(3, args.new_tokens))
    runs = [generate(model, prompt, args.new_tokens)
            for _ in range(max(1, args.repeat))]
    ids = runs[0][0]
    if any(r[0] != ids for r in runs):
        raise RuntimeError("greedy ids differ between repeated runs")
    prefill_s = float(np.median([r[2] for r in runs]))
    decode_s = float(np.median([r[3] for r in runs]))
    steps = args.new_tokens - 1
    result = {
        "model": os.path.basename(os.path.normpath(args.model)),
        "params": num_parameters(model),
        "prompt_tokens": len(prompt),
        "new_tokens": args.new_tokens,
        "threads": torch.get_num_threads(),
        "runs": len(runs),
        "prefill_s": round(prefill_s, 6),
        "prompt_tok_s": round(len(prompt) / prefill_s, 2),
        "ttft_s": round(prefill_s, 6),
        "decode_s": round(decode_s, 6),
        "decode_tok_s": round(steps / decode_s, 2) if steps else None,
        "ids": ids,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"model {result['model']}: {result['params']:,d} params, "
              f"torch {torch.__version__}, {result['threads']} thread(s)")
        print(f"prefill: {len(prompt)} tokens in {prefill_s * 1e3:.2f} ms "
              f"({result['prompt_tok_s']:.1f} tok/s, ttft {prefill_s * 1e3:.2f}"
              f" ms)")
        if steps:
            print(f"decode: {steps} tokens in {decode_s * 1e3:.2f} ms "
                  f"({result['decode_tok_s']:.1f} tok/s, "
                  f"{decode_s / steps * 1e3:.2f} ms/token)")
        print("ids: " + " ".join(map(str, ids)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
