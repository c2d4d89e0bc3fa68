#!/usr/bin/env python3
"""Generate the numerical integration tests in ``test/Integration``.

Each generated ``<name>.mlir`` builds small deterministic inputs as
``arith.constant dense<...>`` tensors in ``func.func @main()``, calls one
``llm`` op, and prints the result with ``printMemrefF32``.  The file is run
by lit through the whole CPU pipeline and ``mlir-runner``; its CHECK lines
hold the values computed by the independent numpy reference in
``kiln_reference.py``.

``printMemrefF32`` prints every value like C's ``%g`` (6 significant
digits, trailing zeros dropped, exponent form below 1e-4).  FileCheck only
compares text, so each expected value ``v`` becomes a regex that accepts
exactly the printed forms of the numbers within ``max(rtol*|v|, atol)`` of
``v`` (up to one unit in the last compared decimal, see ``value_regex``).

Usage (from the repository root)::

    /usr/bin/python3 python/gen_integration_tests.py          # regenerate
    /usr/bin/python3 python/gen_integration_tests.py --self-test

Inputs are k * lim/128 with |k| <= 128 and lim a power of two, mostly
multiples of 1/64 in [-2, 2] (see ``dyadic``): exact in decimal, in f32 and
in bf16, so the MLIR constants and the reference see the very same numbers.
"""

import argparse
import decimal
import math
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kiln_reference as ref  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "test", "Integration")

RUN_LINE = ("// RUN: kiln-opt %s --kiln-cpu-pipeline | mlir-runner -e main "
            "--entry-point-result=void "
            "--shared-libs=%mlir_runner_utils,%mlir_c_runner_utils "
            "| FileCheck %s")

# Tolerances.  f32: the compiled code computes in f32, the reference in
# float64; f32 rounding of O(1) values through a handful of operations
# (sums of 8 products, exp, rsqrt, sin/cos of angles < 20) stays within a
# few 1e-7, so 1e-5 relative (plus 1e-5 absolute for values near zero)
# leaves a wide margin while still catching any real error.  printMemrefF32
# prints 6 significant digits, i.e. a resolution of 1e-6..1e-5 relative.
F32_TOL = dict(rtol=1e-5, atol=1e-5)
# Data movement, exactly representable results, and bf16 results (the
# bf16 number the reference rounds to; see bf16_header and
# BF16_TIE_MARGIN): the printed text must be that of the expected value.
EXACT = dict(rtol=0.0, atol=0.0)
# Only used to exercise value_regex with coarse tolerances in --self-test.
_COARSE_TOL = dict(rtol=1.6e-2, atol=1e-3)


# ---------------------------------------------------------------------------
# Tolerant regexes for printed values
# ---------------------------------------------------------------------------

def printed(x):
    """The text printMemrefF32 prints for the f32 value ``x`` (C++ stream
    output with the default precision, i.e. ``%g`` with 6 digits)."""
    return format(float(np.float32(x)), ".6g")


def _esc(text):
    """Escapes printed number text for a regex (only '.' and '+' occur)."""
    return text.replace(".", r"\.").replace("+", r"\+")


def _fixed(n, d):
    """Fixed-point text of the integer ``n`` scaled by 10^-d (n >= 0)."""
    s = str(n).rjust(d + 1, "0")
    return s[:-d] + "." + s[-d:]


def _prefix_regex(prefix):
    """Regex for the printed values whose first decimals are ``prefix`` (a
    fixed-point string).  ``%g`` drops trailing zeros, so a prefix ending in
    zeros is also matched by the shorter text without them."""
    short = prefix.rstrip("0")
    if short.endswith("."):
        short = short[:-1]
    rest = prefix[len(short):]
    if not rest:
        return _esc(short) + "[0-9]*"
    return _esc(short) + "(" + _esc(rest) + "[0-9]*)?"


def _range_regexes(sign, n_lo, n_hi, d):
    """Regexes matching fixed-point prefixes n/10^d for n in [n_lo, n_hi]
    (n_lo >= 0), grouping runs that differ only in the last digit."""
    out = []
    n = n_lo
    while n <= n_hi:
        q = n // 10
        last_lo, last_hi = n % 10, min(9, n_hi - q * 10)
        if last_lo == 0:
            out.append(sign + _prefix_regex(_fixed(q * 10, d)))
            last_lo = 1
        if last_lo <= last_hi:
            head = _esc(_fixed(q * 10, d)[:-1])
            digits = (str(last_lo) if last_lo == last_hi
                      else "[%d-%d]" % (last_lo, last_hi))
            out.append(sign + head + digits + "[0-9]*")
        n = q * 10 + 10
    return out


# printMemrefF32 (%g) prints magnitudes below this in exponent form.
EXP_LIMIT = 1e-4


def _trunc(x, d, e=0):
    """The printed text of x >= 0, over 10^e, truncated to d decimals, as an
    integer (so 10^-d units of the printed value, or of its mantissa)."""
    p = decimal.Decimal(printed(x)) / decimal.Decimal(10) ** e
    return int(p * decimal.Decimal(10) ** d)


def _magnitude_regexes(sign, a, b, tol):
    """Regexes for the printed text of values of magnitude in [a, b]
    (0 <= a <= b), compared on decimals (or mantissa decimals) whose unit is
    at most ``tol``."""
    out = []
    if b >= EXP_LIMIT:
        # Fixed-point text, compared on d decimals.
        d = max(1, math.ceil(-math.log10(tol) - 1e-12))
        out += _range_regexes(sign, _trunc(max(a, EXP_LIMIT), d),
                              _trunc(b, d), d)
    if a < EXP_LIMIT:
        # Exponent form m.mmmmme-XX.  Below 10^f (<= tol, <= 1e-4)
        # everything is accepted when the band reaches down there.
        f = min(-4, math.floor(math.log10(tol) + 1e-12))
        first = max(f, math.floor(math.log10(a)) if a > 0 else f)
        if a < 10.0 ** f:
            k = 1 - f
            assert k <= 9, "tolerance too small"
            out.append(sign + r"[1-9](\.[0-9]+)?e-(0[%d-9]|[1-9][0-9]+)" % k)
        for e in range(max(first, -40), -4):
            lo_e, hi_e = max(a, 10.0 ** e), min(b, EXP_LIMIT)
            if lo_e > hi_e:
                continue
            # Mantissa decimals whose unit 10^(e - de) is at most tol.
            de = min(5, max(1, math.ceil(e - math.log10(tol) - 1e-12)))
            n_lo = max(10 ** de, _trunc(lo_e, de, e))
            n_hi = min(10 ** (de + 1) - 1, _trunc(hi_e, de, e))
            out += [r + "e-%02d" % -e
                    for r in _range_regexes(sign, n_lo, n_hi, de)]
    return out


def value_regex(v, rtol, atol):
    """A regex (without FileCheck's braces) matching the printed text of any
    f32 value within ``tol = max(rtol*|v|, atol)`` of ``v``.

    The printed text is compared on the decimals (of the number, or of the
    mantissa in exponent form) whose unit is at most ``tol``: every such
    prefix that a value in ``[v - tol, v + tol]`` prints with is accepted,
    so the accepted band is at most ``[v - 2 tol, v + 2 tol]`` (plus the
    printing's own rounding, 5e-6 relative).  With ``tol == 0`` only the
    exact text of ``v`` is accepted.
    """
    v = float(v)
    tol = max(rtol * abs(v), atol)
    if tol == 0:
        return _esc(printed(v))
    assert abs(v) < 1e5, "value too large for the fixed-point regexes"
    lo, hi = v - tol, v + tol
    alts = []
    if lo <= 0 <= hi:
        alts.append("-?0")
    if hi > 0:
        alts += _magnitude_regexes("", max(lo, 0.0), hi, tol)
    if lo < 0:
        alts += _magnitude_regexes("-", max(-hi, 0.0), -lo, tol)
    return "(" + "|".join(alts) + ")"


def _self_test_regex():
    rng = np.random.RandomState(1)
    checked = 0
    for tol in (F32_TOL, _COARSE_TOL):
        for _ in range(20000):
            mag = 10.0 ** rng.uniform(-8, 3)
            v = float(np.float32(rng.choice([-1, 1]) * mag))
            if rng.rand() < 0.05:
                v = float(np.float32(round(v, 2)))   # round numbers: 6, 0.12
            t = max(tol["rtol"] * abs(v), tol["atol"])
            rx = re.compile(value_regex(v, **tol) + r"\Z")
            for f in (-1.0, -0.999, -0.5, 0.0, 0.5, 0.999, 1.0):
                x = float(np.float32(v + f * t))
                assert rx.match(printed(x)), (v, x, printed(x), rx.pattern)
                checked += 1
            # Beyond the band (plus one unit of the compared decimal and
            # the printing's rounding) nothing may match.
            bound = 2 * t + 5e-6 * abs(v)
            for f in (-1, 1):
                x = float(np.float32(v + f * bound * 1.02))
                assert not rx.match(printed(x)), (v, x, rx.pattern)
                checked += 1
        # Exact matching.
        assert re.fullmatch(value_regex(0.015625, **EXACT), "0.015625")
    print("gen_integration_tests: regex self-test passed (%d values)"
          % checked)


# ---------------------------------------------------------------------------
# MLIR text
# ---------------------------------------------------------------------------


def mlir_float(x):
    """MLIR float literal text (MLIR needs a '.' before any exponent)."""
    return "%.6e" % x if "e" in repr(float(x)) else repr(float(x))


def tensor_type(shape, elem):
    return "tensor<" + "".join("%dx" % s for s in shape) + elem + ">"


def dense_literal(arr, elem):
    """``dense<...>`` text holding the exact values of ``arr``."""
    arr = np.asarray(arr)

    def fmt(x):
        if elem.startswith("i"):
            return str(int(x))
        x = float(x)
        assert ref.round_to(x, elem) == x, "input not exact in " + elem
        return repr(x)

    def rec(a):
        if a.ndim == 0:
            return fmt(a)
        return "[" + ", ".join(rec(s) for s in a) + "]"

    return "dense<" + rec(arr) + ">"


def checks_for(result, tol):
    """CHECK lines for printMemrefF32's output of ``result``."""
    result = np.asarray(result, dtype=np.float64)
    shape = result.shape
    rank = len(shape)
    strides = [int(np.prod(shape[i + 1:])) for i in range(rank)]
    lines = ["// CHECK: rank = %d offset = 0 sizes = [%s] strides = [%s] "
             "data =" % (rank, ", ".join(map(str, shape)),
                         ", ".join(map(str, strides)))]
    rows = result.reshape(-1, shape[-1])
    outer = shape[:-1]
    for r, row in enumerate(rows):
        idx = np.unravel_index(r, outer) if outer else ()
        opens = 1
        for i, n in zip(reversed(idx), reversed(outer)):
            if i != 0:
                break
            opens += 1
        closes = 1
        for i, n in zip(reversed(idx), reversed(outer)):
            if i != n - 1:
                break
            closes += 1
        values = ", ".join("{{%s}}" % value_regex(x, **tol) for x in row)
        last = r == len(rows) - 1
        line = ("{{^ *%s}}" % (r"\[" * opens) + values +
                "{{%s%s *$}}" % (r"\]" * closes, "" if last else ","))
        lines.append("// CHECK-NEXT: " + line)
    return lines


class Case:
    """One printed result of a test file: the MLIR that computes it (ending
    in an f32 tensor named ``result``), the expected values and the
    tolerance."""

    def __init__(self, title, body, result_type, expected, tol):
        self.title, self.body, self.result_type = title, body, result_type
        self.expected, self.tol = np.asarray(expected), tol


class Builder:
    """Accumulates constants and op lines for one case with fresh names."""

    def __init__(self, prefix):
        self.prefix, self.lines = prefix, []

    def const(self, name, arr, elem):
        arr = np.asarray(arr)
        t = tensor_type(arr.shape, elem)
        self.lines.append("  %%%s_%s = arith.constant %s : %s" %
                          (self.prefix, name, dense_literal(arr, elem), t))
        return "%%%s_%s" % (self.prefix, name), t

    def op(self, text):
        self.lines.append("  " + text)

    def name(self, n):
        return "%%%s_%s" % (self.prefix, n)


def ext_to_f32(b, value, shape, elem):
    """Appends a linalg.generic widening ``value`` to f32 (printing needs
    f32); returns the new value's name."""
    if elem == "f32":
        return value
    rank = len(shape)
    dims = ", ".join("d%d" % i for i in range(rank))
    amap = "affine_map<(%s) -> (%s)>" % (dims, dims)
    b.op("%s = tensor.empty() : %s" % (b.name("ext_init"),
                                       tensor_type(shape, "f32")))
    b.op("%s = linalg.generic {indexing_maps = [%s, %s], iterator_types = "
         "[%s]} ins(%s : %s) outs(%s : %s) {" %
         (b.name("ext"), amap, amap, ", ".join(['"parallel"'] * rank), value,
          tensor_type(shape, elem), b.name("ext_init"),
          tensor_type(shape, "f32")))
    b.op("^bb0(%in: " + elem + ", %out: f32):")
    b.op("  %w = arith.extf %in : " + elem + " to f32")
    b.op("  linalg.yield %w : f32")
    b.op("} -> " + tensor_type(shape, "f32"))
    return b.name("ext")


# Generated file -> its cases, for --report.
GENERATED = {}


def write_test(name, header, cases, functions=()):
    lines = [
        "// Generated by python/gen_integration_tests.py; do not edit, "
        "regenerate:",
        "//   /usr/bin/python3 python/gen_integration_tests.py",
        RUN_LINE,
        "//",
    ]
    header = [l for h in header for l in h.split("\n")]
    lines += ["// " + h if h else "//" for h in header]
    lines += [
        "//",
        "// Expected values come from python/kiln_reference.py (numpy, "
        "float64).",
    ]
    if all(c.tol == EXACT for c in cases):
        lines += [
            "// Each CHECK value is exactly the printMemrefF32 text (%g, 6 "
            "significant",
            "// digits) of the reference value."]
    else:
        lines += [
            "// Each CHECK value is a regex accepting the printMemrefF32 text "
            "(%g, 6",
            "// significant digits) of any value within max(rtol*|v|, atol) "
            "of the",
            "// reference value v (see value_regex in the generator)."]
    lines += [
        "",
        "func.func private @printMemrefF32(tensor<*xf32>)",
        "",
    ]
    for fn in functions:
        lines += fn + [""]
    lines.append("func.func @main() {")
    check_lines = []
    for case in cases:
        lines.append("  // " + case.title)
        lines += case.body
        lines.append("  %%%s_u = tensor.cast %%%s : %s to tensor<*xf32>" %
                     (case.result, case.result, case.result_type))
        lines.append("  call @printMemrefF32(%%%s_u) : (tensor<*xf32>) -> ()"
                     % case.result)
        lines.append("")
        check_lines.append("// " + case.title)
        check_lines += checks_for(case.expected, case.tol)
    if lines[-1] == "":
        lines.pop()
    lines += ["  return", "}", ""]
    lines += check_lines
    path = os.path.join(OUT_DIR, name + ".mlir")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    GENERATED[path] = cases
    return path


def finish(b, case_title, value, shape, elem, expected, tol):
    """Turns builder ``b`` into a Case printing ``value`` (an SSA name)."""
    value = ext_to_f32(b, value, shape, elem)
    c = Case(case_title, b.lines, tensor_type(shape, "f32"), expected, tol)
    c.result = value.lstrip("%")  # bare SSA name
    return c


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------

def dyadic(rng, shape, lim=2.0):
    """Deterministic values k/2^m in [-lim, lim] with |k| <= 128 (so exact
    in f32 and bf16, and in decimal), in steps of lim/128."""
    step = lim / 128
    assert step == 2.0 ** round(math.log2(step)), "lim must be a power of 2"
    return rng.randint(-128, 129, size=shape) * step


# ---------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------

def _fn_type(operand_types, result_type):
    return "(%s) -> %s" % (", ".join(operand_types), result_type)


def gen_embedding():
    rng = np.random.RandomState(101)
    cases = []
    for tag, idx_t, ids in (("i32", "i32", [[3, 0, 9], [7, 7, 2]]),
                            ("i64", "i64", [[9, 1, 4]])):
        b = Builder("e" + tag)
        table = dyadic(rng, (10, 8))
        ids = np.array(ids)
        t, tt = b.const("table", table, "f32")
        i, it = b.const("ids", ids, idx_t)
        shape = ids.shape + (8,)
        rt = tensor_type(shape, "f32")
        b.op("%s = llm.embedding %s, %s : %s" %
             (b.name("r"), t, i, _fn_type([tt, it], rt)))
        cases.append(finish(b, "embedding, %s ids %s, vocab 10, hidden 8" %
                            (tag, list(ids.shape)), b.name("r"), shape, "f32",
                            ref.embedding(table, ids), EXACT))
    return write_test("embedding", [
        "llm.embedding: a gather, so the printed values must be exactly the "
        "table rows."], cases)


def bf16_tie_distance(y):
    """Smallest distance, relative to |y|, from the values ``y`` to a
    midpoint between two neighbouring bf16 numbers (where rounding flips)."""
    y = np.abs(np.asarray(y, dtype=np.float64).reshape(-1))
    y = y[y != 0]
    ulp = 2.0 ** (np.floor(np.log2(y)) - 7)       # 8-bit significand
    frac = y / ulp - np.floor(y / ulp)
    return float(np.min(np.abs(frac - 0.5) * ulp / y)) if y.size else 1.0


# f32 noise in a computed value is below ~1e-6 relative; a value this far
# from a bf16 tie rounds to the same bf16 number in f32 and in float64.
BF16_TIE_MARGIN = 2e-5


def gen_rms_norm(elem="f32"):
    rng = np.random.RandomState(102 if elem == "f32" else 202)
    cases = []
    for tag, shape, eps, lim in (("3d", (2, 3, 8), 1e-5, 2.0),
                                 ("2d", (3, 8), 1e-6, 2.0),
                                 # mean(x^2) ~ 3e-4 ~ eps: epsilon matters.
                                 ("small", (2, 8), 1e-4, 2.0 ** -5)):
        b = Builder("n" + tag)
        while True:
            x = dyadic(rng, shape, lim=lim)
            w = dyadic(rng, (shape[-1],))
            if elem == "f32":
                break
            # The only noisy bf16 rounding is that of the normalised value
            # (normalised * weight is exact in f32): keep it off the ties.
            normed = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) +
                                 float(np.float32(eps)))
            if bf16_tie_distance(normed) > BF16_TIE_MARGIN:
                break
        xv, xt = b.const("x", x, elem)
        wv, wt = b.const("w", w, elem)
        rt = tensor_type(shape, elem)
        b.op("%s = llm.rms_norm %s, %s {epsilon = %s : f32} : %s" %
             (b.name("r"), xv, wv, mlir_float(eps), _fn_type([xt, wt], rt)))
        cases.append(finish(b, "rms_norm %s, %s, |x| <= %g, epsilon %g" %
                            (elem, list(shape), lim, eps), b.name("r"), shape,
                            elem,
                            ref.rms_norm(x, w, np.float32(eps), dtype=elem),
                            F32_TOL if elem == "f32" else EXACT))
    return cases


def gen_linear(elem="f32"):
    rng = np.random.RandomState(103 if elem == "f32" else 203)
    cases = []
    for tag, in_shape, out, bias in (("3d_bias", (2, 3, 8), 6, True),
                                     ("2d", (3, 8), 5, False)):
        b = Builder("l" + tag)
        x = dyadic(rng, in_shape)
        w = dyadic(rng, (out, in_shape[-1]))
        bvec = dyadic(rng, (out,)) if bias else None
        xv, xt = b.const("x", x, elem)
        wv, wt = b.const("w", w, elem)
        operands, types = [xv, wv], [xt, wt]
        if bias:
            bv, bt = b.const("b", bvec, elem)
            operands.append(bv)
            types.append(bt)
        shape = in_shape[:-1] + (out,)
        exact_sum = ref.linear(x, w, bvec, dtype=None)
        if elem == "bf16":
            # Products of k/64 values are multiples of 1/4096 and every
            # partial sum stays below 2^11: the f32 accumulation is exact
            # in any order, so the bf16 rounding is deterministic.
            assert np.all(ref.round_to(exact_sum, "f32") == exact_sum)
            assert np.all(np.abs(x).sum(-1).max() * np.abs(w).max() +
                          (0 if bvec is None else np.abs(bvec).max()) < 2**11)
        rt = tensor_type(shape, elem)
        b.op("%s = llm.linear %s : %s" %
             (b.name("r"), ", ".join(operands), _fn_type(types, rt)))
        cases.append(finish(b, "linear %s, input %s, weight [%d, %d], %s" %
                            (elem, list(in_shape), out, in_shape[-1],
                             "bias" if bias else "no bias"),
                            b.name("r"), shape, elem,
                            ref.linear(x, w, bvec, dtype=elem),
                            F32_TOL if elem == "f32" else EXACT))
    return cases


def gen_rope():
    rng = np.random.RandomState(104)
    cases = []
    for tag, shape, pos, idx_t, theta in (
            ("hd8", (2, 3, 2, 8), [[0, 1, 7], [3, 12, 5]], "i32", 10000.0),
            ("hd4", (1, 3, 4, 4), [[2, 9, 4]], "i64", 500000.0)):
        b = Builder("r" + tag)
        x = dyadic(rng, shape)
        pos = np.array(pos)
        xv, xt = b.const("x", x, "f32")
        pv, pt = b.const("pos", pos, idx_t)
        b.op("%s = llm.rope %s, %s {theta = %s : f64} : %s" %
             (b.name("r"), xv, pv, mlir_float(theta),
              _fn_type([xt, pt], tensor_type(shape, "f32"))))
        cases.append(finish(b, "rope, input %s, %s positions %s, theta %g" %
                            (list(shape), idx_t, pos.tolist(), theta),
                            b.name("r"), shape, "f32",
                            ref.rope(x, pos, theta), F32_TOL))
    return write_test("rope", f32_header(
        "llm.rope: Hugging Face rotate_half (element i pairs with i + "
        "head_dim/2),\n"
        "inv_freq = theta^(-2i/head_dim), angle = position * inv_freq."),
        cases)


def gen_attention():
    rng = np.random.RandomState(105)
    cases = []
    configs = (
        ("gqa", "GQA 4 heads / 2 KV heads, causal, kv_len 6 > seq 3",
         2, 3, 4, 2, 4, 6, [[3, 4, 5], [0, 2, 5]], "i64", 0.5, None),
        ("nonmono", "GQA 4/2, positions not increasing, kv_len 7",
         1, 3, 4, 2, 4, 7, [[6, 1, 3]], "i32", 0.5, None),
        ("window", "GQA 4/2, sliding_window 2, kv_len 6",
         2, 3, 4, 2, 4, 6, [[3, 4, 5], [1, 2, 5]], "i64", 0.5, 2),
        ("decode", "decode: seq 1, MQA 4 heads / 1 KV head, window 3",
         2, 1, 4, 1, 4, 6, [[5], [2]], "i32", 0.35, 3),
    )
    for (tag, title, batch, seq, nh, nkv, hd, kv_len, pos, idx_t, scale,
         window) in configs:
        b = Builder("a" + tag)
        q = dyadic(rng, (batch, seq, nh, hd))
        k = dyadic(rng, (batch, kv_len, nkv, hd))
        v = dyadic(rng, (batch, kv_len, nkv, hd))
        pos = np.array(pos)
        qv, qt = b.const("q", q, "f32")
        kv, kt = b.const("k", k, "f32")
        vv, vt = b.const("v", v, "f32")
        pv, pt = b.const("pos", pos, idx_t)
        attrs = "scale = %s : f32" % mlir_float(scale)
        if window is not None:
            attrs += ", sliding_window = %d : i64" % window
        shape = (batch, seq, nh, hd)
        b.op("%s = llm.attention %s, %s, %s, %s {%s} : %s" %
             (b.name("r"), qv, kv, vv, pv, attrs,
              _fn_type([qt, kt, vt, pt], tensor_type(shape, "f32"))))
        expected = ref.attention(q, k, v, pos, float(np.float32(scale)),
                                 sliding_window=window)
        cases.append(finish(b, "attention %s: %s, positions %s" %
                            (tag, title, pos.tolist()), b.name("r"), shape,
                            "f32", expected, F32_TOL))
    return write_test("attention", f32_header(
        "llm.attention: query (b, s) at p = positions[b, s] sees key j iff "
        "j <= p\n"
        "(and j > p - window with sliding_window); query head h reads KV "
        "head\n"
        "h / (num_heads / num_kv_heads); softmax in f32."), cases)


def gen_kv_cache_write():
    rng = np.random.RandomState(106)
    cases = []
    for tag, batch, max_ctx, seq, pos, idx_t in (
            ("prefill", 2, 8, 3, [[1, 4, 6], [7, 0, 3]], "i64"),
            ("decode", 2, 5, 1, [[4], [2]], "i32")):
        b = Builder("c" + tag)
        cache = dyadic(rng, (batch, max_ctx, 2, 4))
        upd = dyadic(rng, (batch, seq, 2, 4))
        pos = np.array(pos)
        cv, ct = b.const("cache", cache, "f32")
        uv, ut = b.const("upd", upd, "f32")
        pv, pt = b.const("pos", pos, idx_t)
        b.op("%s = llm.kv_cache_write %s, %s, %s : %s" %
             (b.name("r"), cv, uv, pv, _fn_type([ct, ut, pt], ct)))
        cases.append(finish(b, "kv_cache_write %s: cache [%d, %d, 2, 4], "
                            "update [%d, %d, 2, 4], %s positions %s" %
                            (tag, batch, max_ctx, batch, seq, idx_t,
                             pos.tolist()), b.name("r"), cache.shape, "f32",
                            ref.kv_cache_write(cache, upd, pos), EXACT))

    # Through a private function: bufferization writes its cache argument
    # in place; the caller must still see value semantics (the constant
    # and the first result are used after the writes).
    batch, max_ctx, seq = 1, 6, 2
    ct = tensor_type((batch, max_ctx, 2, 4), "f32")
    ut = tensor_type((batch, seq, 2, 4), "f32")
    pt = tensor_type((batch, seq), "i64")
    fn_t = _fn_type([ct, ut, pt], ct)
    function = [
        "// The cache argument is written in place after bufferization.",
        "func.func private @write_cache(%%cache: %s, %%upd: %s, %%pos: %s) "
        "-> %s {" % (ct, ut, pt, ct),
        "  %%r = llm.kv_cache_write %%cache, %%upd, %%pos : %s" % fn_t,
        "  return %%r : %s" % ct,
        "}"]
    b = Builder("cf")
    cache = dyadic(rng, (batch, max_ctx, 2, 4))
    upd1, upd2 = dyadic(rng, (batch, seq, 2, 4)), dyadic(rng, (batch, seq,
                                                               2, 4))
    pos1, pos2 = np.array([[5, 2]]), np.array([[0, 5]])
    cv, _ = b.const("cache", cache, "f32")
    u1, _ = b.const("upd1", upd1, "f32")
    p1, _ = b.const("pos1", pos1, "i64")
    u2, _ = b.const("upd2", upd2, "f32")
    p2, _ = b.const("pos2", pos2, "i64")
    b.op("%s = call @write_cache(%s, %s, %s) : %s" %
         (b.name("r1"), cv, u1, p1, fn_t))
    b.op("%s = call @write_cache(%s, %s, %s) : %s" %
         (b.name("r2"), b.name("r1"), u2, p2, fn_t))
    after1 = ref.kv_cache_write(cache, upd1, pos1)
    after2 = ref.kv_cache_write(after1, upd2, pos2)
    shape = cache.shape
    cases.append(finish(b, "kv_cache_write in a private function, twice: "
                        "second result (positions [[5, 2]] then [[0, 5]])",
                        b.name("r2"), shape, "f32", after2, EXACT))
    b = Builder("cf")
    cases.append(finish(b, "... the first result, unchanged by the second "
                        "write", b.name("r1"), shape, "f32", after1, EXACT))
    b = Builder("cf")
    cases.append(finish(b, "... the original cache constant, unchanged",
                        b.name("cache"), shape, "f32", cache, EXACT))
    return write_test("kv_cache_write", [
        "llm.kv_cache_write at non-contiguous positions: data movement, so "
        "the",
        "printed values must be exactly the cache with the update rows "
        "written;",
        "rows not written keep their (non-zero) initial values. The last "
        "case goes",
        "through a function whose cache argument is bufferized in place."],
        cases, functions=[function])


def gen_silu_mul():
    rng = np.random.RandomState(107)
    b = Builder("s")
    shape = (2, 3, 8)
    gate = dyadic(rng, shape, lim=8.0)
    up = dyadic(rng, shape)
    gv, gt = b.const("gate", gate, "f32")
    uv, ut = b.const("up", up, "f32")
    b.op("%s = llm.silu_mul %s, %s : %s" %
         (b.name("r"), gv, uv, _fn_type([gt, ut], gt)))
    case = finish(b, "silu_mul, %s, gate in [-8, 8]" % list(shape),
                  b.name("r"), shape, "f32", ref.silu_mul(gate, up), F32_TOL)
    return write_test("silu_mul", f32_header(
        "llm.silu_mul: silu(gate) * up, silu(x) = x / (1 + exp(-x))."),
        [case])


def gen_add():
    rng = np.random.RandomState(108)
    b = Builder("d")
    shape = (2, 3, 8)
    x, y = dyadic(rng, shape), dyadic(rng, shape)
    xv, xt = b.const("x", x, "f32")
    yv, yt = b.const("y", y, "f32")
    b.op("%s = llm.add %s, %s : %s" %
         (b.name("r"), xv, yv, _fn_type([xt, yt], xt)))
    case = finish(b, "add, %s" % list(shape), b.name("r"), shape, "f32",
                  ref.add(x, y), EXACT)
    return write_test("add", [
        "llm.add: sums of multiples of 1/64 are exact in f32, so the printed",
        "values must be exactly those of the reference."], [case])


def gen_logits():
    rng = np.random.RandomState(109)
    cases = []
    for tag, shape, vocab in (("b2", (2, 3, 8), 10), ("b1s1", (1, 1, 8), 6)):
        b = Builder("g" + tag)
        h = dyadic(rng, shape)
        w = dyadic(rng, (vocab, shape[-1]))
        hv, ht = b.const("h", h, "f32")
        wv, wt = b.const("w", w, "f32")
        oshape = (shape[0], vocab)
        b.op("%s = llm.logits %s, %s : %s" %
             (b.name("r"), hv, wv,
              _fn_type([ht, wt], tensor_type(oshape, "f32"))))
        cases.append(finish(b, "logits, hidden %s, weight [%d, %d]" %
                            (list(shape), vocab, shape[-1]), b.name("r"),
                            oshape, "f32", ref.logits(h, w), F32_TOL))
    return write_test("logits", f32_header(
        "llm.logits: last position's hidden state @ weight.T, in f32."),
        cases)


def f32_header(what):
    return [what,
            "Tolerance: f32 computation, expected agreement ~1e-6 relative; "
            "checked to",
            "rtol %g, atol %g." % (F32_TOL["rtol"], F32_TOL["atol"])]


def bf16_header(what, determinism):
    return [what,
            "bf16 inputs (exactly representable); the bf16 result is widened "
            "to f32",
            "(arith.extf) for printing.",
            "Tolerance: the printed value must be exactly the bf16 number the "
            "reference",
            "rounds to, i.e. within half a bf16 ulp (2^-9..2^-8, 0.2%..0.4% "
            "relative) of",
            "the ideal value; a 1-ulp difference is an error."] + determinism


GENERATORS = [
    lambda: gen_embedding(),
    lambda: write_test("rms_norm", f32_header(
        "llm.rms_norm: x * rsqrt(mean(x^2) + eps) * weight (mean in f32)."),
        gen_rms_norm("f32")),
    lambda: write_test("rms_norm_bf16", bf16_header(
        "llm.rms_norm in bf16: the normalised value is rounded to bf16 "
        "before the\nweight multiplies it (as Hugging Face).", [
            "The generator keeps every normalised value at least %g "
            "(relative) away" % BF16_TIE_MARGIN,
            "from a bf16 rounding tie, far more than f32 noise (~1e-6), so "
            "computing in",
            "f32 or float64 rounds it to the same bf16 number; the product "
            "with the",
            "weight (two bf16 numbers) is exact in f32."]),
        gen_rms_norm("bf16")),
    lambda: write_test("linear", f32_header(
        "llm.linear: x @ weight.T (+ bias), Hugging Face [out, in] weight "
        "layout."), gen_linear("f32")),
    lambda: write_test("linear_bf16", bf16_header(
        "llm.linear in bf16 (f32 accumulation, one rounding at the end).", [
            "The inputs are multiples of 1/64 below 2 in magnitude: every "
            "product and",
            "partial sum is exact in f32, so the bf16 rounding is "
            "deterministic."]),
        gen_linear("bf16")),
    lambda: gen_rope(),
    lambda: gen_attention(),
    lambda: gen_kv_cache_write(),
    lambda: gen_silu_mul(),
    lambda: gen_add(),
    lambda: gen_logits(),
]


_NUMBER = re.compile(r"-?(?:nan|inf|[0-9]+(?:\.[0-9]*)?(?:e[-+][0-9]+)?)")


def run_and_compare(path, cases, kiln_opt, runner, lib_dir):
    """Compiles and runs one generated file; prints, per case, the largest
    absolute and relative difference between the printed values and the
    reference.  Returns False if a case exceeds its tolerance."""
    import subprocess
    libs = ",".join(os.path.join(lib_dir, l) for l in
                    ("libmlir_runner_utils.so", "libmlir_c_runner_utils.so"))
    llvm = subprocess.run([kiln_opt, path, "--kiln-cpu-pipeline"],
                          capture_output=True, text=True)
    if llvm.returncode:
        print("  kiln-opt failed:\n" + llvm.stderr)
        return False
    run = subprocess.run([runner, "-e", "main", "--entry-point-result=void",
                          "--shared-libs=" + libs], input=llvm.stdout,
                         capture_output=True, text=True)
    if run.returncode:
        print("  mlir-runner failed:\n" + run.stderr)
        return False
    blocks = run.stdout.split("Unranked Memref")[1:]
    ok = len(blocks) == len(cases)
    for case, block in zip(cases, blocks):
        got = np.array([float(x) for x in
                        _NUMBER.findall(block.split("data =", 1)[1])])
        want = case.expected.reshape(-1)
        if got.shape != want.shape:
            print("  %s: %d values printed, %d expected" %
                  (case.title, got.size, want.size))
            ok = False
            continue
        err = np.abs(got - want)
        rel = err / np.maximum(np.abs(want), 1e-30)
        tol = np.maximum(case.tol["rtol"] * np.abs(want), case.tol["atol"])
        # Printing keeps 6 significant digits: allow that rounding too.
        tol = tol + 5e-6 * np.abs(want)
        bad = int(np.sum(err > tol))
        ok = ok and bad == 0
        print("  %-75s max abs %.2e, max rel %.2e%s" %
              (case.title[:75], err.max(), rel[want != 0].max()
               if np.any(want != 0) else 0.0,
               "" if not bad else ", %d beyond tolerance" % bad))
    return ok


def main():
    global OUT_DIR
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--self-test", action="store_true",
                   help="check the tolerant regexes, generate nothing")
    p.add_argument("--out-dir", default=OUT_DIR,
                   help="where to write the tests (default: %(default)s)")
    p.add_argument("--report", action="store_true",
                   help="also compile and run every generated test and "
                        "print its numerical differences to the reference")
    p.add_argument("--kiln-opt",
                   default=os.path.join(REPO, "build", "bin", "kiln-opt"))
    p.add_argument("--llvm-dir", default="/usr/lib/llvm-22",
                   help="for bin/mlir-runner and lib/libmlir_*runner_utils")
    args = p.parse_args()
    if args.self_test:
        _self_test_regex()
        return
    OUT_DIR = args.out_dir
    os.makedirs(OUT_DIR, exist_ok=True)
    for gen in GENERATORS:
        print("wrote", os.path.relpath(gen(), REPO))
    if args.report:
        ok = True
        for path, cases in GENERATED.items():
            print(os.path.relpath(path, REPO))
            ok &= run_and_compare(
                path, cases, args.kiln_opt,
                os.path.join(args.llvm_dir, "bin", "mlir-runner"),
                os.path.join(args.llvm_dir, "lib"))
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
