"""Writes a Hugging Face-style decoder model directory with random weights.

``make_model_dir(out_dir, config, dtype="F32", shards=1, seed=0)`` writes
``config.json`` and the weights under their Hugging Face names, as
``model.safetensors`` or, with ``shards > 1``, as
``model-0000i-of-0000n.safetensors`` + ``model.safetensors.index.json``.

Architectures (config key ``architecture``, default ``llama``):

* ``llama``: ``LlamaForCausalLM`` (``attention_bias``/``mlp_bias`` false);
* ``qwen2``: ``Qwen2ForCausalLM``, ``model_type`` "qwen2": the LLaMA graph
  plus biases on q/k/v_proj (``model.layers.N.self_attn.{q,k,v}_proj.bias``,
  [NH*D], [NKV*D], [NKV*D]; o_proj has none).  Qwen2 has no
  ``attention_bias`` key (the biases are always there) and no ``head_dim``
  key in HF's Qwen2Config (head_dim is hidden_size / num_attention_heads, so
  a different ``head_dim`` is rejected here).  ``use_sliding_window`` is
  false (``sliding_window`` 4096 and ``max_window_layers`` = num layers are
  written as real Qwen2 configs do; HF ignores them then);
* ``mistral``: ``MistralForCausalLM``, ``model_type`` "mistral": the LLaMA
  graph (no biases) with ``sliding_window`` W (config key
  ``sliding_window``: an int, or None for no window, the default): query
  position p attends key j iff ``p - W < j <= p``;
* ``qwen3``: ``Qwen3ForCausalLM``, ``model_type`` "qwen3": the LLaMA graph
  (no biases: ``attention_bias`` false) plus a per-head RMSNorm of queries
  and keys before RoPE, with weights ``model.layers.N.self_attn.q_norm.weight``
  and ``...k_norm.weight`` ([head_dim], eps = ``rms_norm_eps``).
  ``head_dim`` is always written (HF's Qwen3Config defaults it to 128, not
  hidden / heads, and it often differs from hidden / heads);
  ``use_sliding_window`` false, ``sliding_window`` null and
  ``max_window_layers`` = num layers, as real Qwen3 configs have.

RoPE scaling (config key ``rope_scaling``, llama only; default None,
written as ``"rope_scaling": null``): a dict with ``rope_type`` "llama3" and
``factor``, ``low_freq_factor``, ``high_freq_factor``,
``original_max_position_embeddings`` (HF's llama3 rescaling of inv_freq,
see ``llama_reference.py``).  ``LLAMA31_ROPE_SCALING`` has Llama 3.1's
values (8, 1, 4, 8192); ``TINY_LLAMA3_ROPE_SCALING`` (8, 1, 8, 64) is for
the tiny test models (why: see its comment).

Random init (``numpy.random.default_rng(seed)``, tensors drawn in checkpoint
order, always in float32 and then stored as ``dtype``, so an F16/BF16 model
is the rounded version of the F32 model with the same seed).  The goal is a
model whose greedy decoding is numerically robust (a clear top-1 margin) and
not trivially constant:

* ``embed_tokens``: N(0, 1), so every token's residual stream starts with
  RMS ~1, the scale RMSNorm brings it to anyway;
* q/k/v/o, gate/up/down projections: N(0, 1/fan_in) (std
  ``1/sqrt(in_features)``), which keeps every projection's output at RMS ~1
  (so attention scores are O(1): the softmax neither saturates nor goes
  flat);  o_proj and down_proj get an extra gain so that the layers'
  contributions outweigh the token's own embedding in the residual stream
  (the next token then depends on the context, not only on the current
  token): gain 2 untied, gain 8 with tied embeddings, where the LM head is
  the embedding matrix and a small gain makes the model repeat the current
  token forever (measured on the e2e "tied" config, 10 prompts x 16 tokens:
  gain 2 -> 1.7 distinct ids per sequence, gain 8 -> 8.6);
* q/k/v biases (qwen2): N(0, 0.25) (std 0.5, against projection
  outputs of RMS ~1, so a dropped or misplaced bias changes the logits);
* norm weights: ``1 + 0.1 * N(0, 1)`` (close to HF's init of ones, but not
  all-equal, so a norm-weight mix-up is visible);
* q/k norm weights (qwen3): ``1 + 0.3 * N(0, 1)``: a wider spread, so that
  the per-dimension weights (not only the per-head normalisation) change
  the attention scores visibly;
* ``lm_head`` (untied): N(0, 4/hidden) (std ``2/sqrt(hidden)``): logits have
  std ~2, so the top-1 logit of a vocab of a few hundred beats the second by
  ~0.6 on average, large against f32 rounding (~1e-5).  With tied
  embeddings the LM head is the N(0, 1) embedding matrix (logit std
  ~sqrt(hidden)).

``e2e_check.py`` still picks prompts whose reference margins are large
against its tolerance, since a random model always has some near-ties.

CLI::

    make_model_dir.py --out DIR [--preset NAME] [--hidden-size N ...]
                      [--architecture llama|qwen2|mistral|qwen3]
                      [--sliding-window W|none]
                      [--rope-scaling none|llama3|llama3-tiny
                       [--rope-factor F] [--rope-low-freq-factor F]
                       [--rope-high-freq-factor F]
                       [--rope-original-max-position-embeddings N]]
                      [--dtype F32|F16|BF16] [--shards N] [--seed S]

Flags override the preset's fields (the default preset is ``tiny``).
``--list-presets`` prints the presets and their parameter counts.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

__all__ = ["ARCHITECTURES", "PRESETS", "make_model_dir", "make_weights", "hf_config",
           "num_parameters", "weight_shapes", "LLAMA31_ROPE_SCALING",
           "TINY_LLAMA3_ROPE_SCALING"]

# Fields: the HF names of config.json (num_hidden_layers etc.).
_BASE = dict(rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
             max_position_embeddings=256, architecture="llama",
             sliding_window=None, rope_scaling=None)

# Llama 3.1's rope_scaling (Meta-Llama-3.1-8B config.json).
LLAMA31_ROPE_SCALING = {"factor": 8.0, "low_freq_factor": 1.0,
                        "high_freq_factor": 4.0,
                        "original_max_position_embeddings": 8192,
                        "rope_type": "llama3"}
# llama3 scaling for tiny test models.  inv_freq_i = theta^(-2i/D) has
# wavelength 2 pi theta^(2i/D): 2 pi = 6.28 for i = 0, then growing by
# theta^(2/D) per pair.  With L = original_max_position_embeddings, the
# regimes are high frequency (kept) below L / high_freq_factor, low
# frequency (divided by factor) above L / low_freq_factor, and interpolated
# in between.  With Llama 3.1's L = 8192 (thresholds 2048 and 8192) a tiny
# model would have no low-frequency pair for head_dim 16 and theta 1000, and
# the pairs the scaling changes would turn by only ~1e-2 rad over the
# e2e check's 23 positions, so a Kiln that ignored the scaling could pass.
# L = 64 with high_freq_factor 8 puts the thresholds at 8 and 64: pair 0
# (6.28 < 8) is always high frequency; the longest wavelength,
# 2 pi theta^((D-2)/D), exceeds 64 for any theta >= 15 and D >= 16 (low
# frequency); and the step theta^(2/D) <= theta^(1/8) <= 8 for D >= 16 and
# theta <= 1.6e7 cannot jump over [8, 64], so at least one pair is
# interpolated: all three regimes occur for head_dim 16..64 and theta
# 1e3..1e6.  Wavelengths 8..64 are 3..23 positions per turn, so the
# changed pairs differ by radians within the e2e check's sequences.
TINY_LLAMA3_ROPE_SCALING = {"factor": 8.0, "low_freq_factor": 1.0,
                            "high_freq_factor": 8.0,
                            "original_max_position_embeddings": 64,
                            "rope_type": "llama3"}
_ROPE_SCALING_FIELDS = ("factor", "low_freq_factor", "high_freq_factor",
                        "original_max_position_embeddings")

ARCHITECTURES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM",
                 "mistral": "MistralForCausalLM",
                 "qwen3": "Qwen3ForCausalLM"}

PRESETS = {
    # Kiln's built-in `tiny` model.
    "tiny": dict(_BASE, hidden_size=64, intermediate_size=176,
                 num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, vocab_size=256),
    # ~15.0M parameters (llama2.c stories15M-like, tied embeddings).
    "bench-15m": dict(_BASE, hidden_size=256, intermediate_size=768,
                      num_hidden_layers=8, num_attention_heads=8,
                      num_key_value_heads=8, head_dim=32, vocab_size=32000,
                      max_position_embeddings=2048, tie_word_embeddings=True),
    # ~109.5M parameters (llama2.c stories110M shape, tied embeddings).
    "bench-110m": dict(_BASE, hidden_size=768, intermediate_size=2048,
                       num_hidden_layers=12, num_attention_heads=12,
                       num_key_value_heads=12, head_dim=64, vocab_size=32000,
                       max_position_embeddings=2048, tie_word_embeddings=True),
}

# The end-to-end test configs of e2e_check.py: (config, weight dtype, shards).
E2E_CONFIGS = {
    "mha": (dict(PRESETS["tiny"], num_attention_heads=4, num_key_value_heads=4),
            "F32", 1),
    "gqa": (dict(PRESETS["tiny"], hidden_size=128, intermediate_size=320,
                 num_attention_heads=8, num_key_value_heads=2, head_dim=16,
                 rope_theta=500000.0), "F32", 1),
    "tied": (dict(PRESETS["tiny"], tie_word_embeddings=True), "F32", 1),
    "untied": (dict(PRESETS["tiny"], tie_word_embeddings=False), "F32", 1),
    "headdim": (dict(PRESETS["tiny"], num_attention_heads=4,
                     num_key_value_heads=2, head_dim=32), "F32", 1),
    "odd": (dict(PRESETS["tiny"], hidden_size=96, intermediate_size=200,
                 num_hidden_layers=3, num_attention_heads=3,
                 num_key_value_heads=1, head_dim=32, vocab_size=300,
                 max_position_embeddings=200, rms_norm_eps=1e-6,
                 rope_theta=1000.0), "F32", 1),
    "bf16": (dict(PRESETS["tiny"]), "BF16", 1),
    "f16": (dict(PRESETS["tiny"]), "F16", 1),
    "sharded": (dict(PRESETS["tiny"]), "F32", 3),
    # Qwen2: q/k/v biases, tied embeddings, GQA 4/2 x 16 (head_dim must be
    # hidden / heads for Qwen2), Qwen2's usual rope_theta and eps.
    "qwen2": (dict(PRESETS["tiny"], architecture="qwen2",
                   tie_word_embeddings=True, hidden_size=64,
                   num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                   rope_theta=1000000.0, rms_norm_eps=1e-6), "F32", 1),
    # Mistral with a sliding window of 8: e2e_check's 7-token prompt + 16
    # generated tokens reach position 22, so from position 8 on the window
    # cuts keys off (at the last step only 8 of 23 positions are visible).
    # That is in the KV-cache decode steps only: the 7-token prefill fits
    # in the window ("mistral-w3" covers the prefill).
    "mistral": (dict(PRESETS["tiny"], architecture="mistral",
                     hidden_size=128, intermediate_size=320,
                     num_attention_heads=8, num_key_value_heads=2,
                     head_dim=16, sliding_window=8), "F32", 1),
    # Mistral with a window of 3, shorter than the 7-token prompt: the
    # window cuts keys off in the prefill too (and in every decode step).
    "mistral-w3": (dict(PRESETS["tiny"], architecture="mistral",
                        sliding_window=3), "F32", 1),
    # Mistral without a window (sliding_window null: plain causal).
    "mistral-nowindow": (dict(PRESETS["tiny"], architecture="mistral",
                              sliding_window=None), "F32", 1),
    # Llama 3 RoPE scaling: GQA 8/2 x 32, theta 500000 (Llama 3's), and
    # TINY_LLAMA3_ROPE_SCALING: of the 16 frequency pairs, 1 is high
    # frequency (wavelength 6.3 < 8), 2 interpolated (14.3, 32.4) and 13
    # low frequency (73.5 .. 1.4e6 > 64).
    "llama3-rope": (dict(PRESETS["tiny"], hidden_size=128,
                         intermediate_size=320, num_attention_heads=8,
                         num_key_value_heads=2, head_dim=32,
                         rope_theta=500000.0,
                         rope_scaling=dict(TINY_LLAMA3_ROPE_SCALING)),
                    "F32", 1),
    # Qwen3: per-head q/k RMSNorm, GQA 4/2 with head_dim 32 != hidden 64 /
    # 4 heads (q_proj 64 -> 128, o_proj 128 -> 64), tied embeddings,
    # Qwen3's rope_theta and eps.
    "qwen3": (dict(PRESETS["tiny"], architecture="qwen3",
                   tie_word_embeddings=True, hidden_size=64,
                   num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                   rope_theta=1000000.0, rms_norm_eps=1e-6), "F32", 1),
}
for _name, (_cfg, _dt, _sh) in E2E_CONFIGS.items():
    PRESETS.setdefault("e2e-" + _name, _cfg)

_TORCH_DTYPE = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}


def weight_shapes(cfg):
    """[(HF name, shape)] in checkpoint order."""
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    D = cfg["head_dim"]
    q, kv = cfg["num_attention_heads"] * D, cfg["num_key_value_heads"] * D
    bias = cfg.get("architecture", "llama") == "qwen2"
    qk_norm = cfg.get("architecture", "llama") == "qwen3"
    out = [("model.embed_tokens.weight", (V, H))]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        out.append((p + "input_layernorm.weight", (H,)))
        for proj, rows in (("q", q), ("k", kv), ("v", kv)):
            out.append((p + f"self_attn.{proj}_proj.weight", (rows, H)))
            if bias:
                out.append((p + f"self_attn.{proj}_proj.bias", (rows,)))
        out.append((p + "self_attn.o_proj.weight", (H, q)))
        if qk_norm:  # HF Qwen3Attention's module order: q/k/v/o, q/k_norm
            out += [(p + "self_attn.q_norm.weight", (D,)),
                    (p + "self_attn.k_norm.weight", (D,))]
        out += [(p + "post_attention_layernorm.weight", (H,)),
                (p + "mlp.gate_proj.weight", (I, H)),
                (p + "mlp.up_proj.weight", (I, H)),
                (p + "mlp.down_proj.weight", (H, I))]
    out.append(("model.norm.weight", (H,)))
    if not cfg["tie_word_embeddings"]:
        out.append(("lm_head.weight", (V, H)))
    return out


def num_parameters(cfg):
    return int(sum(np.prod(s) for _, s in weight_shapes(_complete(cfg))))


def _complete(config):
    """Fills defaults (head_dim = hidden/heads, kv heads = heads, ...)."""
    c = dict(_BASE)
    c.update(config)
    if c["architecture"] not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of "
                         f"{', '.join(ARCHITECTURES)}, got "
                         f"{c['architecture']!r}")
    if not c.get("num_key_value_heads"):
        c["num_key_value_heads"] = c["num_attention_heads"]
    if not c.get("head_dim"):
        c["head_dim"] = c["hidden_size"] // c["num_attention_heads"]
    if c["architecture"] == "qwen2" and \
            int(c["head_dim"]) * int(c["num_attention_heads"]) != \
            int(c["hidden_size"]):
        raise ValueError("qwen2: head_dim must be hidden_size / "
                         "num_attention_heads (Qwen2Config has no head_dim)")
    if c["sliding_window"] is not None:
        if c["architecture"] != "mistral":
            raise ValueError("sliding_window is only supported for mistral")
        c["sliding_window"] = int(c["sliding_window"])
        if c["sliding_window"] <= 0:
            raise ValueError(f"sliding_window must be positive or None, got "
                             f"{c['sliding_window']}")
    for k in ("hidden_size", "intermediate_size", "num_hidden_layers",
              "num_attention_heads", "num_key_value_heads", "head_dim",
              "vocab_size", "max_position_embeddings"):
        if int(c[k]) <= 0:
            raise ValueError(f"{k} must be positive, got {c[k]}")
        c[k] = int(c[k])
    if c["num_attention_heads"] % c["num_key_value_heads"]:
        raise ValueError("num_attention_heads must be a multiple of "
                         "num_key_value_heads")
    if c["head_dim"] % 2:
        raise ValueError("head_dim must be even")
    c["rms_norm_eps"] = float(c["rms_norm_eps"])
    c["rope_theta"] = float(c["rope_theta"])
    c["rope_scaling"] = _rope_scaling(c["rope_scaling"], c["architecture"])
    c["tie_word_embeddings"] = bool(c["tie_word_embeddings"])
    return c


def _rope_scaling(rs, arch):
    """None or the validated llama3 dict, in config.json's key order."""
    if rs is None:
        return None
    if arch != "llama":
        # (HF applies it to Qwen2 too, but real Qwen2 configs use yarn;
        # MistralConfig of transformers 4.44 has no rope_scaling.)
        raise ValueError("rope_scaling is only supported for llama here")
    rtype = rs.get("rope_type", rs.get("type"))
    if rtype != "llama3":
        raise ValueError(f"rope_scaling: unsupported rope type {rtype!r} "
                         "(only 'llama3')")
    missing = [k for k in _ROPE_SCALING_FIELDS if rs.get(k) is None]
    if missing:
        raise ValueError(f"rope_scaling: llama3 needs {', '.join(missing)}")
    out = {k: float(rs[k]) for k in _ROPE_SCALING_FIELDS}
    out["original_max_position_embeddings"] = int(
        rs["original_max_position_embeddings"])
    if out["factor"] <= 0 or out["low_freq_factor"] <= 0 or \
            out["high_freq_factor"] <= out["low_freq_factor"] or \
            out["original_max_position_embeddings"] <= 0:
        raise ValueError(f"rope_scaling: need factor > 0, 0 < "
                         f"low_freq_factor < high_freq_factor and "
                         f"original_max_position_embeddings > 0, got {out}")
    out["rope_type"] = "llama3"
    return out


def hf_config(config, dtype="F32"):
    """The config.json dict (the keys HF's LlamaConfig, Qwen2Config,
    MistralConfig or Qwen3Config writes) of a model with these fields."""
    c = _complete(config)
    arch = c["architecture"]
    out = {
        "architectures": [ARCHITECTURES[arch]],
        "model_type": arch,
        "hidden_size": c["hidden_size"],
        "intermediate_size": c["intermediate_size"],
        "num_hidden_layers": c["num_hidden_layers"],
        "num_attention_heads": c["num_attention_heads"],
        "num_key_value_heads": c["num_key_value_heads"],
        "head_dim": c["head_dim"],
        "hidden_act": "silu",
        "max_position_embeddings": c["max_position_embeddings"],
        "rms_norm_eps": c["rms_norm_eps"],
        "rope_theta": c["rope_theta"],
        "rope_scaling": c["rope_scaling"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "initializer_range": 0.02,
        "pretraining_tp": 1,
        "use_cache": True,
        "vocab_size": c["vocab_size"],
        "tie_word_embeddings": c["tie_word_embeddings"],
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": _TORCH_DTYPE[dtype],
        "transformers_version": "4.44.0",
    }
    if arch == "qwen2":
        # Biases always on (no attention_bias key); head_dim implied.
        for k in ("head_dim", "attention_bias", "mlp_bias", "pretraining_tp"):
            del out[k]
        out.update(use_sliding_window=False, sliding_window=4096,
                   max_window_layers=c["num_hidden_layers"])
    elif arch == "mistral":
        for k in ("rope_scaling", "attention_bias", "mlp_bias",
                  "pretraining_tp"):
            del out[k]
        out["sliding_window"] = c["sliding_window"]
    elif arch == "qwen3":
        # head_dim explicit, attention_bias false (true would add q/k/v/o
        # biases); no mlp_bias or pretraining_tp in Qwen3Config.
        for k in ("mlp_bias", "pretraining_tp"):
            del out[k]
        out.update(use_sliding_window=False, sliding_window=None,
                   max_window_layers=c["num_hidden_layers"],
                   transformers_version="4.51.0")
    return out


def make_weights(config, seed=0):
    """{HF name: float32 array} with the init described in the module doc."""
    c = _complete(config)
    rng = np.random.default_rng(seed)
    H = c["hidden_size"]
    res_gain = 8.0 if c["tie_word_embeddings"] else 2.0
    out = {}
    for name, shape in weight_shapes(c):
        if name.endswith(("self_attn.q_norm.weight",
                          "self_attn.k_norm.weight")):
            w = 1.0 + 0.3 * rng.standard_normal(shape, dtype=np.float32)
        elif name.endswith("norm.weight"):
            w = 1.0 + 0.1 * rng.standard_normal(shape, dtype=np.float32)
        elif name == "model.embed_tokens.weight":
            w = rng.standard_normal(shape, dtype=np.float32)
        elif name.endswith("_proj.bias"):
            w = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.5)
        elif name == "lm_head.weight":
            w = rng.standard_normal(shape, dtype=np.float32) * np.float32(
                2.0 / np.sqrt(H))
        else:
            gain = res_gain if name.endswith(("o_proj.weight",
                                              "down_proj.weight")) else 1.0
            w = rng.standard_normal(shape, dtype=np.float32) * np.float32(
                gain / np.sqrt(shape[1]))
        out[name] = w.astype(np.float32)
    return out


def make_model_dir(out_dir, config, dtype="F32", shards=1, seed=0):
    """Writes config.json and the weights; returns the config.json dict.
    Removes stale weight files of a previous run in ``out_dir``."""
    if dtype not in _TORCH_DTYPE:
        raise ValueError(f"dtype must be F32, F16 or BF16, got {dtype!r}")
    cfg = hf_config(config, dtype)
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        if f.endswith(".safetensors") or f == "model.safetensors.index.json":
            os.remove(os.path.join(out_dir, f))
    weights = make_weights(config, seed)
    meta = {"format": "pt", "generator": "kiln make_model_dir.py",
            "seed": str(seed)}
    if shards <= 1:
        safetensors_np.save_file(weights,
                                 os.path.join(out_dir, "model.safetensors"),
                                 dtype, meta)
    else:
        safetensors_np.save_sharded(weights, out_dir, dtype, shards, meta)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    return cfg


_ROPE_FLAGS = [  # (flag, rope_scaling key, type)
    ("--rope-factor", "factor", float),
    ("--rope-low-freq-factor", "low_freq_factor", float),
    ("--rope-high-freq-factor", "high_freq_factor", float),
    ("--rope-original-max-position-embeddings",
     "original_max_position_embeddings", int),
]

_FLAGS = [  # (flag, config key, type)
    ("--hidden-size", "hidden_size", int),
    ("--intermediate-size", "intermediate_size", int),
    ("--num-layers", "num_hidden_layers", int),
    ("--num-heads", "num_attention_heads", int),
    ("--num-kv-heads", "num_key_value_heads", int),
    ("--head-dim", "head_dim", int),
    ("--vocab-size", "vocab_size", int),
    ("--max-position-embeddings", "max_position_embeddings", int),
    ("--rms-norm-eps", "rms_norm_eps", float),
    ("--rope-theta", "rope_theta", float),
]


def _window(text):
    if text.lower() in ("none", "null", "0"):
        return "none"
    try:
        w = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int or none, got "
                                         f"{text!r}")
    if w <= 0:
        raise argparse.ArgumentTypeError("sliding window must be positive")
    return w


def _rope_scaling_arg(text):
    t = text.lower()
    if t in ("none", "null"):
        return "none"
    if t in ("llama3", "llama3-tiny"):
        return t
    raise argparse.ArgumentTypeError(f"expected none, llama3 or llama3-tiny, "
                                     f"got {text!r}")


def _bool(text):
    t = text.lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Write a random-weight Llama/Qwen2/Mistral/Qwen3 model "
        "directory.")
    ap.add_argument("--out", help="output directory")
    ap.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    for flag, key, typ in _FLAGS:
        ap.add_argument(flag, dest=key, type=typ, default=None)
    ap.add_argument("--tie-word-embeddings", dest="tie_word_embeddings",
                    type=_bool, nargs="?", const=True, default=None,
                    help="true/false (bare flag = true)")
    ap.add_argument("--architecture", choices=sorted(ARCHITECTURES),
                    default=None, help="default: the preset's (llama)")
    ap.add_argument("--sliding-window", dest="sliding_window", type=_window,
                    default=None, help="mistral: window W or none (default "
                    "none)")
    ap.add_argument("--rope-scaling", type=_rope_scaling_arg, default=None,
                    help="none, llama3 (Llama 3.1's: factor 8, low/high freq "
                    "factor 1/4, original_max_position_embeddings 8192) or "
                    "llama3-tiny (8, 1/8, 64: all three frequency regimes "
                    "occur in tiny models); default: the preset's")
    for flag, key, typ in _ROPE_FLAGS:
        ap.add_argument(flag, dest="rope_" + key, type=typ, default=None,
                        help=f"llama3 {key} (overrides --rope-scaling's)")
    ap.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16"],
                    type=str.upper)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--list-presets", action="store_true")
    args = ap.parse_args(argv)
    if args.list_presets:
        for name in sorted(PRESETS):
            print(f"{name:20s} {num_parameters(PRESETS[name]):>12,d} params")
        return 0
    if not args.out:
        ap.error("--out is required")
    config = dict(PRESETS[args.preset])
    for _, key, _ in _FLAGS + [(None, "tie_word_embeddings", None),
                               (None, "architecture", None),
                               (None, "sliding_window", None)]:
        v = getattr(args, key)
        if v is not None:
            config[key] = None if v == "none" else v
    if args.rope_scaling is not None:
        config["rope_scaling"] = {
            "none": None, "llama3": LLAMA31_ROPE_SCALING,
            "llama3-tiny": TINY_LLAMA3_ROPE_SCALING}[args.rope_scaling]
    overrides = {k: getattr(args, "rope_" + k) for _, k, _ in _ROPE_FLAGS
                 if getattr(args, "rope_" + k) is not None}
    if overrides:
        if config.get("rope_scaling") is None:
            ap.error("--rope-factor etc. need --rope-scaling llama3 or "
                     "llama3-tiny (or a preset with rope_scaling)")
        config["rope_scaling"] = dict(config["rope_scaling"], **overrides)
    try:
        cfg = make_model_dir(args.out, config, args.dtype, args.shards,
                             args.seed)
    except ValueError as e:
        print(f"make_model_dir: error: {e}", file=sys.stderr)
        return 1
    n = num_parameters(config)
    size = sum(os.path.getsize(os.path.join(args.out, f))
               for f in os.listdir(args.out) if f.endswith(".safetensors"))
    head_dim = cfg.get("head_dim") or \
        cfg["hidden_size"] // cfg["num_attention_heads"]
    arch = cfg["architectures"][0]
    if cfg.get("model_type") == "mistral":
        arch += f" (sliding_window {cfg['sliding_window']})"
    rs = cfg.get("rope_scaling")
    if rs:
        arch += (f" (rope_scaling llama3: factor {rs['factor']:g}, low/high "
                 f"freq factor {rs['low_freq_factor']:g}/"
                 f"{rs['high_freq_factor']:g}, original max positions "
                 f"{rs['original_max_position_embeddings']})")
    print(f"wrote {args.out}: {arch}, preset {args.preset}, {n:,d} parameters "
          f"({n / 1e6:.2f}M), {args.dtype}, {args.shards} shard(s), "
          f"{size / 1e6:.1f} MB; hidden {cfg['hidden_size']}, layers "
          f"{cfg['num_hidden_layers']}, heads {cfg['num_attention_heads']}/"
          f"{cfg['num_key_value_heads']}x{head_dim}, vocab "
          f"{cfg['vocab_size']}, tied {cfg['tie_word_embeddings']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
