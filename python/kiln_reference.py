"""Independent numpy reference for the ops of Kiln's ``llm`` dialect.

Every function implements one ``llm`` op from its definition in
``include/kiln/Dialect/LLM/IR/LLMOps.td`` (and, where that text leaves a
choice open, from the Hugging Face transformers convention the dialect
follows).  The code is written from those definitions, not translated from
the MLIR lowering, so that it can serve as an oracle for the compiled code.

``decoder_forward`` composes the ops into a whole LLaMA-style decoder step
(prefill or decode over a KV cache), as Kiln's model builder does, for the
whole-model tests written by ``gen_model_test.py``.

Conventions:

* Arithmetic is done in float64 (the "ideal" result); the compiled code
  computes in f32, so it should agree to about 1e-6 relative.
* Narrow types (bf16, f16) are modelled by *rounding* at the points where
  the op definition (or Hugging Face) rounds: once at the end of every op
  and, for ``rms_norm``, also on the normalised value before the weight
  multiplies it.  Pass ``dtype="bf16"``/``"f16"`` for that; ``"f32"`` rounds
  to float32 (which is almost a no-op against the tolerances used).
* Arrays are plain numpy arrays; integer tensors (ids, positions) may be
  any integer dtype.

Run this file directly for a few self-checks of the reference itself.
"""

import numpy as np

__all__ = [
    "round_to",
    "embedding",
    "rms_norm",
    "linear",
    "rope",
    "attention",
    "kv_cache_write",
    "silu_mul",
    "add",
    "logits",
    "DecoderConfig",
    "TINY",
    "decoder_weight_shapes",
    "decoder_forward",
]


# ---------------------------------------------------------------------------
# Rounding to the storage types
# ---------------------------------------------------------------------------

def _round_bf16(x):
    """Round to the nearest bfloat16 (ties to even), returned as float64.

    bfloat16 is the upper 16 bits of an IEEE float32, so the value is first
    rounded to float32 and then its low 16 bits are rounded away.
    """
    f = np.atleast_1d(np.asarray(x, dtype=np.float32))
    bits = f.view(np.uint32).astype(np.uint64)
    # Round to nearest even on bit 16; NaN/inf are not expected here.
    one, shift = np.uint64(1), np.uint64(16)
    bits = bits + np.uint64(0x7FFF) + ((bits >> shift) & one)
    bits = (bits & np.uint64(0xFFFF0000)).astype(np.uint32)
    out = bits.view(np.float32).astype(np.float64)
    return out.reshape(np.shape(x))


def round_to(x, dtype):
    """Round ``x`` to the element type ``dtype`` ("f32", "f16", "bf16" or
    "f64"/None for no rounding) and return it as float64."""
    x = np.asarray(x, dtype=np.float64)
    if dtype in (None, "f64"):
        return x
    if dtype == "f32":
        return x.astype(np.float32).astype(np.float64)
    if dtype == "f16":
        return x.astype(np.float16).astype(np.float64)
    if dtype == "bf16":
        return _round_bf16(x)
    raise ValueError(f"unknown dtype {dtype!r}")


# ---------------------------------------------------------------------------
# The ops
# ---------------------------------------------------------------------------

def embedding(table, ids):
    """``llm.embedding``: token embedding lookup.

    ``table`` is ``[vocab, hidden]``, ``ids`` is ``[batch, seq]``; the result
    ``[batch, seq, hidden]`` holds row ``ids[b, s]`` of the table at
    ``(b, s)``.  Ids must lie in ``[0, vocab)``.
    """
    table = np.asarray(table, dtype=np.float64)
    ids = np.asarray(ids)
    assert ids.ndim == 2 and table.ndim == 2
    assert ids.min() >= 0 and ids.max() < table.shape[0], "id out of range"
    return table[ids]


def rms_norm(x, weight, epsilon, dtype="f32"):
    """``llm.rms_norm``: root-mean-square normalisation over the last axis.

    ``result = x * rsqrt(mean(x^2, last axis) + epsilon) * weight``.

    As in Hugging Face's ``LlamaRMSNorm``, the normalised value
    ``x * rsqrt(...)`` is rounded to the input type before it is multiplied
    by ``weight``, and the product is rounded to the input type again.
    """
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    assert weight.shape == (x.shape[-1],)
    mean_sq = np.mean(x * x, axis=-1, keepdims=True)
    normed = round_to(x / np.sqrt(mean_sq + epsilon), dtype)
    return round_to(normed * weight, dtype)


def linear(x, weight, bias=None, dtype="f32"):
    """``llm.linear``: fully connected layer, Hugging Face weight layout.

    ``result[..., o] = sum_i x[..., i] * weight[o, i] (+ bias[o])`` with
    ``weight`` of shape ``[out, in]`` and ``x`` of shape ``[tokens, in]`` or
    ``[batch, seq, in]``.  The sum (and the bias) is exact here and rounded
    once to the element type.
    """
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    assert x.shape[-1] == weight.shape[1]
    out = np.einsum("...i,oi->...o", x, weight)
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float64)
        assert bias.shape == (weight.shape[0],)
        out = out + bias
    return round_to(out, dtype)


def rope(x, positions, theta, dtype="f32"):
    """``llm.rope``: rotary position embedding, Hugging Face ``rotate_half``.

    ``x`` is ``[batch, seq, heads, head_dim]`` and ``positions`` is
    ``[batch, seq]``.  With ``half = head_dim / 2`` and, for ``i < half``,
    ``inv_freq[i] = theta ** (-2 i / head_dim)``, the angle of element ``d``
    is ``positions[b, s] * inv_freq[d mod half]``, and::

        out = x * cos(angle) + rotate_half(x) * sin(angle)
        rotate_half(x) = concat(-x[..., half:], x[..., :half])

    i.e. element ``i`` of the first half is paired with ``i + half``.
    """
    x = np.asarray(x, dtype=np.float64)
    pos = np.asarray(positions).astype(np.float64)
    batch, seq, heads, head_dim = x.shape
    assert head_dim % 2 == 0 and pos.shape == (batch, seq)
    half = head_dim // 2
    inv_freq = float(theta) ** (-2.0 * np.arange(half) / head_dim)
    angle = pos[:, :, None] * inv_freq[None, None, :]          # [b, s, half]
    angle = np.concatenate([angle, angle], axis=-1)[:, :, None, :]
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return round_to(x * np.cos(angle) + rotated * np.sin(angle), dtype)


def attention(query, keys, values, positions, scale, sliding_window=None,
              dtype="f32"):
    """``llm.attention``: causal grouped-query attention over a KV cache.

    ``query`` is ``[batch, seq, num_heads, head_dim]``; ``keys`` and
    ``values`` are ``[batch, kv_len, num_kv_heads, head_dim]``.  Query head
    ``h`` uses KV head ``h // (num_heads // num_kv_heads)``.  The query token
    ``(b, s)`` is at position ``p = positions[b, s]`` and attends to key
    ``j`` iff ``j <= p`` and, with a sliding window ``w``, ``j > p - w``.
    Scores ``scale * q . k`` go through a softmax over the visible keys; the
    output is the softmax-weighted sum of the values.
    """
    q = np.asarray(query, dtype=np.float64)
    k = np.asarray(keys, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    pos = np.asarray(positions)
    batch, seq, num_heads, head_dim = q.shape
    _, kv_len, num_kv_heads, _ = k.shape
    assert num_heads % num_kv_heads == 0
    group = num_heads // num_kv_heads
    out = np.zeros_like(q)
    for b in range(batch):
        for s in range(seq):
            p = int(pos[b, s])
            visible = [j for j in range(kv_len)
                       if j <= p and (sliding_window is None
                                      or j > p - sliding_window)]
            assert visible, f"query ({b}, {s}) sees no key"
            for h in range(num_heads):
                kvh = h // group
                scores = np.array([scale * np.dot(q[b, s, h], k[b, j, kvh])
                                   for j in visible])
                w = np.exp(scores - scores.max())
                w /= w.sum()
                out[b, s, h] = sum(wj * v[b, j, kvh]
                                   for wj, j in zip(w, visible))
    return round_to(out, dtype)


def kv_cache_write(cache, update, positions):
    """``llm.kv_cache_write``: scatter new keys/values into a KV cache.

    Returns a copy of ``cache`` (``[batch, max_context, num_kv_heads,
    head_dim]``) with ``cache[b, positions[b, s]] = update[b, s]`` for every
    ``(b, s)`` of ``update`` (``[batch, seq, num_kv_heads, head_dim]``).
    Positions of one batch row are expected to be distinct.
    """
    out = np.array(cache, dtype=np.float64, copy=True)
    update = np.asarray(update, dtype=np.float64)
    pos = np.asarray(positions)
    batch, seq = pos.shape
    for b in range(batch):
        assert len(set(pos[b].tolist())) == seq, "duplicate positions"
        for s in range(seq):
            p = int(pos[b, s])
            assert 0 <= p < out.shape[1], "position out of the cache"
            out[b, p] = update[b, s]
    return out


def silu_mul(gate, up, dtype="f32"):
    """``llm.silu_mul``: SwiGLU activation ``silu(gate) * up`` with
    ``silu(x) = x * sigmoid(x) = x / (1 + exp(-x))``."""
    gate = np.asarray(gate, dtype=np.float64)
    up = np.asarray(up, dtype=np.float64)
    return round_to(gate / (1.0 + np.exp(-gate)) * up, dtype)


def add(lhs, rhs, dtype="f32"):
    """``llm.add``: elementwise (residual) addition of same-shaped tensors."""
    lhs = np.asarray(lhs, dtype=np.float64)
    rhs = np.asarray(rhs, dtype=np.float64)
    assert lhs.shape == rhs.shape
    return round_to(lhs + rhs, dtype)


def logits(hidden, weight):
    """``llm.logits``: f32 logits of the last token of each sequence.

    ``hidden`` is ``[batch, seq, hidden]`` and ``weight`` (the LM head or
    the tied embedding table) is ``[vocab, hidden]``; the result is
    ``hidden[:, -1, :] @ weight.T``, ``[batch, vocab]``, always f32.
    """
    hidden = np.asarray(hidden, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    return round_to(hidden[:, -1, :] @ weight.T, "f32")


# ---------------------------------------------------------------------------
# A whole decoder (LLaMA-style), composed from the ops above
# ---------------------------------------------------------------------------

class DecoderConfig:
    """Hyper-parameters of a LLaMA-style decoder (Hugging Face names in the
    comments).  ``TINY`` is Kiln's built-in ``tiny`` model."""

    def __init__(self, hidden_size, intermediate_size, num_layers, num_heads,
                 num_kv_heads, head_dim, vocab_size, rms_norm_eps=1e-5,
                 rope_theta=10000.0, tie_word_embeddings=False,
                 attention_bias=False, sliding_window=None, dtype="f32"):
        self.hidden_size = hidden_size                # hidden_size
        self.intermediate_size = intermediate_size    # intermediate_size
        self.num_layers = num_layers                  # num_hidden_layers
        self.num_heads = num_heads                    # num_attention_heads
        self.num_kv_heads = num_kv_heads              # num_key_value_heads
        self.head_dim = head_dim                      # head_dim
        self.vocab_size = vocab_size                  # vocab_size
        self.rms_norm_eps = rms_norm_eps              # rms_norm_eps
        self.rope_theta = rope_theta                  # rope_theta
        self.tie_word_embeddings = tie_word_embeddings
        self.attention_bias = attention_bias
        self.sliding_window = sliding_window
        self.dtype = dtype        # element type of weights and activations

    def replace(self, **changes):
        """A copy with some fields changed (e.g. ``num_layers=1``)."""
        c = DecoderConfig.__new__(DecoderConfig)
        c.__dict__.update(self.__dict__)
        for k, v in changes.items():
            assert hasattr(c, k), k
            setattr(c, k, v)
        return c


TINY = DecoderConfig(hidden_size=64, intermediate_size=176, num_layers=2,
                     num_heads=4, num_kv_heads=2, head_dim=16, vocab_size=256,
                     rms_norm_eps=1e-5, rope_theta=10000.0,
                     tie_word_embeddings=False)


def decoder_weight_shapes(cfg):
    """The weights of a decoder as ``[(Hugging Face name, shape)]``, in the
    order of a LLaMA checkpoint: embeddings, then per layer the input norm,
    q/k/v (and their biases), o, the post-attention norm, gate/up/down;
    then the final norm and (untied) the LM head."""
    h, inter = cfg.hidden_size, cfg.intermediate_size
    q_dim = cfg.num_heads * cfg.head_dim
    kv_dim = cfg.num_kv_heads * cfg.head_dim
    out = [("model.embed_tokens.weight", (cfg.vocab_size, h))]
    for l in range(cfg.num_layers):
        p = "model.layers.%d." % l
        out += [(p + "input_layernorm.weight", (h,)),
                (p + "self_attn.q_proj.weight", (q_dim, h)),
                (p + "self_attn.k_proj.weight", (kv_dim, h)),
                (p + "self_attn.v_proj.weight", (kv_dim, h))]
        if cfg.attention_bias:
            out += [(p + "self_attn.q_proj.bias", (q_dim,)),
                    (p + "self_attn.k_proj.bias", (kv_dim,)),
                    (p + "self_attn.v_proj.bias", (kv_dim,))]
        out += [(p + "self_attn.o_proj.weight", (h, q_dim)),
                (p + "post_attention_layernorm.weight", (h,)),
                (p + "mlp.gate_proj.weight", (inter, h)),
                (p + "mlp.up_proj.weight", (inter, h)),
                (p + "mlp.down_proj.weight", (h, inter))]
    out.append(("model.norm.weight", (h,)))
    if not cfg.tie_word_embeddings:
        out.append(("lm_head.weight", (cfg.vocab_size, h)))
    return out


def decoder_forward(weights, cfg, ids, positions, k_caches, v_caches, kv_len):
    """One forward step of a LLaMA-style decoder over a KV cache.

    ``weights`` maps Hugging Face tensor names (``decoder_weight_shapes``)
    to arrays; ``ids`` and ``positions`` are ``[batch, seq]``;
    ``k_caches``/``v_caches`` are per-layer ``[batch, max_context,
    num_kv_heads, head_dim]`` arrays.  Every layer writes its new keys and
    values at ``positions`` and attends over the first ``kv_len`` cache
    rows (key ``j`` visible to the query at ``p`` iff ``j <= p``).  Works
    for a prefill (seq > 1) and a decode step (seq == 1) alike.

    Returns ``(logits, k_caches, v_caches)``: the f32 logits of the LAST
    position of each sequence, ``[batch, vocab]``, and new lists of the
    updated caches (the inputs are not modified).

    The layer is Hugging Face's ``LlamaDecoderLayer``: pre-norm attention
    (RMSNorm, q/k/v projections, rotary embedding of q and k, causal GQA
    with scale ``1/sqrt(head_dim)``, o projection, residual add), then a
    pre-norm SwiGLU MLP (``down(silu(gate(y)) * up(y))``, residual add).
    The final RMSNorm and the LM head (the embedding table when tied) give
    the logits.  ``cfg.dtype`` selects the rounding of every op's result
    (see the module docstring); epsilon and the attention scale are taken
    as the f32 numbers the compiled graph holds.
    """
    dt = cfg.dtype
    ids = np.asarray(ids)
    positions = np.asarray(positions)
    batch, seq = ids.shape
    nh, nkv, hd = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
    eps = float(np.float32(cfg.rms_norm_eps))
    scale = float(np.float32(1.0 / np.sqrt(float(hd))))
    assert len(k_caches) == len(v_caches) == cfg.num_layers
    w = {name: round_to(weights[name], dt)
         for name, _ in decoder_weight_shapes(cfg)}
    bias = (lambda name: w[name]) if cfg.attention_bias else (lambda _: None)

    hidden = embedding(w["model.embed_tokens.weight"], ids)
    new_k, new_v = [], []
    for l in range(cfg.num_layers):
        p = "model.layers.%d." % l
        # Attention block.
        x = rms_norm(hidden, w[p + "input_layernorm.weight"], eps, dt)
        q = linear(x, w[p + "self_attn.q_proj.weight"],
                   bias(p + "self_attn.q_proj.bias"), dt)
        k = linear(x, w[p + "self_attn.k_proj.weight"],
                   bias(p + "self_attn.k_proj.bias"), dt)
        v = linear(x, w[p + "self_attn.v_proj.weight"],
                   bias(p + "self_attn.v_proj.bias"), dt)
        q = q.reshape(batch, seq, nh, hd)
        k = k.reshape(batch, seq, nkv, hd)
        v = v.reshape(batch, seq, nkv, hd)
        q = rope(q, positions, cfg.rope_theta, dt)
        k = rope(k, positions, cfg.rope_theta, dt)
        kc = kv_cache_write(round_to(k_caches[l], dt), k, positions)
        vc = kv_cache_write(round_to(v_caches[l], dt), v, positions)
        new_k.append(kc)
        new_v.append(vc)
        attn = attention(q, kc[:, :kv_len], vc[:, :kv_len], positions, scale,
                         sliding_window=cfg.sliding_window, dtype=dt)
        attn_out = linear(attn.reshape(batch, seq, nh * hd),
                          w[p + "self_attn.o_proj.weight"], None, dt)
        residual = add(hidden, attn_out, dt)
        # MLP block (SwiGLU).
        y = rms_norm(residual, w[p + "post_attention_layernorm.weight"], eps,
                     dt)
        gate = linear(y, w[p + "mlp.gate_proj.weight"], None, dt)
        up = linear(y, w[p + "mlp.up_proj.weight"], None, dt)
        down = linear(silu_mul(gate, up, dt), w[p + "mlp.down_proj.weight"],
                      None, dt)
        hidden = add(residual, down, dt)
    # Final norm of the last position only, then the f32 logits.
    last = hidden[:, -1:, :]
    normed = rms_norm(last, w["model.norm.weight"], eps, dt)
    head = w["model.embed_tokens.weight" if cfg.tie_word_embeddings
             else "lm_head.weight"]
    return logits(normed, head), new_k, new_v


# ---------------------------------------------------------------------------
# Self-checks of the reference (python3 kiln_reference.py)
# ---------------------------------------------------------------------------

def _self_test():
    rng = np.random.RandomState(0)

    # bf16 rounding: exact values stay, ties go to even.
    assert round_to(1.0 + 2.0 ** -8, "bf16") == 1.0            # tie -> even
    assert round_to(1.0 + 3 * 2.0 ** -8, "bf16") == 1.0 + 2.0 ** -6
    assert round_to(0.15625, "bf16") == 0.15625

    # embedding is a gather.
    table = rng.randn(5, 3)
    assert np.array_equal(embedding(table, [[4, 0]])[0, 1], table[0])

    # rms_norm: unit RMS output for unit weight.
    x = rng.randn(2, 3, 8)
    y = rms_norm(x, np.ones(8), 0.0, dtype=None)
    assert np.allclose(np.sqrt(np.mean(y * y, axis=-1)), 1.0)

    # linear against an explicit loop.
    w, bias = rng.randn(4, 8), rng.randn(4)
    y = linear(x, w, bias, dtype=None)
    assert np.isclose(y[1, 2, 3], sum(x[1, 2, i] * w[3, i] for i in range(8))
                      + bias[3])

    # rope: position 0 is the identity; rotation preserves each pair's norm;
    # element i pairs with i + half with angle pos * theta^(-2i/d).
    q = rng.randn(1, 2, 3, 8)
    r = rope(q, [[0, 5]], 10000.0, dtype=None)
    assert np.allclose(r[0, 0], q[0, 0])
    a = 5 * 10000.0 ** (-2 * 1 / 8)
    assert np.isclose(r[0, 1, 2, 1],
                      q[0, 1, 2, 1] * np.cos(a) - q[0, 1, 2, 5] * np.sin(a))
    assert np.isclose(r[0, 1, 2, 5],
                      q[0, 1, 2, 5] * np.cos(a) + q[0, 1, 2, 1] * np.sin(a))

    # attention: a query at position 0 returns value 0 of its KV head; a
    # window of 1 returns the value at its own position.
    qq = rng.randn(1, 2, 4, 4)
    kk, vv = rng.randn(1, 5, 2, 4), rng.randn(1, 5, 2, 4)
    o = attention(qq, kk, vv, [[0, 3]], 0.5, dtype=None)
    assert np.allclose(o[0, 0, 3], vv[0, 0, 1])
    o = attention(qq, kk, vv, [[0, 3]], 0.5, sliding_window=1, dtype=None)
    assert np.allclose(o[0, 1, 2], vv[0, 3, 1])

    # kv_cache_write leaves other rows alone.
    cache = rng.randn(1, 6, 2, 4)
    upd = rng.randn(1, 2, 2, 4)
    c = kv_cache_write(cache, upd, [[4, 1]])
    assert np.array_equal(c[0, 4], upd[0, 0]) and np.array_equal(c[0, 0],
                                                                 cache[0, 0])

    assert np.isclose(silu_mul(np.array([0.0, 1.0]), np.array([3.0, 2.0]),
                               dtype=None)[1], 2.0 / (1.0 + np.exp(-1.0)))
    h = rng.randn(2, 3, 8)
    assert np.allclose(logits(h, w), h[:, 2] @ w.T, rtol=1e-6)
    _self_test_decoder(rng)
    print("kiln_reference: self-test passed")


def _self_test_decoder(rng):
    """decoder_forward: a prefill followed by decode steps through the
    cache equals one prefill of the whole sequence (same last logits and
    caches), and cache rows after the query's position are not read."""
    cfg = TINY.replace(num_layers=2, dtype="f64")
    weights = {}
    for name, shape in decoder_weight_shapes(cfg):
        scale = 1.0 / np.sqrt(shape[-1]) if len(shape) == 2 else 0.1
        weights[name] = (1.0 if len(shape) == 1 else 0.0) + \
            scale * rng.randn(*shape)
    batch, total, max_ctx = 2, 6, 9
    ids = rng.randint(0, cfg.vocab_size, size=(batch, total))
    pos = np.tile(np.arange(total), (batch, 1))
    zeros = [np.zeros((batch, max_ctx, cfg.num_kv_heads, cfg.head_dim))
             for _ in range(cfg.num_layers)]
    full, fk, fv = decoder_forward(weights, cfg, ids, pos, zeros, zeros,
                                   total)
    lg, kc, vc = decoder_forward(weights, cfg, ids[:, :4], pos[:, :4], zeros,
                                 zeros, 4)
    for t in (4, 5):
        lg, kc, vc = decoder_forward(weights, cfg, ids[:, t:t + 1],
                                     pos[:, t:t + 1], kc, vc, t + 1)
    assert np.allclose(lg, full, atol=1e-5)
    assert all(np.allclose(a, b) for a, b in zip(kc + vc, fk + fv))
    # Cache rows after the query's position are masked out, even when
    # kv_len covers them: fill them with garbage and decode position 5
    # again (rewriting row 5 with the same key and value).
    def junk(c):
        c = c.copy()
        c[:, total:] = rng.randn(*c[:, total:].shape)
        return c
    lg2, _, _ = decoder_forward(weights, cfg, ids[:, 5:], pos[:, 5:],
                                [junk(c) for c in fk], [junk(c) for c in fv],
                                max_ctx)
    assert np.allclose(lg2, full, atol=1e-5)


if __name__ == "__main__":
    _self_test()
