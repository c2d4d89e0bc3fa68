#!/usr/bin/env python3
"""Generate the whole-model numerical tests ``test/Integration/model_*.mlir``.

Each test compiles Kiln's built-in ``tiny`` decoder (``kiln-compile --emit
llm``), adds a ``func.func @main()`` driver to its module, runs it through
``kiln-opt --kiln-cpu-pipeline`` and ``mlir-runner``, and compares what the
driver prints with ``kiln_reference.decoder_forward`` (numpy, float64):

* one prefill of a 5-token prompt (batch 2, different ids per sequence,
  positions 0..4, kv_len 5) into zero-initialised caches (max_context 16);
* a decode step with the greedy next tokens (the argmax of the reference's
  prefill logits, hard-coded here) at position 5, kv_len 6, on the caches
  returned by the prefill;
* a second decode step (the reference's greedy tokens of step 1) at
  position 6, kv_len 7.

After every step the driver prints the first ``PRINTED_COLUMNS`` logits of
each sequence, the logit at the reference's greedy token, and the model's
own argmax of the 256 logits (``llm.argmax``, written into the entry's
``output:argmax`` argument), which must equal the reference's greedy token
exactly.  After the last step it prints slices of two caches (rows
0..7: 7 written rows and one still zero).

Weights are not constants: the driver computes every weight with integer
arithmetic in a ``linalg.generic`` (``weight_ints``), so that this script
reproduces them bit for bit.

Usage (from the repository root)::

    /usr/bin/python3 python/gen_model_test.py           # (re)write them
    /usr/bin/python3 python/gen_model_test.py --report  # + run, errors
    /usr/bin/python3 python/gen_model_test.py --check-mutations
    python3 python/gen_model_test.py --splice MODEL TEST  # RUN lines

``--splice`` (no numpy needed) prints the compiled model's module with the
test's driver (every line of TEST that is not a ``//`` comment) inserted
before its closing brace, after checking that the model's entry arguments
carry the ``llm.binding`` names the driver was generated for.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "test", "Integration")

MAX_CONTEXT = 16
BATCH = 2
PROMPT_LEN = 5
DECODE_STEPS = 2
PRINTED_COLUMNS = 32

# ---------------------------------------------------------------------------
# --splice (text only, no numpy: it runs under lit's %python)
# ---------------------------------------------------------------------------

# Lines of the test header naming the weight arguments, e.g.
#   //   %w3  model.layers.0.self_attn.k_proj.weight  [32, 64]  n/1024
_WEIGHT_LINE = re.compile(r"^//\s+%w(\d+)\s+(\S+)\s+\[")


def _entry_bindings(model_text, name):
    """The llm.binding names of the arguments of func.func @name."""
    m = re.search(r"func\.func @%s\((.*?)\)\s*->" % re.escape(name),
                  model_text, re.S)
    if not m:
        sys.exit("gen_model_test --splice: no func.func @%s in the model"
                 % name)
    return re.findall(r'llm\.binding = "([^"]*)"', m.group(1))


def splice(model_path, test_path):
    with open(model_path) as f:
        model = f.read()
    with open(test_path) as f:
        test = f.read().split("\n")
    weights = []
    for line in test:
        m = _WEIGHT_LINE.match(line)
        if m:
            assert int(m.group(1)) == len(weights), line
            weights.append(m.group(2))
    if not weights:
        sys.exit("gen_model_test --splice: no weight list in " + test_path)
    layers = sum(1 for w in weights if w.endswith(".input_layernorm.weight"))
    expected = (["input:ids", "input:positions", "input:kv_len"] + weights +
                ["kv_cache:%d:%s" % (l, kv) for l in range(layers)
                 for kv in "kv"] + ["output:argmax"])
    for entry in ("prefill", "decode_step"):
        got = _entry_bindings(model, entry)
        if got != expected:
            sys.exit("gen_model_test --splice: the arguments of @%s are\n  %s"
                     "\nbut the driver in %s passes\n  %s\nregenerate the "
                     "test (python/gen_model_test.py)" %
                     (entry, got, test_path, expected))
    driver = [l for l in test if not l.lstrip().startswith("//")]
    body = model.rstrip()
    if not body.endswith("}"):
        sys.exit("gen_model_test --splice: the model does not end with '}'")
    return body[:-1].rstrip() + "\n" + "\n".join(driver).strip("\n") + \
        "\n}\n"


# ---------------------------------------------------------------------------
# Deterministic weights
# ---------------------------------------------------------------------------

_MASK = 0xFFFFFFFF
# lowbias32 (Chris Wellons' integer hash), seeded per weight.
_SEED_MUL, _MUL1, _MUL2 = 0x9E3779B9, 0x7FEB352D, 0x846CA68B


def _weight_kind(name, shape):
    """(scale exponent e, offset): weight = offset + n * 2^-e with n the
    hash integer in [-256, 255] (exact in f32 and in bf16 when offset is
    0; norm weights 1 + n/2048 are rounded to bf16 by arith.truncf)."""
    if len(shape) == 1 and name.endswith("norm.weight"):
        return 11, 1.0      # 1 + n/2048 in [0.875, 1.125)
    if name == "model.embed_tokens.weight":
        return 8, 0.0       # n/256 in [-1, 1)
    if len(shape) == 1:
        return 11, 0.0      # biases (not in tiny)
    fan_in = shape[1]
    # Uniform in [-a, a) with a = 2^-e ~ 2/sqrt(fan_in): outputs of O(1).
    e = 10 if fan_in <= 128 else 11
    return e, 0.0


def weight_ints(k, size):
    """The hash integers n in [-256, 255] of the k-th weight (flat index
    0..size-1), as the driver computes them in i32 arithmetic."""
    import numpy as np
    u = np.uint64
    x = (np.arange(size, dtype=np.uint64) + u(((k + 1) * _SEED_MUL) & _MASK))
    x &= u(_MASK)
    x ^= x >> u(16)
    x = (x * u(_MUL1)) & u(_MASK)
    x ^= x >> u(15)
    x = (x * u(_MUL2)) & u(_MASK)
    x ^= x >> u(16)
    return (x >> u(23)).astype(np.int64) - 256


def make_weights(cfg):
    """{name: float64 array} of the f32 values the driver computes; for
    bf16 the driver rounds them with arith.truncf (round to nearest even),
    as kiln_reference.round_to does."""
    import numpy as np
    out = {}
    for k, (name, shape) in enumerate(ref().decoder_weight_shapes(cfg)):
        e, off = _weight_kind(name, shape)
        n = weight_ints(k, int(np.prod(shape))).reshape(shape)
        v = off + n * 2.0 ** -e
        out[name] = ref().round_to(v, cfg.dtype)
    return out


def _i32(c):
    """A 32-bit pattern as a signed i32 literal."""
    c &= _MASK
    return c - (1 << 32) if c >= 1 << 31 else c


def weight_generic(k, name, shape, elem):
    """MLIR lines computing weight k into %w<k>."""
    e, off = _weight_kind(name, shape)
    rank = len(shape)
    t = "tensor<%s%s>" % ("".join("%dx" % s for s in shape), elem)
    dims = ", ".join("d%d" % i for i in range(rank))
    lines = [
        "  %%w%d_init = tensor.empty() : %s" % (k, t),
        "  %%w%d = linalg.generic {indexing_maps = [affine_map<(%s) -> (%s)>]"
        ", iterator_types = [%s]} outs(%%w%d_init : %s) {" %
        (k, dims, dims, ", ".join(['"parallel"'] * rank), k, t),
        "  ^bb0(%%out: %s):" % elem,
    ]
    b = []
    for d in range(rank):
        b.append("%%ix%d = linalg.index %d : index" % (d, d))
        b.append("%%i%d = arith.index_cast %%ix%d : index to i32" % (d, d))
    if rank == 1:
        flat = "%i0"
    else:
        b.append("%%cols = arith.constant %d : i32" % shape[1])
        b.append("%rowbase = arith.muli %i0, %cols : i32")
        b.append("%flat = arith.addi %rowbase, %i1 : i32")
        flat = "%flat"
    b += [
        "%%seed = arith.constant %d : i32" % _i32((k + 1) * _SEED_MUL),
        "%%x0 = arith.addi %s, %%seed : i32" % flat,
        "%c16 = arith.constant 16 : i32",
        "%c15 = arith.constant 15 : i32",
        "%c23 = arith.constant 23 : i32",
        "%h0 = arith.shrui %x0, %c16 : i32",
        "%x1 = arith.xori %x0, %h0 : i32",
        "%%m1 = arith.constant %d : i32" % _i32(_MUL1),
        "%x2 = arith.muli %x1, %m1 : i32",
        "%h2 = arith.shrui %x2, %c15 : i32",
        "%x3 = arith.xori %x2, %h2 : i32",
        "%%m2 = arith.constant %d : i32" % _i32(_MUL2),
        "%x4 = arith.muli %x3, %m2 : i32",
        "%h4 = arith.shrui %x4, %c16 : i32",
        "%x5 = arith.xori %x4, %h4 : i32",
        "%top = arith.shrui %x5, %c23 : i32",
        "%c256 = arith.constant 256 : i32",
        "%n = arith.subi %top, %c256 : i32",
        "%nf = arith.sitofp %n : i32 to f32",
        "%%scale = arith.constant %s : f32" % repr(2.0 ** -e),
        "%v = arith.mulf %nf, %scale : f32",
    ]
    v = "%v"
    if off:
        b += ["%%off = arith.constant %s : f32" % repr(off),
              "%vo = arith.addf %v, %off : f32"]
        v = "%vo"
    if elem != "f32":
        b.append("%%vt = arith.truncf %s : f32 to %s" % (v, elem))
        v = "%vt"
    b.append("linalg.yield %s : %s" % (v, elem))
    lines += ["    " + l for l in b]
    lines.append("  } -> %s" % t)
    return lines


# ---------------------------------------------------------------------------
# The reference run
# ---------------------------------------------------------------------------

_REF = None


def ref():
    global _REF
    if _REF is None:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import kiln_reference
        _REF = kiln_reference
    return _REF


class Run:
    """The reference's results of the prefill and the decode steps."""

    def __init__(self, cfg, weights, prompt):
        import numpy as np
        self.prompt = np.asarray(prompt)
        caches = [np.zeros((BATCH, MAX_CONTEXT, cfg.num_kv_heads,
                            cfg.head_dim)) for _ in range(cfg.num_layers)]
        kc, vc = caches, list(caches)
        self.steps = []   # (ids, positions, kv_len, logits)
        ids = self.prompt
        pos = np.tile(np.arange(PROMPT_LEN), (BATCH, 1))
        kv_len = PROMPT_LEN
        for step in range(DECODE_STEPS + 1):
            lg, kc, vc = ref().decoder_forward(weights, cfg, ids, pos, kc, vc,
                                               kv_len)
            self.steps.append((ids, pos, kv_len, lg))
            ids = np.argmax(lg, axis=1).reshape(BATCH, 1)
            pos = np.full((BATCH, 1), kv_len)
            kv_len += 1
        self.k_caches, self.v_caches = kc, vc

    def greedy(self, step):
        import numpy as np
        return np.argmax(self.steps[step][3], axis=1)

    def min_gap(self):
        """Smallest gap between the best and the second-best logit."""
        import numpy as np
        gaps = []
        for *_, lg in self.steps:
            s = np.sort(lg, axis=1)
            gaps.append(np.min(s[:, -1] - s[:, -2]))
        return min(gaps)


# Two cache slices printed after the last step: (layer, "k"/"v", KV head).
CACHE_SLICES = (("last", "k", 1), (0, "v", 0))
CACHE_ROWS, CACHE_DIMS = 8, 4


def cache_slice(run, cfg, layer, kv, head):
    layer = cfg.num_layers - 1 if layer == "last" else layer
    c = (run.k_caches if kv == "k" else run.v_caches)[layer]
    return layer, c[:, :CACHE_ROWS, head, :CACHE_DIMS]


# ---------------------------------------------------------------------------
# Tolerances
# ---------------------------------------------------------------------------

# f32: the compiled code computes in f32 (its own summation order,
# vectorised exp/sin/cos/rsqrt), the reference in float64 rounding every op
# result to f32.  --report measures differences of ~5e-6 on logits of
# magnitude ~4, i.e. the 6 printed digits; perturbing every inexact op
# result of the reference by 1e-6 relative (~8 f32 ulps, noise_spread)
# moves the checked values by ~3e-5.  1e-4 relative and absolute keeps a
# margin of 3x over that and 20x over the measurement, while the errors
# that --check-mutations injects (wrong rope angle, shifted mask, missing
# residual, ...) are larger than 1e-2.
F32_TOL = dict(rtol=1e-4, atol=1e-4)
# bf16: every op rounds its result to bf16 (8 significant bits).  A value
# that the f32 computation gets within its rounding error of a bf16 tie
# (float64 in the reference) may round the other way: a 1-ulp (0.4%) flip
# of one activation moves the logits by up to ~1e-2.  Perturbing every
# inexact op result of the reference by 1e-5 relative (100x the f32
# rounding error) before its rounding, which flips a few such values,
# moves the checked values by up to ~4e-2; the measured difference is
# ~5e-6 (no flip).  Checked to 0.1 absolute (2% relative above 5).
BF16_TOL = dict(rtol=2e-2, atol=1e-1)


def noise_spread(cfg, weights, run, noise, trials=16, seed=7):
    """Largest change of any printed value when every op result of the
    reference is multiplied by (1 + noise * N(0, 1)) before its rounding to
    cfg.dtype: how far an f32 computation can legitimately land from the
    float64 one (including bf16 rounding flips).  The weights (already
    rounded to the element type) are not perturbed."""
    import numpy as np
    r = ref()
    rng = np.random.RandomState(seed)
    original = r.round_to
    exact = {id(w) for w in weights.values()}

    def noisy(x, dtype):
        x = np.asarray(x, dtype=np.float64)
        if id(x) not in exact and dtype not in (None, "f64"):
            # Values exact in f32 (sums of products of few-bit numbers) are
            # computed exactly in f32 too: only perturb the others.
            inexact = x != x.astype(np.float32)
            x = x * (1.0 + noise * inexact * rng.standard_normal(x.shape))
        return original(x, dtype)

    worst = 0.0
    try:
        r.round_to = noisy
        for _ in range(trials):
            kc = [np.zeros_like(c) for c in run.k_caches]
            vc = [np.zeros_like(c) for c in run.v_caches]
            for step, (ids, pos, kv_len, lg) in enumerate(run.steps):
                got, kc, vc = r.decoder_forward(weights, cfg, ids, pos, kc, vc,
                                                kv_len)
                worst = max(worst, np.max(np.abs(got - lg)))
            for c, want in zip(kc + vc, run.k_caches + run.v_caches):
                worst = max(worst, np.max(np.abs(c - want)))
    finally:
        r.round_to = original
    return worst


# ---------------------------------------------------------------------------
# The driver and the test file
# ---------------------------------------------------------------------------

def _ttype(shape, elem):
    return "tensor<%s%s>" % ("".join("%sx" % s for s in shape), elem)


def _dense_i32(arr):
    return "dense<%s> : %s" % (
        str(arr.tolist()).replace(" ", ""), _ttype(arr.shape, "i32"))


def driver(cfg, run):
    """The MLIR text of the driver (declarations and @main)."""
    import numpy as np
    elem = cfg.dtype
    shapes = ref().decoder_weight_shapes(cfg)
    vocab = cfg.vocab_size
    cache_t = _ttype(("?", "?", cfg.num_kv_heads, cfg.head_dim), elem)
    cache_static = _ttype((BATCH, MAX_CONTEXT, cfg.num_kv_heads,
                           cfg.head_dim), elem)
    logits_t = _ttype(("?", vocab), "f32")
    at, dyn_at = _ttype((BATCH,), "i32"), _ttype(("?",), "i32")
    L = []
    L += ["func.func private @printMemrefF32(tensor<*xf32>)",
          "func.func private @printMemrefI32(tensor<*xi32>)",
          "",
          "func.func @main() {",
          "  %c0 = arith.constant 0 : index",
          "  %c1 = arith.constant 1 : index",
          "  // Weights (see the list in the header).  Only the printing "
          "needs the runtime",
          "  // libraries; everything else is compiled code."]
    weight_args, weight_types = [], []
    for k, (name, shape) in enumerate(shapes):
        L.append("  // %%w%d: %s" % (k, name))
        L += weight_generic(k, name, shape, elem)
        weight_args.append("%%w%d" % k)
        weight_types.append(_ttype(shape, elem))
    L.append("  // KV caches [batch %d, max_context %d, %d, %d], zero; one "
             "buffer each." % (BATCH, MAX_CONTEXT, cfg.num_kv_heads,
                               cfg.head_dim))
    L.append("  %%zero = arith.constant 0.0 : %s" % elem)
    caches = []
    for l in range(cfg.num_layers):
        for kv in "kv":
            n = "%%%s%d" % (kv, l)
            L += ["  %s_init = tensor.empty() : %s" % (n, cache_static),
                  "  %s_fill = linalg.fill ins(%%zero : %s) outs(%s_init : %s)"
                  " -> %s" % (n, elem, n, cache_static, cache_static),
                  "  %s_0 = tensor.cast %s_fill : %s to %s" %
                  (n, n, cache_static, cache_t)]
            caches.append(n)
    cache_vals = ["%s_0" % n for n in caches]
    prints = []
    for step, (ids, pos, kv_len, _) in enumerate(run.steps):
        entry = "prefill" if step == 0 else "decode_step"
        dyn_ids_t = _ttype(("?", "?" if step == 0 else 1), "i32")
        what = ("prefill: ids %s, positions %d..%d, kv_len %d" %
                (ids.tolist(), pos[0, 0], pos[0, -1], kv_len) if step == 0
                else "decode step %d: greedy ids %s, position %d, kv_len %d"
                % (step, ids.reshape(-1).tolist(), pos[0, 0], kv_len))
        s = "s%d" % step
        L += ["",
              "  // Step %d, %s" % (step, what),
              "  %%%s_ids = arith.constant %s" % (s, _dense_i32(ids)),
              "  %%%s_pos = arith.constant %s" % (s, _dense_i32(pos)),
              "  %%%s_idsd = tensor.cast %%%s_ids : %s to %s" %
              (s, s, _ttype(ids.shape, "i32"), dyn_ids_t),
              "  %%%s_posd = tensor.cast %%%s_pos : %s to %s" %
              (s, s, _ttype(pos.shape, "i32"), dyn_ids_t),
              "  %%%s_kvlen = arith.constant %d : index" % (s, kv_len),
              "  // The model writes each sequence's greedy token here "
              "(output:argmax).",
              "  %%%s_am_init = tensor.empty() : %s" % (s, at),
              "  %%%s_am_out = tensor.cast %%%s_am_init : %s to %s" %
              (s, s, at, dyn_at)]
        args = (["%%%s_idsd" % s, "%%%s_posd" % s, "%%%s_kvlen" % s] +
                weight_args + cache_vals + ["%%%s_am_out" % s])
        types = ([dyn_ids_t, dyn_ids_t, "index"] + weight_types +
                 [cache_t] * len(cache_vals) + [dyn_at])
        results = [logits_t] + [cache_t] * len(cache_vals) + [dyn_at]
        L.append("  %%%s:%d = call @%s(%s) : (%s) -> (%s)" %
                 (s, len(results), entry, ", ".join(args), ", ".join(types),
                  ", ".join(results)))
        cache_vals = ["%%%s#%d" % (s, i + 1) for i in range(len(caches))]
        lg2 = _ttype((BATCH, vocab), "f32")
        sl = _ttype((BATCH, PRINTED_COLUMNS), "f32")
        greedy = run.greedy(step)
        L += ["  %%%s_lg = tensor.cast %%%s#0 : %s to %s" %
              (s, s, logits_t, lg2),
              "  // The first %d logits of each sequence." % PRINTED_COLUMNS,
              "  %%%s_cols = tensor.extract_slice %%%s_lg[0, 0] [%d, %d] "
              "[1, 1] : %s to %s" % (s, s, BATCH, PRINTED_COLUMNS, lg2, sl),
              "  %%%s_cols_u = tensor.cast %%%s_cols : %s to tensor<*xf32>" %
              (s, s, sl),
              "  call @printMemrefF32(%%%s_cols_u) : (tensor<*xf32>) -> ()" %
              s,
              "  // The logit of the reference's greedy token %s." %
              greedy.tolist()]
        elems = []
        for b in range(BATCH):
            L += ["  %%%s_gc%d = arith.constant %d : index" %
                  (s, b, greedy[b]),
                  "  %%%s_g%d = tensor.extract %%%s_lg[%%c%d, %%%s_gc%d] : %s"
                  % (s, b, s, b, s, b, lg2)]
            elems.append("%%%s_g%d" % (s, b))
        assert BATCH == 2   # %c0 and %c1 index the rows above
        gt = _ttype((BATCH,), "f32")
        L += ["  %%%s_g = tensor.from_elements %s : %s" %
              (s, ", ".join(elems), gt),
              "  %%%s_g_u = tensor.cast %%%s_g : %s to tensor<*xf32>" %
              (s, s, gt),
              "  call @printMemrefF32(%%%s_g_u) : (tensor<*xf32>) -> ()" % s,
              "  // The model's argmax of each row (llm.argmax, written into "
              "output:argmax)."]
        L += [
            "  %%%s_am_u = tensor.cast %%%s#%d : %s to tensor<*xi32>" %
            (s, s, len(results) - 1, dyn_at),
            "  call @printMemrefI32(%%%s_am_u) : (tensor<*xi32>) -> ()" % s]
        prints.append(("step %d (%s): logits[:, 0:%d]" %
                       (step, entry, PRINTED_COLUMNS),
                       run.steps[step][3][:, :PRINTED_COLUMNS], "tol"))
        prints.append(("step %d: logits at the reference's greedy tokens %s"
                       % (step, greedy.tolist()),
                       run.steps[step][3][np.arange(BATCH), greedy], "tol"))
        prints.append(("step %d: the model's argmax (llm.argmax) == "
                       "reference greedy tokens" % step, greedy, "exact"))
    # Cache slices after the last step.
    for layer, kv, head in CACHE_SLICES:
        layer, want = cache_slice(run, cfg, layer, kv, head)
        n = "%%%s%d_slice" % (kv, layer)
        idx = 2 * layer + (0 if kv == "k" else 1)
        st = _ttype((BATCH, CACHE_ROWS, CACHE_DIMS), elem)
        src = _ttype((BATCH, MAX_CONTEXT, cfg.num_kv_heads, cfg.head_dim),
                     elem)
        L += ["",
              "  // Cache %s of layer %d after the last step, KV head %d, "
              "rows 0..%d, dims 0..%d" % (kv.upper(), layer, head,
                                          CACHE_ROWS - 1, CACHE_DIMS - 1),
              "  %s_st = tensor.cast %s : %s to %s" %
              (n, cache_vals[idx], cache_t, src),
              "  %s = tensor.extract_slice %s_st[0, 0, %d, 0] [%d, %d, 1, %d] "
              "[1, 1, 1, 1] : %s to %s" % (n, n, head, BATCH, CACHE_ROWS,
                                           CACHE_DIMS, src, st)]
        v = n
        if elem != "f32":
            ft = _ttype((BATCH, CACHE_ROWS, CACHE_DIMS), "f32")
            amap = "affine_map<(d0, d1, d2) -> (d0, d1, d2)>"
            L += ["  %s_ext_init = tensor.empty() : %s" % (n, ft),
                  "  %s_ext = linalg.generic {indexing_maps = [%s, %s], "
                  "iterator_types = [\"parallel\", \"parallel\", "
                  "\"parallel\"]} ins(%s : %s) outs(%s_ext_init : %s) {" %
                  (n, amap, amap, n, st, n, ft),
                  "  ^bb0(%%in: %s, %%out: f32):" % elem,
                  "    %%w = arith.extf %%in : %s to f32" % elem,
                  "    linalg.yield %w : f32",
                  "  } -> %s" % ft]
            v = n + "_ext"
        L += ["  %s_u = tensor.cast %s : %s to tensor<*xf32>" %
              (n, v, _ttype((BATCH, CACHE_ROWS, CACHE_DIMS), "f32")),
              "  call @printMemrefF32(%s_u) : (tensor<*xf32>) -> ()" % n]
        prints.append(("cache %s of layer %d, KV head %d, rows 0..%d (row "
                       "%d never written: 0), dims 0..%d" %
                       (kv.upper(), layer, head, CACHE_ROWS - 1,
                        CACHE_ROWS - 1, CACHE_DIMS - 1), want, "tol"))
    L += ["  return", "}"]
    return L, prints


def choose_prompt(cfg, weights, min_gap, seed):
    """A deterministic prompt whose greedy choices are clear: at every step
    the best logit beats the second by at least min_gap."""
    import numpy as np
    rng = np.random.RandomState(seed)
    for _ in range(200):
        prompt = rng.randint(0, cfg.vocab_size, size=(BATCH, PROMPT_LEN))
        if np.array_equal(prompt[0], prompt[1]):
            continue
        run = Run(cfg, weights, prompt)
        if run.min_gap() >= min_gap:
            return run
    sys.exit("no prompt with a greedy gap of %g" % min_gap)


VARIANTS = {
    # name: (dtype, tolerance, minimal greedy gap, prompt seed, noise for
    # noise_spread)
    "f32": ("f32", F32_TOL, 0.05, 1, 1e-6),
    "bf16": ("bf16", BF16_TOL, 0.25, 2, 1e-5),
}


def build(variant, mutate=None):
    """(test file text, prints, run, noise spread) of one variant."""
    import numpy as np
    import gen_integration_tests as git
    dtype, tol, gap, seed, noise = VARIANTS[variant]
    cfg = ref().TINY.replace(dtype=dtype)
    weights = make_weights(cfg)
    run = choose_prompt(cfg, weights, gap, seed)
    if mutate is not None:
        with mutate():
            run = Run(cfg, weights, run.prompt)
    spread = noise_spread(cfg, weights, run, noise)
    if mutate is None:
        # The argmax is checked exactly: no two logits within the
        # tolerance may compete for it.
        top = max(np.abs(lg).max() for *_, lg in run.steps)
        assert run.min_gap() > 2 * max(tol["atol"], tol["rtol"] * top)
    drv, prints = driver(cfg, run)
    rtol, atol = tol["rtol"], tol["atol"]
    name = "model_tiny_%s" % variant
    lines = [
        "// Generated by python/gen_model_test.py; do not edit, regenerate:",
        "//   /usr/bin/python3 python/gen_model_test.py",
        "// RUN: kiln-compile --builtin tiny --dtype %s --emit llm -o "
        "%%t.model.mlir --quiet" % dtype,
        "// RUN: %python %S/../../python/gen_model_test.py --splice "
        "%t.model.mlir %s > %t.full.mlir",
        "// RUN: kiln-opt %t.full.mlir --kiln-cpu-pipeline | mlir-runner -e "
        "main --entry-point-result=void "
        "--shared-libs=%mlir_runner_utils,%mlir_c_runner_utils | FileCheck %s",
        "//",
        "// The whole compiled tiny decoder (%s; hidden %d, %d layers, %d "
        "heads / %d KV heads," % (dtype, cfg.hidden_size, cfg.num_layers,
                                  cfg.num_heads, cfg.num_kv_heads),
        "// head_dim %d, vocab %d) against kiln_reference.decoder_forward: a "
        "prefill of" % (cfg.head_dim, cfg.vocab_size),
        "// %d tokens (batch %d, positions 0..%d, kv_len %d) into zeroed "
        "caches of" % (PROMPT_LEN, BATCH, PROMPT_LEN - 1, PROMPT_LEN),
        "// max_context %d, then %d greedy decode steps (positions %s, "
        "kv_len %s)" % (MAX_CONTEXT, DECODE_STEPS,
                         "/".join(str(PROMPT_LEN + i)
                                  for i in range(DECODE_STEPS)),
                         "/".join(str(PROMPT_LEN + 1 + i)
                                  for i in range(DECODE_STEPS))),
        "// on the caches each step returns.  The driver below is spliced "
        "into the",
        "// compiled module (the non-comment lines of this file, see "
        "--splice).",
        "//",
        "// Checked after each step: logits[:, 0:%d], the logit of the "
        "reference's" % PRINTED_COLUMNS,
        "// greedy token, and the model's argmax of all %d logits "
        "(output:argmax), which" % cfg.vocab_size,
        "// must be the reference's greedy token (its margin over the "
        "runner-up is",
        "// at least %.3g in every step and row).  After the last step: "
        "slices of" % run.min_gap(),
        "// two caches (7 written rows and one still zero).",
    ]
    if dtype == "f32":
        lines += [
            "// Tolerance: max(%g*|v|, %g) per value.  The compiled code "
            "computes in f32" % (rtol, atol),
            "// (its own summation order, vectorised exp/sin/cos/rsqrt), "
            "the reference in",
            "// float64 rounding every op result to f32.  Perturbing every "
            "inexact op",
            "// result of the reference by %g relative (~8 f32 ulps) moves "
            "the checked" % noise,
            "// values by at most %.1e; the measured difference (--report) "
            "is ~5e-6," % spread,
            "// the printing's 6 digits.  The errors --check-mutations "
            "injects are > 1e-2.",
        ]
    else:
        lines += [
            "// Tolerance: max(%g*|v|, %g) per value.  Every op rounds its "
            "result to bf16" % (rtol, atol),
            "// (8 significant bits).  The compiled code computes in f32, "
            "the reference in",
            "// float64: a value within the f32 rounding error of a bf16 "
            "tie may round the",
            "// other way, a 0.4% flip that moves the logits by up to "
            "~1e-2.  Perturbing",
            "// every inexact op result of the reference by %g relative "
            "(100x the f32" % noise,
            "// error) before its rounding flips a few and moves the checked "
            "values by up",
            "// to %.1e; the measured difference (--report) is ~5e-6 (no "
            "flip).  The" % spread,
            "// argmax must be exact: its margin (>= %.3g) exceeds twice the "
            "tolerance." % run.min_gap(),
        ]
    lines += [
        "//",
        "// Weight arguments of @prefill/@decode_step, in order (--splice "
        "checks them",
        "// against the llm.binding attributes of the compiled model).  "
        "Weight k,",
        "// element at flat (row-major) index i: n = (lowbias32(i + (k+1) * "
        "0x9E3779B9)",
        "// >> 23) - 256 in [-256, 255], in i32 arithmetic; value = n * "
        "scale (+ 1)%s:" % ("," if dtype == "bf16" else ""),
    ]
    if dtype == "bf16":
        lines.append("// rounded to bf16 with arith.truncf (exact but for the "
                     "norm weights):")
    for k, (wname, shape) in enumerate(ref().decoder_weight_shapes(cfg)):
        e, off = _weight_kind(wname, shape)
        lines.append("//   %%w%-3d %-46s %-10s %sn/%d" %
                     (k, wname, str(list(shape)), "1 + " if off else "",
                      2 ** e))
    lines += ["", ""]
    lines += drv
    lines.append("")
    for title, values, kind in prints:
        lines.append("// " + title)
        t = git.EXACT if kind == "exact" else tol
        check = git.checks_for(np.asarray(values, dtype=np.float64), t)
        # Slices are printed as views: their strides are the parent's.
        check[0] = re.sub(r"offset = 0 (.*) strides = \[[0-9, ]*\]",
                          r"offset = {{[0-9]+}} \1 strides = {{.*}}",
                          check[0])
        lines += check
    text = "\n".join(lines) + "\n"
    return name, text, prints, run, spread


# ---------------------------------------------------------------------------
# Running (for --report and --check-mutations)
# ---------------------------------------------------------------------------

def _tools(args):
    return dict(
        compile=os.path.join(args.build, "bin", "kiln-compile"),
        opt=os.path.join(args.build, "bin", "kiln-opt"),
        runner=os.path.join(args.llvm_dir, "bin", "mlir-runner"),
        filecheck=os.path.join(args.llvm_dir, "bin", "FileCheck"),
        libs=",".join(os.path.join(args.llvm_dir, "lib", l) for l in
                      ("libmlir_runner_utils.so",
                       "libmlir_c_runner_utils.so")))


def compile_and_run(tools, dtype, test_path, tmp):
    """Runs the RUN lines' commands up to the runner; returns its stdout."""
    model = os.path.join(tmp, "model_%s.mlir" % dtype)
    subprocess.run([tools["compile"], "--builtin", "tiny", "--dtype", dtype,
                    "--emit", "llm", "-o", model, "--quiet"], check=True,
                   stdout=subprocess.DEVNULL)
    full = splice(model, test_path)
    llvm = subprocess.run([tools["opt"], "-", "--kiln-cpu-pipeline"],
                          input=full, capture_output=True, text=True)
    if llvm.returncode:
        sys.exit("kiln-opt failed:\n" + llvm.stderr)
    out = subprocess.run([tools["runner"], "-e", "main",
                          "--entry-point-result=void",
                          "--shared-libs=" + tools["libs"]],
                         input=llvm.stdout, capture_output=True, text=True)
    if out.returncode:
        sys.exit("mlir-runner failed:\n" + out.stderr)
    return out.stdout


_NUMBER = re.compile(r"-?(?:nan|inf|[0-9]+(?:\.[0-9]*)?(?:e[-+][0-9]+)?)")


def report(prints, output, tol):
    import numpy as np
    blocks = output.split("Unranked Memref")[1:]
    ok = len(blocks) == len(prints)
    for (title, want, kind), block in zip(prints, blocks):
        got = np.array([float(x) for x in
                        _NUMBER.findall(block.split("data =", 1)[1])])
        want = np.asarray(want, dtype=np.float64).reshape(-1)
        if got.shape != want.shape:
            print("  %s: %d values, %d expected" % (title, got.size,
                                                     want.size))
            ok = False
            continue
        err = np.abs(got - want)
        t = (np.zeros_like(want) if kind == "exact" else
             np.maximum(tol["rtol"] * np.abs(want), tol["atol"]))
        bad = int(np.sum(err > t + 5e-6 * np.abs(want)))
        ok = ok and bad == 0
        print("  %-66s max abs err %.2e (max |v| %.2f)%s" %
              (title[:66], err.max(), np.abs(want).max(),
               ", %d BEYOND TOLERANCE" % bad if bad else ""))
    return ok


def filecheck(tools, output, test_path):
    r = subprocess.run([tools["filecheck"], test_path], input=output,
                       capture_output=True, text=True)
    return r.returncode == 0, r.stderr


# Perturbations of the reference for --check-mutations: each must make the
# test fail (FileCheck reports a mismatch).
def _mutations():
    import contextlib
    import numpy as np
    r = ref()

    def patch(attr, fn):
        @contextlib.contextmanager
        def cm():
            orig = getattr(r, attr)
            setattr(r, attr, fn(orig))
            try:
                yield
            finally:
                setattr(r, attr, orig)
        return cm

    def attention_shifted_mask(orig):
        # Off by one: the query at p sees keys j <= p - 1 (and itself at 0).
        def f(q, k, v, positions, scale, sliding_window=None, dtype="f32"):
            pos = np.maximum(np.asarray(positions) - 1, 0)
            return orig(q, k, v, pos, scale, sliding_window, dtype)
        return f

    def attention_scale_1(orig):
        return lambda q, k, v, p, scale, sliding_window=None, dtype="f32": \
            orig(q, k, v, p, 1.0, sliding_window, dtype)

    def add_skip_second(orig):
        # Skip the MLP residual: the first calls of add per layer are the
        # attention residuals; drop the rhs of every second call.
        state = {"n": 0}

        def f(lhs, rhs, dtype="f32"):
            state["n"] += 1
            if state["n"] % 2 == 0:
                return orig(lhs, np.zeros_like(np.asarray(rhs, float)), dtype)
            return orig(lhs, rhs, dtype)
        return f

    def rms_eps(orig):
        return lambda x, w, eps, dtype="f32": orig(x, w, 1e-2, dtype)

    def silu_swap(orig):
        return lambda gate, up, dtype="f32": orig(up, gate, dtype)

    def gqa_modulo(orig):
        # Query head h reads KV head h % num_kv_heads (not h // group):
        # permute the query heads so that the original mapping does that.
        def f(q, k, v, positions, scale, sliding_window=None, dtype="f32"):
            nh, nkv = q.shape[2], k.shape[2]
            perm = sorted(range(nh), key=lambda h: h % nkv)
            out = orig(q[:, :, perm], k, v, positions, scale, sliding_window,
                       dtype)
            res = np.empty_like(out)
            res[:, :, perm] = out
            return res
        return f

    def cache_not_kept(orig):
        # Every write starts from an empty cache: earlier rows are lost.
        return lambda cache, update, positions: orig(
            np.zeros_like(np.asarray(cache, float)), update, positions)

    # title: (perturbation, variants whose tolerance must catch it)
    both = ("f32", "bf16")
    return {
        "rope theta 10000 -> 500000":
            (patch("rope", lambda o: lambda x, p, th, dtype="f32":
                   o(x, p, 500000.0, dtype)), both),
        "rope: pairs (2i, 2i+1) instead of rotate_half":
            (patch("rope", lambda o: _rope_interleaved), both),
        "attention mask off by one (key j visible iff j <= p - 1)":
            (patch("attention", attention_shifted_mask), both),
        "attention scale 1 instead of 1/sqrt(head_dim)":
            (patch("attention", attention_scale_1), both),
        "GQA: query head h reads KV head h % num_kv_heads":
            (patch("attention", gqa_modulo), both),
        "KV cache not kept between steps":
            (patch("kv_cache_write", cache_not_kept), both),
        "MLP residual add skipped":
            (patch("add", add_skip_second), both),
        "silu_mul(up, gate) instead of silu_mul(gate, up)":
            (patch("silu_mul", silu_swap), both),
        # A 0.5% change of the normalised values: below the bf16 tolerance.
        "rms_norm epsilon 1e-5 -> 1e-2":
            (patch("rms_norm", rms_eps), ("f32",)),
    }


def _rope_interleaved(x, positions, theta, dtype="f32"):
    """GPT-J style rope (pairs (2i, 2i+1)): a plausible wrong convention."""
    import numpy as np
    x = np.asarray(x, dtype=np.float64)
    pos = np.asarray(positions).astype(np.float64)
    hd = x.shape[-1]
    inv = float(theta) ** (-2.0 * np.arange(hd // 2) / hd)
    ang = pos[:, :, None, None] * inv
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = a * np.cos(ang) - b * np.sin(ang)
    out[..., 1::2] = b * np.cos(ang) + a * np.sin(ang)
    return ref().round_to(out, dtype)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--splice", nargs=2, metavar=("MODEL", "TEST"),
                   help="print MODEL's module with TEST's driver inserted")
    p.add_argument("--out-dir", default=OUT_DIR)
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help="which tests to write (default: %(default)s)")
    p.add_argument("--report", action="store_true",
                   help="also compile and run the tests and print the "
                        "differences to the reference")
    p.add_argument("--check-mutations", action="store_true",
                   help="check that perturbed references make the f32 test "
                        "fail (writes nothing into --out-dir)")
    p.add_argument("--build", default=os.path.join(REPO, "build"))
    p.add_argument("--llvm-dir", default="/usr/lib/llvm-22")
    args = p.parse_args()
    if args.splice:
        sys.stdout.write(splice(*args.splice))
        return
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    variants = args.variants.split(",")
    tools = _tools(args)
    ok = True
    if args.check_mutations:
        with tempfile.TemporaryDirectory() as tmp:
            for variant in variants:
                for title, (mutate, must) in _mutations().items():
                    name, text, prints, run, _ = build(variant, mutate)
                    path = os.path.join(tmp, name + ".mlir")
                    with open(path, "w") as f:
                        f.write(text)
                    out = compile_and_run(tools, VARIANTS[variant][0], path,
                                          tmp)
                    passed, err = filecheck(tools, out, path)
                    first = next((l for l in err.split("\n")
                                  if "error:" in l), "error:")
                    if passed:
                        verdict = "NOT DETECTED" + (
                            "" if variant in must else
                            " (expected: below the %s tolerance)" % variant)
                    else:
                        verdict = "detected (%s)" % first.split(
                            "error:", 1)[1].strip()
                    print("%-5s %-58s %s" % (variant, title, verdict))
                    ok &= not (passed and variant in must)
        sys.exit(0 if ok else 1)
    os.makedirs(args.out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for variant in variants:
            name, text, prints, run, spread = build(variant)
            path = os.path.join(args.out_dir, name + ".mlir")
            with open(path, "w") as f:
                f.write(text)
            print("wrote %s (greedy margin %.3g, noise spread %.2e)" %
                  (os.path.relpath(path, REPO), run.min_gap(), spread))
            if args.report:
                out = compile_and_run(tools, VARIANTS[variant][0], path, tmp)
                ok &= report(prints, out, VARIANTS[variant][1])
                passed, err = filecheck(tools, out, path)
                print("  FileCheck: %s" % ("pass" if passed else "FAIL\n" +
                                           err[:3000]))
                ok &= passed
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
