"""Independent numpy oracle for Hugging Face ``LlamaForCausalLM``,
``Qwen2ForCausalLM``, ``MistralForCausalLM`` and ``Qwen3ForCausalLM``
inference.

Written from the Hugging Face ``modeling_llama.py`` / ``modeling_qwen2.py``
/ ``modeling_mistral.py`` / ``modeling_qwen3.py`` definitions (it does not
use ``kiln_reference.py`` or anything else of Kiln's), so that it can check
Kiln's compiled models end to end.  The four share the LLaMA graph:

* ``embed_tokens`` lookup;
* per decoder layer (pre-norm):
  ``LlamaRMSNorm``: ``x * rsqrt(mean(x^2, -1) + eps) * weight``;
  ``q/k/v_proj`` (``y = x @ W.T``, no bias); RoPE with the ``rotate_half``
  convention (the two halves of each head are the pair, not interleaved
  elements), ``inv_freq = theta ** (-arange(0, D, 2) / D)`` (rescaled per
  ``rope_scaling``, see below), angle ``position * inv_freq`` repeated for
  both halves;
  causal attention with GQA (``repeat_kv``: query head ``h`` uses KV head
  ``h // (num_heads // num_kv_heads)``), scores scaled by ``1/sqrt(head_dim)``,
  softmax; ``o_proj``; residual add;
  ``post_attention_layernorm``; SwiGLU MLP ``down(silu(gate(x)) * up(x))``;
  residual add;
* final ``model.norm``; ``lm_head`` (or the embedding matrix when
  ``tie_word_embeddings``).

Differences:

* Qwen2: q/k/v_proj have biases (``y = x @ W.T + b``, added before RoPE;
  o_proj has none), always (Qwen2Config has no ``attention_bias``);
  ``head_dim`` is ``hidden_size / num_attention_heads`` (a config.json
  ``head_dim`` that differs is rejected, since HF versions disagree on
  reading it).  ``use_sliding_window`` true is rejected (HF then windows
  only some layers, per ``max_window_layers``); when false,
  ``sliding_window`` is ignored, as in HF.
* Mistral: with a non-null ``sliding_window`` W, query position p attends
  key position j iff ``j <= p`` and ``p - j < W`` (HF's sliding-window
  causal mask); null = plain causal.  No biases.
* Qwen3: after q_proj/k_proj and the reshape to [.., heads, head_dim],
  every query and key head is RMS-normalised over head_dim and scaled by
  ``self_attn.q_norm.weight`` / ``self_attn.k_norm.weight`` ([head_dim],
  eps = ``rms_norm_eps``, HF ``Qwen3RMSNorm``), then RoPE is applied.  No
  biases: ``attention_bias`` true (HF then adds q/k/v/o biases) is
  rejected.  ``head_dim`` must be in config.json: HF's Qwen3Config defaults
  it to 128, not hidden_size / num_attention_heads, so a config without it
  is ambiguous between implementations and rejected.  ``use_sliding_window``
  true is rejected (as for Qwen2); when false ``sliding_window`` is ignored.

RoPE scaling (``rope_scaling`` in config.json, any of the three
architectures, as in HF's shared ``ROPE_INIT_FUNCTIONS``): null or
``{"rope_type": "default"}`` is plain RoPE; ``"rope_type": "llama3"`` (older
configs spell the key ``"type"``; both are accepted, ``rope_type`` wins) is
Llama 3.1's frequency-dependent rescaling (HF ``_compute_llama3_parameters``)
with ``factor``, ``low_freq_factor``, ``high_freq_factor`` and
``original_max_position_embeddings`` (L)::

    wavelen = 2 pi / inv_freq
    low-frequency  (wavelen > L / low_freq_factor):   inv_freq / factor
    high-frequency (wavelen < L / high_freq_factor):  inv_freq
    medium (otherwise, boundaries included):
        smooth = (L / wavelen - low_freq_factor)
                 / (high_freq_factor - low_freq_factor)
        (1 - smooth) * inv_freq / factor + smooth * inv_freq

Its attention factor is 1 (cos/sin are not rescaled).  Other rope types
(linear, dynamic, yarn, longrope, ...) are rejected.

Precision: weights are read as float32 (F16/BF16 files are upcast exactly,
which is what Kiln does with an f32 compile dtype) and all arithmetic is
done in **float64**, so the result is the "ideal" value of the f32 weights;
its own rounding error (~1e-15 relative) is negligible against any f32
implementation being checked.  Logits are returned as float32.

``generate_greedy`` recomputes the whole sequence at every step (no KV
cache), so it independently checks a KV-cache implementation.

Unsupported configs (other architectures, ``model_type`` not matching the
architecture, ``rope_scaling`` other than null/default/llama3, Llama's
``attention_bias`` true,
Qwen3's ``attention_bias`` true or missing ``head_dim``,
``mlp_bias`` true, ``hidden_act`` other than silu, Qwen2's or Qwen3's
``use_sliding_window`` true) are rejected with ``ValueError``.

CLI::

    llama_reference.py MODEL_DIR --prompt-ids 1,2,3 --max-new-tokens N
                       [--print-ids] [--logits-out F.npy]
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

ARCHITECTURES = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2",
                 "MistralForCausalLM": "mistral",
                 "Qwen3ForCausalLM": "qwen3"}

__all__ = ["ARCHITECTURES", "LlamaModel", "load_config", "load_model", "forward",
           "generate_greedy", "top2_margin", "parse_rope_scaling",
           "rope_inv_freq", "llama3_regimes"]

LLAMA3_FIELDS = ("factor", "low_freq_factor", "high_freq_factor",
                 "original_max_position_embeddings")


class LlamaModel:
    """Config fields (HF names) plus float64 weights by HF name.
    ``architecture`` is "llama", "qwen2", "mistral" or "qwen3";
    ``qkv_bias``, ``qk_norm`` and ``sliding_window`` (None = no window)
    follow from it and the config;
    ``rope_scaling`` is ``parse_rope_scaling`` of the config's (None =
    plain RoPE)."""

    def __init__(self, config, weights):
        self.config = config
        c = config
        archs = c.get("architectures") or ["LlamaForCausalLM"]
        self.architecture = ARCHITECTURES[archs[0]]
        self.qkv_bias = self.architecture == "qwen2"
        self.qk_norm = self.architecture == "qwen3"
        self.sliding_window = None
        if self.architecture == "mistral" and \
                c.get("sliding_window") is not None:
            self.sliding_window = int(c["sliding_window"])
            if self.sliding_window <= 0:
                raise ValueError(f"sliding_window must be positive or null, "
                                 f"got {c['sliding_window']}")
        self.hidden_size = int(c["hidden_size"])
        self.intermediate_size = int(c["intermediate_size"])
        self.num_layers = int(c["num_hidden_layers"])
        self.num_heads = int(c["num_attention_heads"])
        self.num_kv_heads = int(c.get("num_key_value_heads") or self.num_heads)
        hd = c.get("head_dim")
        self.head_dim = int(hd) if hd else self.hidden_size // self.num_heads
        if self.architecture == "qwen2" and \
                self.head_dim * self.num_heads != self.hidden_size:
            raise ValueError(f"unsupported head_dim {self.head_dim} for "
                             "Qwen2ForCausalLM: must be hidden_size / "
                             "num_attention_heads")
        self.vocab_size = int(c["vocab_size"])
        self.rms_norm_eps = float(c.get("rms_norm_eps", 1e-6))
        self.rope_theta = float(c.get("rope_theta", 10000.0))
        self.rope_scaling = parse_rope_scaling(c.get("rope_scaling"))
        self.tie_word_embeddings = bool(c.get("tie_word_embeddings", False))
        self.max_position_embeddings = int(c.get("max_position_embeddings",
                                                 2048))
        if self.num_heads % self.num_kv_heads:
            raise ValueError("num_attention_heads must be a multiple of "
                             "num_key_value_heads")
        if self.head_dim % 2:
            raise ValueError("head_dim must be even for RoPE")
        self.w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
        self._check_shapes()

    def _check_shapes(self):
        H, I, V = self.hidden_size, self.intermediate_size, self.vocab_size
        q, kv = self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim
        want = {"model.embed_tokens.weight": (V, H), "model.norm.weight": (H,)}
        for l in range(self.num_layers):
            p = f"model.layers.{l}."
            want.update({
                p + "input_layernorm.weight": (H,),
                p + "self_attn.q_proj.weight": (q, H),
                p + "self_attn.k_proj.weight": (kv, H),
                p + "self_attn.v_proj.weight": (kv, H),
                p + "self_attn.o_proj.weight": (H, q),
                p + "post_attention_layernorm.weight": (H,),
                p + "mlp.gate_proj.weight": (I, H),
                p + "mlp.up_proj.weight": (I, H),
                p + "mlp.down_proj.weight": (H, I)})
            if self.qk_norm:
                want.update({p + "self_attn.q_norm.weight": (self.head_dim,),
                             p + "self_attn.k_norm.weight": (self.head_dim,)})
            if self.qkv_bias:
                want.update({p + "self_attn.q_proj.bias": (q,),
                             p + "self_attn.k_proj.bias": (kv,),
                             p + "self_attn.v_proj.bias": (kv,)})
        if not self.tie_word_embeddings:
            want["lm_head.weight"] = (V, H)
        for name, shape in want.items():
            if name not in self.w:
                raise ValueError(f"missing weight {name}")
            if self.w[name].shape != shape:
                raise ValueError(f"weight {name}: shape {self.w[name].shape}, "
                                 f"expected {shape}")

    def lm_head(self):
        if self.tie_word_embeddings:
            return self.w["model.embed_tokens.weight"]
        return self.w["lm_head.weight"]


def load_config(model_dir):
    """Reads and validates MODEL_DIR/config.json (rejecting what this
    reference does not implement)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    archs = c.get("architectures") or ["LlamaForCausalLM"]
    if len(archs) != 1 or archs[0] not in ARCHITECTURES:
        raise ValueError(f"unsupported architectures {archs}: only "
                         f"{', '.join(ARCHITECTURES)}")
    arch = ARCHITECTURES[archs[0]]
    if c.get("model_type", arch) != arch:
        raise ValueError(f"unsupported model_type {c.get('model_type')!r} "
                         f"for {archs[0]} (expected {arch!r})")
    parse_rope_scaling(c.get("rope_scaling"))
    # Qwen2 always has q/k/v biases and Mistral never: both ignore
    # attention_bias (HF does not read it for them).  Qwen3 reads it (true
    # adds q/k/v/o biases).
    if arch in ("llama", "qwen3") and c.get("attention_bias", False):
        raise ValueError(f"unsupported attention_bias: true for {archs[0]} "
                         "(only false)")
    if arch in ("qwen2", "qwen3") and c.get("use_sliding_window", False):
        raise ValueError(f"unsupported use_sliding_window: true for "
                         f"{archs[0]} (only false)")
    if arch == "qwen3" and c.get("head_dim") is None:
        raise ValueError("missing head_dim for Qwen3ForCausalLM (HF's "
                         "Qwen3Config defaults it to 128, not hidden_size / "
                         "num_attention_heads)")
    if c.get("mlp_bias", False):
        raise ValueError("unsupported mlp_bias: true")
    act = c.get("hidden_act", "silu")
    if act != "silu":
        raise ValueError(f"unsupported hidden_act {act!r}: only silu")
    return c


def load_model(model_dir):
    return LlamaModel(load_config(model_dir), safetensors_np.load_dir(model_dir))


def rms_norm(x, weight, eps):
    var = np.mean(x * x, axis=-1, keepdims=True)
    return x / np.sqrt(var + eps) * weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def parse_rope_scaling(rs):
    """config.json's ``rope_scaling`` -> None (plain RoPE: null or rope type
    "default") or {"rope_type": "llama3", <LLAMA3_FIELDS>: float}.  Raises
    ValueError naming the field for anything else."""
    if rs is None:
        return None
    if not isinstance(rs, dict):
        raise ValueError(f"rope_scaling: expected an object or null, got "
                         f"{rs!r}")
    rtype = rs.get("rope_type", rs.get("type"))
    if rtype is None:
        raise ValueError("rope_scaling: missing 'rope_type' (or 'type')")
    if rtype == "default":
        return None
    if rtype != "llama3":
        raise ValueError(f"rope_scaling: unsupported rope type {rtype!r} "
                         "(only 'llama3' or 'default')")
    out = {"rope_type": "llama3"}
    for k in LLAMA3_FIELDS:
        v = rs.get(k)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or \
                not np.isfinite(v):
            raise ValueError(f"rope_scaling: llama3 needs a number "
                             f"'{k}', got {v!r}")
        out[k] = float(v)
    if out["factor"] <= 0:
        raise ValueError(f"rope_scaling: 'factor' must be > 0, got "
                         f"{out['factor']:g}")
    if out["low_freq_factor"] <= 0:
        raise ValueError(f"rope_scaling: 'low_freq_factor' must be > 0, got "
                         f"{out['low_freq_factor']:g}")
    if out["high_freq_factor"] <= out["low_freq_factor"]:
        raise ValueError("rope_scaling: 'high_freq_factor' must be > "
                         "'low_freq_factor'")
    if out["original_max_position_embeddings"] <= 0:
        raise ValueError("rope_scaling: 'original_max_position_embeddings' "
                         "must be > 0")
    return out


def rope_inv_freq(head_dim, theta, rope_scaling=None):
    """inv_freq [head_dim / 2] (float64): theta^(-2i/D), rescaled per
    ``rope_scaling`` (a ``parse_rope_scaling`` result or None)."""
    inv_freq = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float64)
                                / head_dim))
    if rope_scaling is None:
        return inv_freq
    factor = rope_scaling["factor"]
    low = rope_scaling["low_freq_factor"]
    high = rope_scaling["high_freq_factor"]
    old_ctx = rope_scaling["original_max_position_embeddings"]
    low_freq_wavelen = old_ctx / low
    high_freq_wavelen = old_ctx / high
    wavelen = 2.0 * np.pi / inv_freq
    scaled = np.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_ctx / wavelen - low) / (high - low)
    smoothed = (1.0 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
    return np.where(medium, smoothed, scaled)


def llama3_regimes(head_dim, theta, rope_scaling):
    """(high, medium, low): how many of the head_dim / 2 frequencies fall in
    each llama3 regime (kept, interpolated, divided by factor)."""
    inv_freq = rope_inv_freq(head_dim, theta)
    wavelen = 2.0 * np.pi / inv_freq
    L = rope_scaling["original_max_position_embeddings"]
    high = wavelen < L / rope_scaling["high_freq_factor"]
    low = wavelen > L / rope_scaling["low_freq_factor"]
    return int(high.sum()), int((~high & ~low).sum()), int(low.sum())


def rope_cos_sin(positions, head_dim, theta, rope_scaling=None):
    inv_freq = rope_inv_freq(head_dim, theta, rope_scaling)
    freqs = np.asarray(positions, np.float64)[:, None] * inv_freq[None, :]
    emb = np.concatenate([freqs, freqs], axis=-1)          # [S, D]
    return np.cos(emb), np.sin(emb)


def silu(x):
    return x / (1.0 + np.exp(-x))


def softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def attention(m, l, x, cos, sin):
    """Self-attention of layer ``l`` over the full causal sequence x [S, H]."""
    p = f"model.layers.{l}.self_attn."
    S = x.shape[0]
    NH, NKV, D = m.num_heads, m.num_kv_heads, m.head_dim
    q, k, v = (x @ m.w[p + n + "_proj.weight"].T for n in "qkv")
    if m.qkv_bias:                                          # Qwen2
        q = q + m.w[p + "q_proj.bias"]
        k = k + m.w[p + "k_proj.bias"]
        v = v + m.w[p + "v_proj.bias"]
    q = q.reshape(S, NH, D)
    k = k.reshape(S, NKV, D)
    if m.qk_norm:                                           # Qwen3
        q = rms_norm(q, m.w[p + "q_norm.weight"], m.rms_norm_eps)
        k = rms_norm(k, m.w[p + "k_norm.weight"], m.rms_norm_eps)
    q = q.transpose(1, 0, 2)
    k = k.transpose(1, 0, 2)
    v = v.reshape(S, NKV, D).transpose(1, 0, 2)
    q = q * cos[None] + rotate_half(q) * sin[None]
    k = k * cos[None] + rotate_half(k) * sin[None]
    groups = NH // NKV
    k = np.repeat(k, groups, axis=0)                        # repeat_kv
    v = np.repeat(v, groups, axis=0)
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(D)          # [NH, S, S]
    pos = np.arange(S)
    masked = pos[None, :] > pos[:, None]                    # [query, key]
    if m.sliding_window is not None:                        # Mistral
        masked |= pos[:, None] - pos[None, :] >= m.sliding_window
    scores = np.where(masked[None], -np.inf, scores)
    out = softmax(scores) @ v                               # [NH, S, D]
    out = out.transpose(1, 0, 2).reshape(S, NH * D)
    return out @ m.w[p + "o_proj.weight"].T


def mlp(m, l, x):
    p = f"model.layers.{l}.mlp."
    gate = x @ m.w[p + "gate_proj.weight"].T
    up = x @ m.w[p + "up_proj.weight"].T
    return (silu(gate) * up) @ m.w[p + "down_proj.weight"].T


def forward(model, ids):
    """Logits [len(ids), vocab] (float64) of a full causal forward pass over
    ``ids`` at positions 0..len(ids)-1."""
    m = model
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if ids.size == 0:
        raise ValueError("empty sequence")
    if ids.min() < 0 or ids.max() >= m.vocab_size:
        raise ValueError(f"token id out of range [0, {m.vocab_size})")
    h = m.w["model.embed_tokens.weight"][ids]
    cos, sin = rope_cos_sin(np.arange(ids.size), m.head_dim, m.rope_theta,
                            m.rope_scaling)
    eps = m.rms_norm_eps
    for l in range(m.num_layers):
        p = f"model.layers.{l}."
        h = h + attention(m, l, rms_norm(h, m.w[p + "input_layernorm.weight"],
                                         eps), cos, sin)
        h = h + mlp(m, l, rms_norm(h, m.w[p + "post_attention_layernorm.weight"],
                                   eps))
    h = rms_norm(h, m.w["model.norm.weight"], eps)
    return h @ m.lm_head().T


def generate_greedy(model, prompt_ids, max_new_tokens):
    """Greedy decoding without a KV cache: every step runs ``forward`` on the
    whole sequence so far.  Returns (new ids [N] int64, logits [N, vocab]
    float32), row i being the logits token i was chosen from (row 0 = last
    prompt position).  Ties go to the lowest id (``np.argmax``)."""
    seq = [int(t) for t in prompt_ids]
    new, rows = [], []
    for _ in range(max_new_tokens):
        logits = forward(model, seq)[-1]
        tok = int(np.argmax(logits))
        rows.append(logits)
        new.append(tok)
        seq.append(tok)
    logits = np.array(rows, dtype=np.float32).reshape(len(rows),
                                                      model.vocab_size)
    return np.array(new, dtype=np.int64), logits


def top2_margin(logits):
    """Per row: best logit minus the runner-up (float64)."""
    x = np.asarray(logits, np.float64)
    part = np.partition(x, -2, axis=-1)
    return part[..., -1] - part[..., -2]


def parse_ids(text):
    try:
        return [int(t) for t in text.replace(" ", "").split(",") if t != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad id list {text!r}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("--prompt-ids", type=parse_ids, required=True,
                    help="comma-separated token ids")
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--print-ids", action="store_true",
                    help="print the generated ids on one line")
    ap.add_argument("--logits-out", help="write float32 [N, vocab] .npy")
    args = ap.parse_args(argv)
    try:
        model = load_model(args.model_dir)
        if not args.prompt_ids:
            raise ValueError("--prompt-ids is empty")
        t0 = time.perf_counter()
        ids, logits = generate_greedy(model, args.prompt_ids,
                                      args.max_new_tokens)
        dt = time.perf_counter() - t0
    except (ValueError, OSError) as e:
        print(f"llama_reference: error: {e}", file=sys.stderr)
        return 1
    if args.print_ids:
        print(" ".join(str(int(t)) for t in ids))
    if args.logits_out:
        np.save(args.logits_out, logits)
    margins = top2_margin(logits)
    print(f"llama_reference: {len(ids)} tokens in {dt:.3f} s, min top-2 "
          f"margin {margins.min() if len(ids) else float('nan'):.4g}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
