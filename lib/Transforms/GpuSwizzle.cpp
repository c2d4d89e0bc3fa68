//===- GpuSwizzle.cpp - XOR-swizzled shared-memory tiles ------------------===//
//
// A warp that reads down a column of a shared tile (each lane its own row,
// as a GEMM's threads read their weight rows) hits one bank again and again
// when rows are a multiple of 128 bytes apart. Read as 128-byte lines of
// its row-major elements, the tile is stored with unit u of line l at unit
// u xor ((l floordiv phase) mod units) of the same line: a column then
// meets a different bank in each line, and a warp reading along a line
// still covers each bank once (the swizzle permutes a line's units). The
// pass picks the unit (the widest access, at least 4 bytes) and the phase
// by counting the conflicts each choice leaves (SharedMemoryBanks.h), so
// it needs no knowledge of how the kernel was tiled; it makes the tile flat
// and rewrites every access to the swizzled offset, recording the layout as
// #llm.swizzle on the attribution. Padding rows is the fallback where no
// swizzle helps.
//
//===----------------------------------------------------------------------===//
#include "kiln/Dialect/LLM/IR/LLMDialect.h"
#include "kiln/Transforms/Passes.h"
#include "kiln/Transforms/SharedMemoryBanks.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace kiln {
#define GEN_PASS_DEF_GPUSWIZZLE
#include "kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
constexpr StringLiteral kPaddingAttrName = "llm.padding";
/// Bytes the 32 banks serve in one wavefront.
constexpr int64_t kLineBytes = 128;

/// A candidate layout of a tile: row-major, swizzled or with padded rows.
struct Layout {
  llm::SwizzleAttr swizzle;
  int64_t padding = 0;
};

int64_t layoutOffset(ArrayRef<int64_t> shape, const Layout &layout,
                     ArrayRef<int64_t> indices) {
  if (layout.swizzle)
    return layout.swizzle.apply(rowMajorOffset(shape, indices));
  SmallVector<int64_t, 4> padded(shape);
  padded.back() += layout.padding;
  return rowMajorOffset(padded, indices);
}

/// Extra wavefronts per warp under `layout`, summed over `accesses` of a
/// tile, each weighted by how often a thread executes it (a GEMM's inner
/// loop outweighs the copy after it).
int64_t conflicts(ArrayRef<const SharedAccess *> accesses,
                  ArrayRef<int64_t> shape, const Layout &layout) {
  int64_t total = 0;
  for (const SharedAccess *access : accesses)
    total += access->weight *
             countWavefronts(*access, [&](ArrayRef<int64_t> indices) {
               return layoutOffset(shape, layout, indices);
             }).extra();
  return total;
}

/// Whether every lane's vector stays inside one unit of `unit` elements (a
/// swizzle moves units, not the elements within them).
bool vectorsInsideUnits(ArrayRef<const SharedAccess *> accesses,
                        ArrayRef<int64_t> shape, int64_t unit) {
  for (const SharedAccess *access : accesses) {
    if (access->elements == 1)
      continue;
    if (!access->unknown.empty())
      return false;
    for (const auto &lanes : access->points)
      for (const LaneIndices &lane : lanes)
        if (lane &&
            rowMajorOffset(shape, *lane) % unit + access->elements > unit)
          return false;
  }
  return true;
}

/// Whether `op` accesses `buffer` itself (not a view of it), as the
/// memref it reads or writes rather than a stored value.
bool isTileAccess(Operation *op, Value buffer) {
  std::optional<AccessOperands> access = accessOperands(op);
  if (!access || access->memref != buffer)
    return false;
  return llvm::count(op->getOperands(), buffer) == 1;
}

bool isView(Operation *op) { return bool(viewSource(op)); }

/// The accesses of `buffer`, directly or through views (subviews, expand
/// and collapse shapes, casts); fails if anything else uses it or a view.
LogicalResult collectTileAccesses(Value buffer,
                                  SmallVectorImpl<Operation *> &accesses) {
  for (Operation *user : buffer.getUsers()) {
    if (isTileAccess(user, buffer)) {
      accesses.push_back(user);
      continue;
    }
    if (!isView(user) || user->getOperand(0) != buffer ||
        failed(collectTileAccesses(user->getResult(0), accesses)))
      return failure();
  }
  return success();
}

/// `indices` on the view `memref` as indices on the tile it views (IR).
SmallVector<Value> rootIndices(RewriterBase &rewriter, Location loc,
                               Value memref, SmallVector<Value> indices) {
  auto value = [&](OpFoldResult ofr) {
    return getValueOrCreateConstantIndexOp(rewriter, loc, ofr);
  };
  while (Operation *def = memref.getDefiningOp()) {
    if (auto cast = dyn_cast<memref::CastOp>(def)) {
      memref = cast.getSource();
    } else if (auto subview = dyn_cast<memref::SubViewOp>(def)) {
      llvm::SmallBitVector dropped = subview.getDroppedDims();
      SmallVector<OpFoldResult> offsets = subview.getMixedOffsets();
      SmallVector<OpFoldResult> strides = subview.getMixedStrides();
      SmallVector<Value> source;
      size_t next = 0;
      for (size_t d = 0; d < offsets.size(); ++d) {
        if (dropped.test(d)) {
          source.push_back(value(offsets[d]));
          continue;
        }
        Value scaled = rewriter.createOrFold<arith::MulIOp>(
            loc, indices[next++], value(strides[d]));
        source.push_back(rewriter.createOrFold<arith::AddIOp>(
            loc, value(offsets[d]), scaled));
      }
      indices = std::move(source);
      memref = subview.getSource();
    } else if (auto expand = dyn_cast<memref::ExpandShapeOp>(def)) {
      ArrayRef<int64_t> shape = expand.getResultType().getShape();
      SmallVector<Value> source;
      for (const ReassociationIndices &group :
           expand.getReassociationIndices()) {
        Value index = indices[group.front()];
        for (int64_t d : ArrayRef<int64_t>(group).drop_front())
          index = rewriter.createOrFold<arith::AddIOp>(
              loc,
              rewriter.createOrFold<arith::MulIOp>(
                  loc, index,
                  arith::ConstantIndexOp::create(rewriter, loc, shape[d])),
              indices[d]);
        source.push_back(index);
      }
      indices = std::move(source);
      memref = expand.getSrc();
    } else if (auto collapse = dyn_cast<memref::CollapseShapeOp>(def)) {
      ArrayRef<int64_t> shape = collapse.getSrcType().getShape();
      SmallVector<Value> source;
      for (auto [r, group] :
           llvm::enumerate(collapse.getReassociationIndices())) {
        SmallVector<Value> parts(group.size());
        Value rest = indices[r];
        for (int64_t i = group.size() - 1; i > 0; --i) {
          Value size =
              arith::ConstantIndexOp::create(rewriter, loc, shape[group[i]]);
          parts[i] = rewriter.createOrFold<arith::RemUIOp>(loc, rest, size);
          rest = rewriter.createOrFold<arith::DivUIOp>(loc, rest, size);
        }
        parts[0] = rest;
        source.append(parts.begin(), parts.end());
      }
      indices = std::move(source);
      memref = collapse.getSrc();
    } else {
      break;
    }
  }
  return indices;
}

/// Replaces `op` (an access of a tile of `shape`) by the same access of the
/// flat tile at the swizzled offset.
void swizzleAccess(RewriterBase &rewriter, Operation *op, Value buffer,
                   ArrayRef<int64_t> shape, llm::SwizzleAttr swizzle) {
  rewriter.setInsertionPoint(op);
  Location loc = op->getLoc();
  int64_t rank = shape.size();
  std::optional<AccessOperands> operands = accessOperands(op);
  SmallVector<Value> indices = rootIndices(rewriter, loc, operands->memref,
                                           llvm::to_vector(operands->indices));
  auto constant = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, v);
  };
  Value offset = indices[0];
  for (int64_t d = 1; d < rank; ++d)
    offset = rewriter.createOrFold<arith::AddIOp>(
        loc,
        rewriter.createOrFold<arith::MulIOp>(loc, offset, constant(shape[d])),
        indices[d]);
  int64_t line = swizzle.getLine(), access = swizzle.getAccess();
  Value lineIndex =
      rewriter.createOrFold<arith::DivUIOp>(loc, offset, constant(line));
  Value inLine =
      rewriter.createOrFold<arith::RemUIOp>(loc, offset, constant(line));
  Value unit = access == 1 ? inLine
                           : rewriter.createOrFold<arith::DivUIOp>(
                                 loc, inLine, constant(access));
  Value phase = swizzle.getPhase() == 1
                    ? lineIndex
                    : rewriter.createOrFold<arith::DivUIOp>(
                          loc, lineIndex, constant(swizzle.getPhase()));
  phase = rewriter.createOrFold<arith::RemUIOp>(loc, phase,
                                                constant(line / access));
  Value swizzled = rewriter.createOrFold<arith::XOrIOp>(loc, unit, phase);
  if (access != 1)
    swizzled = rewriter.createOrFold<arith::AddIOp>(
        loc,
        rewriter.createOrFold<arith::MulIOp>(loc, swizzled, constant(access)),
        rewriter.createOrFold<arith::RemUIOp>(loc, offset, constant(access)));
  Value index = rewriter.createOrFold<arith::AddIOp>(
      loc, rewriter.createOrFold<arith::MulIOp>(loc, lineIndex, constant(line)),
      swizzled);
  Operation *flat;
  if (auto copy = dyn_cast<nvgpu::DeviceAsyncCopyOp>(op))
    flat = nvgpu::DeviceAsyncCopyOp::create(
        rewriter, loc, copy.getAsyncToken().getType(), buffer,
        ValueRange{index}, copy.getSrc(), copy.getSrcIndices(),
        copy.getDstElementsAttr(), copy.getSrcElements(),
        copy.getBypassL1Attr());
  else if (auto ldmatrix = dyn_cast<nvgpu::LdMatrixOp>(op))
    flat = nvgpu::LdMatrixOp::create(
        rewriter, loc, ldmatrix.getRes().getType(), buffer, ValueRange{index},
        ldmatrix.getTranspose(), ldmatrix.getNumTiles());
  else if (auto load = dyn_cast<memref::LoadOp>(op))
    flat = memref::LoadOp::create(rewriter, loc, buffer, ValueRange{index});
  else if (auto store = dyn_cast<memref::StoreOp>(op))
    flat = memref::StoreOp::create(rewriter, loc, store.getValue(), buffer,
                                   ValueRange{index});
  else if (auto load = dyn_cast<vector::LoadOp>(op))
    flat = vector::LoadOp::create(rewriter, loc, load.getVectorType(), buffer,
                                  ValueRange{index});
  else
    flat = vector::StoreOp::create(rewriter, loc,
                                   cast<vector::StoreOp>(op).getValueToStore(),
                                   buffer, ValueRange{index});
  rewriter.replaceOp(op, flat->getResults());
}

struct GpuSwizzlePass final : kiln::impl::GpuSwizzleBase<GpuSwizzlePass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<gpu::GPUFuncOp> funcs;
    getOperation()->walk([&](gpu::GPUFuncOp func) {
      if (func.isKernel() && !func.getWorkgroupAttributions().empty())
        funcs.push_back(func);
    });
    for (gpu::GPUFuncOp func : funcs)
      if (failed(runOnKernel(func)))
        return signalPassFailure();
  }

  LogicalResult runOnKernel(gpu::GPUFuncOp func) {
    // Subviews folded into the accesses where upstream can (then a tile
    // accessed only directly may also be padded); the views it cannot fold
    // (expand/collapse shapes under ldmatrix and cp.async) are composed by
    // rootIndices when a swizzle is applied.
    RewritePatternSet patterns(&getContext());
    memref::populateFoldMemRefAliasOpPatterns(patterns);
    if (failed(applyPatternsGreedily(func, std::move(patterns))))
      return func.emitError("kiln-gpu-swizzle: folding the subviews of @")
             << func.getName() << " did not converge";
    FailureOr<SmallVector<SharedAccess>> accesses = collectSharedAccesses(func);
    if (failed(accesses))
      return failure();
    for (auto [index, buffer] :
         llvm::enumerate(func.getWorkgroupAttributions())) {
      SmallVector<const SharedAccess *> tileAccesses;
      for (const SharedAccess &access : *accesses)
        if (access.buffer == buffer)
          tileAccesses.push_back(&access);
      if (failed(layoutTile(func, index, buffer, tileAccesses)))
        return failure();
    }
    return success();
  }

  LogicalResult layoutTile(gpu::GPUFuncOp func, unsigned index,
                           BlockArgument buffer,
                           ArrayRef<const SharedAccess *> accesses) {
    auto type = cast<MemRefType>(buffer.getType());
    auto pinned =
        dyn_cast_or_null<llm::SwizzleAttr>(func.getWorkgroupAttributionAttr(
            index, llm::SwizzleAttr::getAttrName()));
    SmallVector<Operation *> tileOps;
    bool direct = succeeded(collectTileAccesses(buffer, tileOps));
    if (!type.hasStaticShape() || !type.getLayout().isIdentity() || !direct) {
      if (pinned)
        return func.emitError("kiln-gpu-swizzle: workgroup buffer ")
               << index << " of @" << func.getName()
               << " cannot be swizzled (it needs a static row-major shape, "
                  "accessed only by loads and stores)";
      return success();
    }
    ArrayRef<int64_t> shape = type.getShape();
    int64_t elements = type.getNumElements();

    if (pinned) {
      if (elements % pinned.getLine() != 0 ||
          !vectorsInsideUnits(accesses, shape, pinned.getAccess()))
        return func.emitError("kiln-gpu-swizzle: ")
               << pinned << " does not fit workgroup buffer " << index
               << " of @" << func.getName() << ", of type " << type;
      applySwizzle(buffer, tileOps, pinned);
      return success();
    }

    int64_t before = conflicts(accesses, shape, Layout{});
    if (before == 0)
      return success();
    int64_t elementBytes =
        std::max<int64_t>(1, type.getElementTypeBitWidth() / 8);
    // A unit holds the widest access, and at least a 4-byte bank word.
    int64_t unit = std::max<int64_t>(1, 4 / elementBytes);
    for (const SharedAccess *access : accesses)
      unit = std::max(unit, access->elements);
    int64_t line = kLineBytes / elementBytes;
    Layout best;
    int64_t bestConflicts = before;
    if (kLineBytes % elementBytes == 0 && line % unit == 0 &&
        llvm::isPowerOf2_64(line / unit) && line / unit >= 2 &&
        elements % line == 0 && vectorsInsideUnits(accesses, shape, unit)) {
      // A phase of numLines or more xors nothing.
      for (int64_t phase = 1; phase < elements / line; phase *= 2) {
        Layout candidate{
            llm::SwizzleAttr::get(&getContext(), line, unit, phase)};
        int64_t c = conflicts(accesses, shape, candidate);
        if (c < bestConflicts) {
          best = candidate;
          bestConflicts = c;
        }
      }
    }
    bool onlyDirect = llvm::all_of(buffer.getUsers(), [&](Operation *user) {
      return isTileAccess(user, buffer);
    });
    if (bestConflicts > 0 && padding && type.getRank() >= 2 && onlyDirect) {
      Layout padded;
      padded.padding = unit;
      int64_t c = conflicts(accesses, shape, padded);
      if (c < bestConflicts) {
        best = padded;
        bestConflicts = c;
      }
    }
    if (best.swizzle) {
      applySwizzle(buffer, tileOps, best.swizzle);
      func.setWorkgroupAttributionAttr(index, llm::SwizzleAttr::getAttrName(),
                                       best.swizzle);
    } else if (best.padding > 0) {
      SmallVector<int64_t> paddedShape(shape);
      paddedShape.back() += best.padding;
      buffer.setType(MemRefType::get(paddedShape, type.getElementType(),
                                     MemRefLayoutAttrInterface(),
                                     type.getMemorySpace()));
      func.setWorkgroupAttributionAttr(
          index, kPaddingAttrName,
          IntegerAttr::get(IntegerType::get(&getContext(), 64), best.padding));
    }
    return success();
  }

  /// Makes `buffer` flat and every access of it (`accesses`, directly or
  /// through views) swizzled; the views die.
  void applySwizzle(BlockArgument buffer, ArrayRef<Operation *> accesses,
                    llm::SwizzleAttr swizzle) {
    auto type = cast<MemRefType>(buffer.getType());
    IRRewriter rewriter(&getContext());
    for (Operation *access : accesses)
      swizzleAccess(rewriter, access, buffer, type.getShape(), swizzle);
    // The views, now unused, from the last to the first.
    SmallVector<Operation *> views;
    SmallVector<Value> worklist = {buffer};
    while (!worklist.empty()) {
      Value v = worklist.pop_back_val();
      for (Operation *user : v.getUsers())
        if (isView(user)) {
          views.push_back(user);
          worklist.push_back(user->getResult(0));
        }
    }
    for (Operation *view : llvm::reverse(views))
      if (view->use_empty())
        rewriter.eraseOp(view);
    buffer.setType(
        MemRefType::get({type.getNumElements()}, type.getElementType(),
                        MemRefLayoutAttrInterface(), type.getMemorySpace()));
  }
};
} // namespace
