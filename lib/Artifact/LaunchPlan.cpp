//===- LaunchPlan.cpp - the host side of a GPU entry as data --------------===//
//
// After kiln-cuda-to-ptx and inlining, the host side of an entry is
// straight-line code: sizes of the inputs, index arithmetic, buffer
// allocations and views, kernel launches. This file evaluates it
// symbolically, once, at compile time: every index becomes an affine
// expression of the entry's dynamic sizes (the symbols s0, s1, ...), every
// memref a view (buffer, offset, sizes, strides in elements) of an entry
// argument or of a workspace buffer, and every gpu.launch_func a launch
// record. The runtime then needs no host code: it evaluates the
// expressions for the actual sizes and issues the launches.
//
//===----------------------------------------------------------------------===//
#include "kiln/Artifact/LaunchPlan.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/AffineExpr.h"
#include "mlir/IR/AffineMap.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/FormatVariadic.h"

#include <limits>

using namespace mlir;
namespace json = llvm::json;

namespace {
/// A memref during the evaluation: a view of buffer `buffer` (an entry
/// argument or a workspace allocation, see Evaluator::buffers).
struct View {
  int64_t buffer = -1;
  AffineExpr offset;
  SmallVector<AffineExpr> sizes, strides;
};

std::string str(AffineExpr e) {
  std::string s;
  llvm::raw_string_ostream os(s);
  e.print(os);
  return s;
}

class Evaluator {
public:
  Evaluator(func::FuncOp entry) : entry(entry), ctx(entry.getContext()) {}

  llvm::Expected<json::Object> run();

private:
  llvm::Error fail(Operation *op, const llvm::Twine &why) {
    std::string name = op->getName().getStringRef().str();
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("launch plan of '{0}': {1} ('{2}')", entry.getSymName(),
                      why.str(), name));
  }
  AffineExpr symbol(json::Object desc) {
    AffineExpr s = getAffineSymbolExpr(symbols.size(), ctx);
    symbols.push_back(std::move(desc));
    return s;
  }
  AffineExpr constant(int64_t v) { return getAffineConstantExpr(v, ctx); }
  /// `e` simplified over the symbols known so far.
  AffineExpr simplify(AffineExpr e) {
    return simplifyAffineExpr(e, 0, symbols.size());
  }
  /// The view whose values `source` holds, or null if it is not known.
  const View *viewOf(Value source) {
    auto it = views.find(source);
    return it == views.end() ? nullptr : &it->second;
  }
  /// Row-major view of a whole buffer of type `type` with `sizes`.
  View wholeBuffer(int64_t buffer, ArrayRef<AffineExpr> sizes) {
    View v;
    v.buffer = buffer;
    v.offset = constant(0);
    v.sizes.assign(sizes.begin(), sizes.end());
    v.strides.resize(sizes.size());
    AffineExpr stride = constant(1);
    for (int64_t d = sizes.size() - 1; d >= 0; --d) {
      v.strides[d] = stride;
      stride = stride * sizes[d];
    }
    return v;
  }
  FailureOr<AffineExpr> index(Operation *user, Value v) {
    auto it = indices.find(v);
    if (it != indices.end())
      return it->second;
    if (auto c = v.getDefiningOp<arith::ConstantIndexOp>())
      return constant(c.value());
    return failure();
  }
  AffineExpr fold(OpFoldResult ofr) {
    if (auto attr = dyn_cast<Attribute>(ofr))
      return constant(cast<IntegerAttr>(attr).getInt());
    return indices.lookup(cast<Value>(ofr));
  }
  llvm::Error evaluate(Operation *op);
  json::Value viewJson(const View &v) {
    json::Array sizes, strides;
    for (AffineExpr e : v.sizes)
      sizes.push_back(str(e));
    for (AffineExpr e : v.strides)
      strides.push_back(str(e));
    return json::Object{{"buffer", v.buffer},
                        {"offset", str(v.offset)},
                        {"sizes", std::move(sizes)},
                        {"strides", std::move(strides)}};
  }

  /// Marks buffer `b` used by launch `at` (INT64_MAX: returned).
  void touch(int64_t b, int64_t at) {
    auto &[first, last] = lifetimes[b];
    if (first < 0)
      first = at;
    last = std::max(last, at);
  }
  /// Workspace buffers whose uses do not overlap share a slot: the runtime
  /// allocates one block per slot, as large as its largest buffer.
  int64_t assignSlots();

  func::FuncOp entry;
  MLIRContext *ctx;
  std::vector<json::Object> symbols;
  json::Array buffers, launches, results;
  /// Per buffer: the first and the last launch that uses it (-1: none).
  std::vector<std::pair<int64_t, int64_t>> lifetimes;
  llvm::DenseMap<Value, AffineExpr> indices;
  llvm::DenseMap<Value, View> views;
};

llvm::Expected<json::Object> Evaluator::run() {
  // Arguments: memrefs are buffers bound by name (llm.binding), their
  // dynamic sizes and the index arguments are the symbols.
  for (BlockArgument arg : entry.getArguments()) {
    auto binding =
        entry.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "llm.binding");
    std::string name =
        binding ? binding.str() : "arg" + std::to_string(arg.getArgNumber());
    if (arg.getType().isIndex()) {
      indices[arg] = symbol(json::Object{{"binding", name}});
      continue;
    }
    auto type = dyn_cast<MemRefType>(arg.getType());
    if (!type || !type.getLayout().isIdentity())
      return fail(entry, "argument " + std::to_string(arg.getArgNumber()) +
                             " is neither an index nor an identity memref");
    SmallVector<AffineExpr> sizes;
    for (auto [d, size] : llvm::enumerate(type.getShape()))
      sizes.push_back(
          ShapedType::isDynamic(size)
              ? symbol(json::Object{{"binding", name}, {"dim", int64_t(d)}})
              : constant(size));
    int64_t id = buffers.size();
    buffers.push_back(
        json::Object{{"binding", name},
                     {"element_bits", int64_t(type.getElementTypeBitWidth())}});
    lifetimes.push_back({-1, -1});
    views[arg] = wholeBuffer(id, sizes);
  }
  for (Operation &op : entry.getBody().front())
    if (llvm::Error err = evaluate(&op))
      return std::move(err);
  int64_t numSlots = assignSlots();
  json::Array symbolArray;
  for (json::Object &s : symbols)
    symbolArray.push_back(std::move(s));
  return json::Object{
      {"entry", entry.getSymName()},       {"workspace_slots", numSlots},
      {"symbols", std::move(symbolArray)}, {"buffers", std::move(buffers)},
      {"launches", std::move(launches)},   {"results", std::move(results)}};
}

int64_t Evaluator::assignSlots() {
  // Greedy interval assignment in order of first use; a slot is free for a
  // buffer once the last launch of its current buffer precedes the buffer's
  // first launch (a launch reading one and writing the other keeps both).
  std::vector<int64_t> order;
  for (int64_t b = 0, e = buffers.size(); b < e; ++b)
    if (buffers[b].getAsObject()->get("workspace"))
      order.push_back(b);
  llvm::sort(order, [&](int64_t a, int64_t b) {
    return std::make_pair(lifetimes[a].first, a) <
           std::make_pair(lifetimes[b].first, b);
  });
  std::vector<int64_t> slotEnd;
  for (int64_t b : order) {
    auto [first, last] = lifetimes[b];
    int64_t slot = -1;
    for (int64_t s = 0, e = slotEnd.size(); s < e && first >= 0; ++s)
      if (slotEnd[s] < first) {
        slot = s;
        break;
      }
    if (slot < 0) {
      slot = slotEnd.size();
      slotEnd.push_back(-1);
    }
    // An unused buffer keeps its slot to itself.
    slotEnd[slot] = first < 0 ? std::numeric_limits<int64_t>::max() : last;
    (*buffers[b].getAsObject())["slot"] = slot;
  }
  return slotEnd.size();
}

llvm::Error Evaluator::evaluate(Operation *op) {
  auto need = [&](Value v) -> FailureOr<AffineExpr> { return index(op, v); };
  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    if (c.getType().isIndex())
      indices[c] = constant(cast<IntegerAttr>(c.getValue()).getInt());
    return llvm::Error::success(); // other constants: read at the launch
  }
  if (isa<arith::AddIOp, arith::SubIOp, arith::MulIOp, arith::DivUIOp,
          arith::RemUIOp, arith::CeilDivUIOp, arith::DivSIOp,
          arith::FloorDivSIOp, arith::CeilDivSIOp, arith::RemSIOp>(op)) {
    FailureOr<AffineExpr> a = need(op->getOperand(0)),
                          b = need(op->getOperand(1));
    if (failed(a) || failed(b))
      return fail(op, "an operand is not an index known on the host");
    bool constDivisor = isa<AffineConstantExpr>(*b);
    AffineExpr r;
    if (isa<arith::AddIOp>(op))
      r = *a + *b;
    else if (isa<arith::SubIOp>(op))
      r = *a - *b;
    else if (isa<arith::MulIOp>(op))
      r = *a * *b;
    else if (!constDivisor)
      return fail(op, "division by a size that is not a constant");
    else if (isa<arith::CeilDivUIOp, arith::CeilDivSIOp>(op))
      r = a->ceilDiv(*b);
    else if (isa<arith::RemUIOp, arith::RemSIOp>(op))
      r = *a % *b;
    else // sizes are never negative: floor = truncation
      r = a->floorDiv(*b);
    indices[op->getResult(0)] = simplify(r);
    return llvm::Error::success();
  }
  if (auto apply = dyn_cast<affine::AffineApplyOp>(op)) {
    SmallVector<AffineExpr> operands;
    for (Value v : apply.getMapOperands()) {
      FailureOr<AffineExpr> e = need(v);
      if (failed(e))
        return fail(op, "an operand is not an index known on the host");
      operands.push_back(*e);
    }
    AffineMap map = apply.getAffineMap();
    AffineExpr r = map.getResult(0).replaceDimsAndSymbols(
        ArrayRef<AffineExpr>(operands).take_front(map.getNumDims()),
        ArrayRef<AffineExpr>(operands).drop_front(map.getNumDims()));
    indices[apply] = simplify(r);
    return llvm::Error::success();
  }
  if (auto dim = dyn_cast<memref::DimOp>(op)) {
    auto it = views.find(dim.getSource());
    std::optional<int64_t> d = dim.getConstantIndex();
    if (it == views.end() || !d)
      return fail(op, "the size of an unknown memref");
    indices[dim] = it->second.sizes[*d];
    return llvm::Error::success();
  }
  if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
    MemRefType type = alloc.getType();
    SmallVector<AffineExpr> sizes;
    unsigned dyn = 0;
    for (int64_t size : type.getShape()) {
      if (!ShapedType::isDynamic(size)) {
        sizes.push_back(constant(size));
        continue;
      }
      FailureOr<AffineExpr> e = need(alloc.getDynamicSizes()[dyn++]);
      if (failed(e))
        return fail(op, "a size that is not known on the host");
      sizes.push_back(*e);
    }
    View v = wholeBuffer(buffers.size(), sizes);
    AffineExpr elements = constant(1);
    for (AffineExpr s : sizes)
      elements = elements * s;
    buffers.push_back(
        json::Object{{"workspace", true},
                     {"elements", str(simplify(elements))},
                     {"element_bits", int64_t(type.getElementTypeBitWidth())}});
    lifetimes.push_back({-1, -1});
    views[alloc] = v;
    return llvm::Error::success();
  }
  if (auto getGlobal = dyn_cast<memref::GetGlobalOp>(op)) {
    // Constant tables (the Llama 3 RoPE frequencies): uploaded once by the
    // runtime from the bits in the plan.
    auto global = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
        op, getGlobal.getNameAttr());
    auto values =
        global
            ? dyn_cast_or_null<DenseElementsAttr>(global.getInitialValueAttr())
            : DenseElementsAttr();
    MemRefType type = getGlobal.getType();
    if (!global || !global.getConstant() || !values || !type.hasStaticShape() ||
        type.getElementTypeBitWidth() != 32)
      return fail(op, "a global that is not a constant table of 32-bit "
                      "values");
    json::Array bits;
    if (isa<FloatType>(type.getElementType()))
      for (const APFloat &f : values.getValues<APFloat>())
        bits.push_back(int64_t(f.bitcastToAPInt().getZExtValue()));
    else
      for (const APInt &i : values.getValues<APInt>())
        bits.push_back(int64_t(i.getZExtValue()));
    SmallVector<AffineExpr> sizes;
    for (int64_t size : type.getShape())
      sizes.push_back(constant(size));
    views[getGlobal] = wholeBuffer(buffers.size(), sizes);
    buffers.push_back(json::Object{{"constant_bits", std::move(bits)},
                                   {"element_bits", int64_t(32)}});
    lifetimes.push_back({-1, -1});
    return llvm::Error::success();
  }
  if (auto subview = dyn_cast<memref::SubViewOp>(op)) {
    const View *found = viewOf(subview.getSource());
    if (!found)
      return fail(op, "a view of an unknown memref");
    const View &src = *found;
    View v;
    v.buffer = src.buffer;
    v.offset = src.offset;
    SmallVector<OpFoldResult> offsets = subview.getMixedOffsets(),
                              sizes = subview.getMixedSizes(),
                              steps = subview.getMixedStrides();
    llvm::SmallBitVector dropped = subview.getDroppedDims();
    for (size_t d = 0; d < offsets.size(); ++d) {
      AffineExpr off = fold(offsets[d]), size = fold(sizes[d]),
                 step = fold(steps[d]);
      if (!off || !size || !step)
        return fail(op, "an offset or size that is not known on the host");
      v.offset = v.offset + off * src.strides[d];
      if (dropped.test(d))
        continue;
      v.sizes.push_back(size);
      v.strides.push_back(src.strides[d] * step);
    }
    v.offset = simplify(v.offset);
    for (AffineExpr &e : v.strides)
      e = simplify(e);
    views[subview] = v;
    return llvm::Error::success();
  }
  if (auto expand = dyn_cast<memref::ExpandShapeOp>(op)) {
    const View *found = viewOf(expand.getSrc());
    if (!found)
      return fail(op, "a view of an unknown memref");
    const View &src = *found;
    View v;
    v.buffer = src.buffer;
    v.offset = src.offset;
    SmallVector<OpFoldResult> outShape = expand.getMixedOutputShape();
    for (auto [d, group] : llvm::enumerate(expand.getReassociationIndices())) {
      AffineExpr stride = src.strides[d];
      SmallVector<AffineExpr> groupStrides(group.size());
      for (int64_t k = group.size() - 1; k >= 0; --k) {
        groupStrides[k] = stride;
        AffineExpr size = fold(outShape[group[k]]);
        if (!size)
          return fail(op, "a size that is not known on the host");
        stride = stride * size;
      }
      for (auto [k, r] : llvm::enumerate(group)) {
        v.sizes.push_back(fold(outShape[r]));
        v.strides.push_back(simplify(groupStrides[k]));
      }
    }
    views[expand] = v;
    return llvm::Error::success();
  }
  if (auto collapse = dyn_cast<memref::CollapseShapeOp>(op)) {
    const View *found = viewOf(collapse.getSrc());
    if (!found)
      return fail(op, "a view of an unknown memref");
    const View &src = *found;
    View v;
    v.buffer = src.buffer;
    v.offset = src.offset;
    for (ReassociationIndices group : collapse.getReassociationIndices()) {
      AffineExpr size = constant(1);
      for (int64_t r : group)
        size = size * src.sizes[r];
      v.sizes.push_back(simplify(size));
      v.strides.push_back(src.strides[group.back()]);
    }
    views[collapse] = v;
    return llvm::Error::success();
  }
  if (auto cast = dyn_cast<memref::CastOp>(op)) {
    const View *found = viewOf(cast.getSource());
    if (!found)
      return fail(op, "a view of an unknown memref");
    View copy = *found; // views[...] may grow the map under `found`
    views[cast] = copy;
    return llvm::Error::success();
  }
  if (auto launch = dyn_cast<gpu::LaunchFuncOp>(op)) {
    json::Array grid, block, args;
    for (Value v : {launch.getGridSizeX(), launch.getGridSizeY(),
                    launch.getGridSizeZ()}) {
      FailureOr<AffineExpr> e = need(v);
      if (failed(e))
        return fail(op, "a grid size that is not known on the host");
      grid.push_back(str(*e));
    }
    for (Value v : {launch.getBlockSizeX(), launch.getBlockSizeY(),
                    launch.getBlockSizeZ()}) {
      FailureOr<AffineExpr> e = need(v);
      if (failed(e) || !isa<AffineConstantExpr>(*e))
        return fail(op, "a block size that is not a constant");
      block.push_back(cast<AffineConstantExpr>(*e).getValue());
    }
    if (launch.getDynamicSharedMemorySize())
      return fail(op, "dynamic shared memory");
    for (Value arg : launch.getKernelOperands()) {
      if (auto it = views.find(arg); it != views.end()) {
        touch(it->second.buffer, launches.size());
        args.push_back(json::Object{{"memref", viewJson(it->second)}});
        continue;
      }
      if (arg.getType().isIndex()) {
        FailureOr<AffineExpr> e = need(arg);
        if (failed(e))
          return fail(op, "an index argument not known on the host");
        args.push_back(json::Object{{"index", str(*e)}});
        continue;
      }
      auto c = arg.getDefiningOp<arith::ConstantOp>();
      auto f = c ? dyn_cast<FloatAttr>(c.getValue()) : FloatAttr();
      if (!f || !f.getType().isF32())
        return fail(op, "a kernel argument that is neither a memref, an "
                        "index nor an f32 constant");
      // The bits are the value (JSON has no infinities, and -inf is the
      // attention mask's neutral element); the number is for readers.
      json::Object scalar{
          {"f32_bits", int64_t(f.getValue().bitcastToAPInt().getZExtValue())}};
      if (f.getValue().isFinite())
        scalar["f32"] = f.getValueAsDouble();
      args.push_back(std::move(scalar));
    }
    launches.push_back(
        json::Object{{"module", launch.getKernelModuleName().str()},
                     {"function", launch.getKernelName().str()},
                     {"grid", std::move(grid)},
                     {"block", std::move(block)},
                     {"args", std::move(args)}});
    return llvm::Error::success();
  }
  if (auto ret = dyn_cast<func::ReturnOp>(op)) {
    for (Value v : ret.getOperands()) {
      auto it = views.find(v);
      if (it == views.end())
        return fail(op, "a result that is not a known memref");
      touch(it->second.buffer, std::numeric_limits<int64_t>::max());
      results.push_back(viewJson(it->second));
    }
    return llvm::Error::success();
  }
  if (isa<memref::DeallocOp>(op))
    return llvm::Error::success();
  return fail(op, "the host side of a GPU entry can only size, allocate, "
                  "view and launch; it cannot run");
}
} // namespace

llvm::Expected<json::Object> kiln::extractLaunchPlan(func::FuncOp entry) {
  if (!entry.getBody().hasOneBlock())
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "launch plan of '" + entry.getSymName().str() +
            "': the host side has control flow (inline the layer functions "
            "first)");
  return Evaluator(entry).run();
}
