//===- LLMOps.cpp - llm dialect operations --------------------------------===//
//
// Verifiers. Each mismatch gets its own diagnostic naming the operand and the
// sizes involved; dynamic sizes are only compared once they are known.
//
//===----------------------------------------------------------------------===//
#include "kiln/Dialect/LLM/IR/LLMOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

#include <cmath>
#include <limits>
#include <string>

using namespace mlir;
using namespace kiln::llm;

namespace {
RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// Fails with a diagnostic unless `v` has rank `rank`.
LogicalResult expectRank(Operation *op, Value v, StringRef name, int64_t rank,
                         StringRef layout) {
  int64_t actual = tensorType(v).getRank();
  if (actual == rank)
    return success();
  return op->emitOpError() << "expects " << name << " of rank " << rank << " "
                           << layout << ", got rank " << actual;
}

/// Fails unless two (possibly dynamic) sizes can be equal.
LogicalResult expectSameSize(Operation *op, int64_t a, StringRef aName,
                             int64_t b, StringRef bName) {
  if (ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b)
    return success();
  return op->emitOpError() << aName << " (" << a << ") does not match " << bName
                           << " (" << b << ")";
}

LogicalResult expectSameElementType(Operation *op, Value a, StringRef aName,
                                    Value b, StringRef bName) {
  Type ta = tensorType(a).getElementType(), tb = tensorType(b).getElementType();
  if (ta == tb)
    return success();
  return op->emitOpError() << "element type of " << aName << " (" << ta
                           << ") does not match " << bName << " (" << tb << ")";
}

/// Checks that `result` has exactly the shape and element type of `source`
/// (up to dynamic sizes).
LogicalResult expectSameShape(Operation *op, Value source, StringRef name,
                              Value result, StringRef resultName) {
  auto st = tensorType(source), rt = tensorType(result);
  if (st.getRank() != rt.getRank())
    return op->emitOpError()
           << resultName << " rank (" << rt.getRank() << ") does not match "
           << name << " rank (" << st.getRank() << ")";
  for (int64_t i = 0; i < st.getRank(); ++i) {
    std::string a = (resultName + " dim " + Twine(i)).str();
    std::string b = (name + " dim " + Twine(i)).str();
    if (failed(expectSameSize(op, rt.getDimSize(i), a, st.getDimSize(i), b)))
      return failure();
  }
  return expectSameElementType(op, result, resultName, source, name);
}

/// `positions` must be `[batch, seq]` of `tokens` (`[batch, seq, ...]`).
LogicalResult expectPositionsFor(Operation *op, Value positions, Value tokens,
                                 StringRef tokensName) {
  if (failed(expectRank(op, positions, "positions", 2, "[batch, seq]")))
    return failure();
  auto pt = tensorType(positions), tt = tensorType(tokens);
  if (failed(expectSameSize(op, pt.getDimSize(0), "positions batch size",
                            tt.getDimSize(0),
                            (tokensName + " batch size").str())) ||
      failed(expectSameSize(op, pt.getDimSize(1), "positions sequence length",
                            tt.getDimSize(1),
                            (tokensName + " sequence length").str())))
    return failure();
  return success();
}
} // namespace

LogicalResult EmbeddingOp::verify() {
  Operation *op = getOperation();
  if (failed(expectRank(op, getTable(), "table", 2, "[vocab, hidden]")) ||
      failed(expectRank(op, getIds(), "ids", 2, "[batch, seq]")) ||
      failed(expectRank(op, getResult(), "result", 3, "[batch, seq, hidden]")))
    return failure();
  auto table = tensorType(getTable()), ids = tensorType(getIds()),
       res = tensorType(getResult());
  if (failed(expectSameSize(op, res.getDimSize(0), "result batch size",
                            ids.getDimSize(0), "ids batch size")) ||
      failed(expectSameSize(op, res.getDimSize(1), "result sequence length",
                            ids.getDimSize(1), "ids sequence length")) ||
      failed(expectSameSize(op, res.getDimSize(2), "result hidden size",
                            table.getDimSize(1), "table hidden size")))
    return failure();
  return expectSameElementType(op, getResult(), "result", getTable(), "table");
}

LogicalResult RMSNormOp::verify() {
  Operation *op = getOperation();
  auto in = tensorType(getInput());
  if (in.getRank() < 1)
    return emitOpError("expects input of rank >= 1");
  if (failed(expectRank(op, getWeight(), "weight", 1, "[hidden]")) ||
      failed(expectSameSize(op, tensorType(getWeight()).getDimSize(0),
                            "weight size", in.getDimSize(in.getRank() - 1),
                            "input hidden size")) ||
      failed(expectSameElementType(op, getWeight(), "weight", getInput(),
                                   "input")))
    return failure();
  if (!(getEpsilon().convertToFloat() > 0.0f))
    return emitOpError("expects a positive epsilon, got ")
           << getEpsilon().convertToFloat();
  return expectSameShape(op, getInput(), "input", getResult(), "result");
}

LogicalResult LinearOp::verify() {
  Operation *op = getOperation();
  auto in = tensorType(getInput()), res = tensorType(getResult());
  if (in.getRank() != 2 && in.getRank() != 3)
    return emitOpError("expects input of rank 2 [tokens, in] or 3 "
                       "[batch, seq, in], got rank ")
           << in.getRank();
  if (failed(expectRank(op, getWeight(), "weight", 2, "[out, in]")))
    return failure();
  auto w = tensorType(getWeight());
  if (failed(expectSameSize(op, in.getDimSize(in.getRank() - 1),
                            "input feature size", w.getDimSize(1),
                            "weight in-features")) ||
      failed(expectSameElementType(op, getWeight(), "weight", getInput(),
                                   "input")))
    return failure();
  if (Value bias = getBias()) {
    if (failed(expectRank(op, bias, "bias", 1, "[out]")) ||
        failed(expectSameSize(op, tensorType(bias).getDimSize(0), "bias size",
                              w.getDimSize(0), "weight out-features")) ||
        failed(expectSameElementType(op, bias, "bias", getInput(), "input")))
      return failure();
  }
  if (res.getRank() != in.getRank())
    return emitOpError("result rank (")
           << res.getRank() << ") does not match input rank (" << in.getRank()
           << ")";
  for (int64_t i = 0; i + 1 < in.getRank(); ++i)
    if (failed(expectSameSize(
            op, res.getDimSize(i), ("result dim " + Twine(i)).str(),
            in.getDimSize(i), ("input dim " + Twine(i)).str())))
      return failure();
  if (failed(expectSameSize(op, res.getDimSize(res.getRank() - 1),
                            "result feature size", w.getDimSize(0),
                            "weight out-features")))
    return failure();
  return expectSameElementType(op, getResult(), "result", getInput(), "input");
}

LogicalResult RopeOp::verify() {
  Operation *op = getOperation();
  if (failed(expectRank(op, getInput(), "input", 4,
                        "[batch, seq, heads, head_dim]")) ||
      failed(expectPositionsFor(op, getPositions(), getInput(), "input")))
    return failure();
  int64_t headDim = tensorType(getInput()).getDimSize(3);
  if (ShapedType::isDynamic(headDim) || headDim <= 0 || headDim % 2 != 0)
    return emitOpError("expects a static, positive, even head_dim, got ")
           << (ShapedType::isDynamic(headDim) ? std::string("?")
                                              : std::to_string(headDim));
  if (!(getTheta().convertToDouble() > 0.0) || getTheta().isInfinity())
    return emitOpError("expects a positive, finite theta, got ")
           << getTheta().convertToDouble();
  if (std::optional<ArrayRef<double>> invFreq = getInvFreq()) {
    if (static_cast<int64_t>(invFreq->size()) != headDim / 2)
      return emitOpError("expects inv_freq to have head_dim/2 = ")
             << headDim / 2 << " values, got " << invFreq->size();
    for (double f : *invFreq)
      if (!(f > 0.0) || std::isinf(f))
        return emitOpError("expects positive, finite inv_freq values, got ")
               << f;
  }
  return expectSameShape(op, getInput(), "input", getResult(), "result");
}

LogicalResult AttentionOp::verify() {
  Operation *op = getOperation();
  const char *layout = "[batch, seq, heads, head_dim]";
  if (failed(expectRank(op, getQuery(), "query", 4, layout)) ||
      failed(expectRank(op, getKeys(), "keys", 4,
                        "[batch, kv_len, kv_heads, head_dim]")) ||
      failed(expectRank(op, getValues(), "values", 4,
                        "[batch, kv_len, kv_heads, head_dim]")) ||
      failed(expectPositionsFor(op, getPositions(), getQuery(), "query")))
    return failure();
  auto q = tensorType(getQuery()), k = tensorType(getKeys()),
       v = tensorType(getValues());
  if (failed(expectSameShape(op, getKeys(), "keys", getValues(), "values")) ||
      failed(
          expectSameElementType(op, getKeys(), "keys", getQuery(), "query")) ||
      failed(expectSameSize(op, k.getDimSize(0), "keys batch size",
                            q.getDimSize(0), "query batch size")) ||
      failed(expectSameSize(op, k.getDimSize(3), "keys head_dim",
                            q.getDimSize(3), "query head_dim")))
    return failure();
  (void)v;
  int64_t numHeads = q.getDimSize(2), numKvHeads = k.getDimSize(2);
  if (ShapedType::isDynamic(numHeads) || ShapedType::isDynamic(numKvHeads) ||
      ShapedType::isDynamic(q.getDimSize(3)) ||
      ShapedType::isDynamic(k.getDimSize(3)))
    return emitOpError("expects static head counts and head_dim");
  if (numHeads <= 0 || numKvHeads <= 0 || q.getDimSize(3) <= 0)
    return emitOpError("expects positive head counts and head_dim, got ")
           << numHeads << " heads, " << numKvHeads << " kv heads, head_dim "
           << q.getDimSize(3);
  if (numHeads % numKvHeads != 0)
    return emitOpError("num_heads (")
           << numHeads << ") must be a multiple of num_kv_heads (" << numKvHeads
           << ")";
  if (!(getScale().convertToFloat() > 0.0f))
    return emitOpError("expects a positive scale, got ")
           << getScale().convertToFloat();
  return expectSameShape(op, getQuery(), "query", getResult(), "result");
}

LogicalResult KVCacheWriteOp::verify() {
  Operation *op = getOperation();
  if (failed(expectRank(op, getCache(), "cache", 4,
                        "[batch, max_context, kv_heads, head_dim]")) ||
      failed(expectRank(op, getUpdate(), "update", 4,
                        "[batch, seq, kv_heads, head_dim]")) ||
      failed(expectPositionsFor(op, getPositions(), getUpdate(), "update")))
    return failure();
  auto c = tensorType(getCache()), u = tensorType(getUpdate());
  if (!ShapedType::isDynamic(u.getDimSize(1)) &&
      !ShapedType::isDynamic(c.getDimSize(1)) &&
      u.getDimSize(1) > c.getDimSize(1))
    return emitOpError("writes ")
           << u.getDimSize(1) << " tokens per sequence into a cache of "
           << c.getDimSize(1) << " positions";
  if (failed(expectSameSize(op, u.getDimSize(0), "update batch size",
                            c.getDimSize(0), "cache batch size")) ||
      failed(expectSameSize(op, u.getDimSize(2), "update kv_heads",
                            c.getDimSize(2), "cache kv_heads")) ||
      failed(expectSameSize(op, u.getDimSize(3), "update head_dim",
                            c.getDimSize(3), "cache head_dim")) ||
      failed(expectSameElementType(op, getUpdate(), "update", getCache(),
                                   "cache")))
    return failure();
  return expectSameShape(op, getCache(), "cache", getResult(), "result");
}

LogicalResult SiluMulOp::verify() {
  Operation *op = getOperation();
  if (failed(expectSameShape(op, getGate(), "gate", getUp(), "up")))
    return failure();
  return expectSameShape(op, getGate(), "gate", getResult(), "result");
}

LogicalResult AddOp::verify() {
  Operation *op = getOperation();
  if (failed(expectSameShape(op, getLhs(), "lhs", getRhs(), "rhs")))
    return failure();
  return expectSameShape(op, getLhs(), "lhs", getResult(), "result");
}

LogicalResult LogitsOp::verify() {
  Operation *op = getOperation();
  if (failed(
          expectRank(op, getHidden(), "hidden", 3, "[batch, seq, hidden]")) ||
      failed(expectRank(op, getWeight(), "weight", 2, "[vocab, hidden]")) ||
      failed(expectRank(op, getResult(), "result", 2, "[batch, vocab]")))
    return failure();
  auto h = tensorType(getHidden()), w = tensorType(getWeight()),
       r = tensorType(getResult());
  if (failed(expectSameSize(op, w.getDimSize(1), "weight hidden size",
                            h.getDimSize(2), "hidden size")) ||
      failed(expectSameSize(op, r.getDimSize(0), "result batch size",
                            h.getDimSize(0), "hidden batch size")) ||
      failed(expectSameSize(op, r.getDimSize(1), "result vocab size",
                            w.getDimSize(0), "weight vocab size")) ||
      failed(expectSameElementType(op, getWeight(), "weight", getHidden(),
                                   "hidden")))
    return failure();
  return success();
}

LogicalResult ArgmaxOp::verify() {
  Operation *op = getOperation();
  if (failed(expectRank(op, getLogits(), "logits", 2, "[batch, vocab]")) ||
      failed(expectRank(op, getResult(), "result", 1, "[batch]")))
    return failure();
  auto l = tensorType(getLogits()), r = tensorType(getResult());
  if (failed(expectSameSize(op, r.getDimSize(0), "result batch size",
                            l.getDimSize(0), "logits batch size")))
    return failure();
  // The vocabulary size is the NaN marker, so it must be known and an i32.
  int64_t vocab = l.getDimSize(1);
  if (ShapedType::isDynamic(vocab) || vocab < 1 ||
      vocab >= std::numeric_limits<int32_t>::max())
    return op->emitOpError()
           << "expects a static vocab size in [1, 2^31 - 1), got "
           << (ShapedType::isDynamic(vocab) ? std::string("?")
                                            : std::to_string(vocab));
  return success();
}

#define GET_OP_CLASSES
#include "kiln/Dialect/LLM/IR/LLMOps.cpp.inc"
