//===- SharedMemoryBanks.cpp - static bank-conflict analysis --------------===//
#include "kiln/Transforms/SharedMemoryBanks.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace kiln;

namespace {
using Int = std::optional<int64_t>;

std::optional<int64_t> evalAffine(AffineExpr expr, ArrayRef<int64_t> dims,
                                  ArrayRef<int64_t> syms) {
  if (auto c = dyn_cast<AffineConstantExpr>(expr))
    return c.getValue();
  if (auto d = dyn_cast<AffineDimExpr>(expr))
    return dims[d.getPosition()];
  if (auto s = dyn_cast<AffineSymbolExpr>(expr))
    return syms[s.getPosition()];
  auto bin = cast<AffineBinaryOpExpr>(expr);
  Int lhs = evalAffine(bin.getLHS(), dims, syms);
  Int rhs = evalAffine(bin.getRHS(), dims, syms);
  if (!lhs || !rhs)
    return std::nullopt;
  switch (expr.getKind()) {
  case AffineExprKind::Add:
    return *lhs + *rhs;
  case AffineExprKind::Mul:
    return *lhs * *rhs;
  case AffineExprKind::Mod:
    return *rhs > 0 ? Int(llvm::mod(*lhs, *rhs)) : std::nullopt;
  case AffineExprKind::FloorDiv:
    return *rhs != 0 ? Int(llvm::divideFloorSigned(*lhs, *rhs)) : std::nullopt;
  case AffineExprKind::CeilDiv:
    return *rhs != 0 ? Int(llvm::divideCeilSigned(*lhs, *rhs)) : std::nullopt;
  default:
    return std::nullopt;
  }
}

/// Evaluates index arithmetic for one lane (thread ids) at one iteration of
/// the enclosing loops (0: first, 1: second where there is one).
class LaneEvaluator {
public:
  LaneEvaluator(gpu::GPUFuncOp func, ArrayRef<int64_t> blockSize,
                ArrayRef<int64_t> threadId, int iteration)
      : func(func), blockSize(blockSize), threadId(threadId),
        iteration(iteration) {}

  Int eval(OpFoldResult ofr) {
    if (auto attr = dyn_cast<Attribute>(ofr)) {
      if (auto i = dyn_cast<IntegerAttr>(attr))
        return i.getInt();
      return std::nullopt;
    }
    return eval(cast<Value>(ofr));
  }

  Int eval(Value v) {
    auto it = cache.find(v);
    if (it != cache.end())
      return it->second;
    Int result = compute(v);
    cache[v] = result;
    return result;
  }

  /// Whether the lane executes `op`: false when an enclosing scf.if's
  /// condition or an enclosing loop's bounds rule it out; true when unknown.
  bool executes(Operation *op) {
    Operation *child = op;
    for (Operation *parent = op->getParentOp();
         parent && parent != func.getOperation();
         child = parent, parent = parent->getParentOp()) {
      if (auto ifOp = dyn_cast<scf::IfOp>(parent)) {
        Int cond = eval(ifOp.getCondition());
        if (!cond)
          continue;
        bool inThen = child->getParentRegion() == &ifOp.getThenRegion();
        if ((*cond != 0) != inThen)
          return false;
      } else if (auto forOp = dyn_cast<scf::ForOp>(parent)) {
        Int lb = eval(forOp.getLowerBound()), ub = eval(forOp.getUpperBound());
        if (lb && ub && *lb >= *ub)
          return false;
      }
    }
    return true;
  }

private:
  Int compute(Value v) {
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      Operation *owner = arg.getOwner()->getParentOp();
      if (auto forOp = dyn_cast<scf::ForOp>(owner)) {
        if (arg != forOp.getInductionVar())
          return std::nullopt;
        Int lb = eval(forOp.getLowerBound());
        Int step = eval(forOp.getStep());
        Int ub = eval(forOp.getUpperBound());
        if (!lb)
          return std::nullopt;
        if (iteration == 1 && step && ub && *lb + *step < *ub)
          return *lb + *step;
        return lb;
      }
      if (owner == func.getOperation() && arg.getType().isIntOrIndex() &&
          arg.getOwner() == &func.getBody().front())
        return kUnknownSize;
      return std::nullopt;
    }
    Operation *op = v.getDefiningOp();
    auto binary = [&](auto fn) -> Int {
      Int a = eval(op->getOperand(0)), b = eval(op->getOperand(1));
      if (!a || !b)
        return std::nullopt;
      return fn(*a, *b);
    };
    auto unsignedBinary = [&](auto fn) -> Int {
      return binary([&](int64_t a, int64_t b) -> Int {
        return fn(static_cast<uint64_t>(a), static_cast<uint64_t>(b));
      });
    };
    return llvm::TypeSwitch<Operation *, Int>(op)
        .Case([&](arith::ConstantOp c) -> Int {
          if (auto i = dyn_cast<IntegerAttr>(c.getValue()))
            return i.getValue().getSExtValue();
          return std::nullopt;
        })
        .Case([&](gpu::ThreadIdOp t) -> Int {
          return threadId[static_cast<int>(t.getDimension())];
        })
        .Case([&](gpu::BlockDimOp t) -> Int {
          return blockSize[static_cast<int>(t.getDimension())];
        })
        .Case([&](gpu::LaneIdOp) -> Int {
          return (threadId[0] +
                  blockSize[0] * (threadId[1] + blockSize[1] * threadId[2])) %
                 32;
        })
        .Case([&](gpu::BlockIdOp) -> Int { return 0; })
        .Case([&](arith::AddIOp) { return binary(std::plus<int64_t>()); })
        .Case([&](arith::SubIOp) { return binary(std::minus<int64_t>()); })
        .Case([&](arith::MulIOp) { return binary(std::multiplies<int64_t>()); })
        .Case([&](arith::AndIOp) { return binary(std::bit_and<int64_t>()); })
        .Case([&](arith::OrIOp) { return binary(std::bit_or<int64_t>()); })
        .Case([&](arith::XOrIOp) { return binary(std::bit_xor<int64_t>()); })
        .Case([&](arith::ShLIOp) {
          return binary([](int64_t a, int64_t b) -> Int {
            return b >= 0 && b < 64 ? Int(a << b) : std::nullopt;
          });
        })
        .Case([&](arith::ShRUIOp) {
          return unsignedBinary([](uint64_t a, uint64_t b) -> Int {
            return b < 64 ? Int(static_cast<int64_t>(a >> b)) : std::nullopt;
          });
        })
        .Case([&](arith::DivUIOp) {
          return unsignedBinary([](uint64_t a, uint64_t b) -> Int {
            return b ? Int(static_cast<int64_t>(a / b)) : std::nullopt;
          });
        })
        .Case([&](arith::RemUIOp) {
          return unsignedBinary([](uint64_t a, uint64_t b) -> Int {
            return b ? Int(static_cast<int64_t>(a % b)) : std::nullopt;
          });
        })
        .Case([&](arith::CeilDivUIOp) {
          return unsignedBinary([](uint64_t a, uint64_t b) -> Int {
            return b ? Int(static_cast<int64_t>((a + b - 1) / b))
                     : std::nullopt;
          });
        })
        .Case([&](arith::DivSIOp) {
          return binary([](int64_t a, int64_t b) -> Int {
            return b ? Int(a / b) : std::nullopt;
          });
        })
        .Case([&](arith::RemSIOp) {
          return binary([](int64_t a, int64_t b) -> Int {
            return b ? Int(a % b) : std::nullopt;
          });
        })
        .Case([&](arith::FloorDivSIOp) {
          return binary([](int64_t a, int64_t b) -> Int {
            return b ? Int(llvm::divideFloorSigned(a, b)) : std::nullopt;
          });
        })
        .Case([&](arith::CeilDivSIOp) {
          return binary([](int64_t a, int64_t b) -> Int {
            return b ? Int(llvm::divideCeilSigned(a, b)) : std::nullopt;
          });
        })
        .Case([&](arith::MinSIOp) {
          return binary([](int64_t a, int64_t b) { return std::min(a, b); });
        })
        .Case([&](arith::MaxSIOp) {
          return binary([](int64_t a, int64_t b) { return std::max(a, b); });
        })
        .Case([&](arith::MinUIOp) {
          return unsignedBinary([](uint64_t a, uint64_t b) -> Int {
            return static_cast<int64_t>(std::min(a, b));
          });
        })
        .Case([&](arith::MaxUIOp) {
          return unsignedBinary([](uint64_t a, uint64_t b) -> Int {
            return static_cast<int64_t>(std::max(a, b));
          });
        })
        .Case([&](arith::CmpIOp cmp) {
          return binary([&](int64_t a, int64_t b) -> Int {
            return arith::applyCmpPredicate(cmp.getPredicate(),
                                            APInt(64, a, /*isSigned=*/true),
                                            APInt(64, b, /*isSigned=*/true));
          });
        })
        .Case([&](arith::SelectOp s) -> Int {
          Int cond = eval(s.getCondition());
          if (!cond)
            return std::nullopt;
          return eval(*cond ? s.getTrueValue() : s.getFalseValue());
        })
        .Case<arith::IndexCastOp, arith::IndexCastUIOp, arith::ExtSIOp,
              arith::ExtUIOp, arith::TruncIOp>(
            [&](Operation *cast) { return eval(cast->getOperand(0)); })
        .Case<affine::AffineApplyOp, affine::AffineMinOp, affine::AffineMaxOp>(
            [&](Operation *affineOp) -> Int {
              AffineMap map;
              if (auto apply = dyn_cast<affine::AffineApplyOp>(affineOp))
                map = apply.getAffineMap();
              else if (auto min = dyn_cast<affine::AffineMinOp>(affineOp))
                map = min.getAffineMap();
              else
                map = cast<affine::AffineMaxOp>(affineOp).getAffineMap();
              SmallVector<int64_t> operands;
              for (Value operand : affineOp->getOperands()) {
                Int value = eval(operand);
                if (!value)
                  return std::nullopt;
                operands.push_back(*value);
              }
              ArrayRef<int64_t> all(operands);
              Int result;
              for (AffineExpr expr : map.getResults()) {
                Int r = evalAffine(expr, all.take_front(map.getNumDims()),
                                   all.drop_front(map.getNumDims()));
                if (!r)
                  return std::nullopt;
                if (!result ||
                    (isa<affine::AffineMinOp>(affineOp) && *r < *result) ||
                    (isa<affine::AffineMaxOp>(affineOp) && *r > *result))
                  result = r;
              }
              return result;
            })
        .Case([&](affine::AffineLinearizeIndexOp lin) -> Int {
          // index 0, then times each effective basis element plus the next.
          SmallVector<OpFoldResult> basis = lin.getEffectiveBasis();
          Int result;
          for (auto [i, index] : llvm::enumerate(lin.getMultiIndex())) {
            Int value = eval(index);
            if (!value)
              return std::nullopt;
            if (i == 0) {
              result = value;
              continue;
            }
            Int size = eval(basis[i - 1]);
            if (!size)
              return std::nullopt;
            result = *result * *size + *value;
          }
          return result;
        })
        .Case([&](affine::AffineDelinearizeIndexOp delin) -> Int {
          Int linear = eval(delin.getLinearIndex());
          if (!linear)
            return std::nullopt;
          SmallVector<OpFoldResult> basis = delin.getPaddedBasis();
          unsigned which = cast<OpResult>(v).getResultNumber();
          int64_t rest = *linear;
          for (int64_t i = basis.size() - 1; i >= 0; --i) {
            if (!basis[i]) // no outer bound: the rest
              return i == static_cast<int64_t>(which) ? Int(rest)
                                                      : std::nullopt;
            Int size = eval(basis[i]);
            if (!size || *size <= 0)
              return std::nullopt;
            if (i == static_cast<int64_t>(which))
              return rest % *size;
            rest /= *size;
          }
          return std::nullopt;
        })
        .Case([&](memref::DimOp dim) -> Int {
          Int index = eval(dim.getIndex());
          auto type = dyn_cast<MemRefType>(dim.getSource().getType());
          if (!index || !type || *index < 0 || *index >= type.getRank())
            return std::nullopt;
          return type.isDynamicDim(*index) ? kUnknownSize
                                           : type.getDimSize(*index);
        })
        .Default([](Operation *) { return std::nullopt; });
  }

  gpu::GPUFuncOp func;
  ArrayRef<int64_t> blockSize, threadId;
  int iteration;
  DenseMap<Value, Int> cache;
};

} // namespace

Value kiln::viewSource(Operation *op) {
  if (auto subview = dyn_cast<memref::SubViewOp>(op))
    return subview.getSource();
  if (auto cast = dyn_cast<memref::CastOp>(op))
    return cast.getSource();
  if (auto expand = dyn_cast<memref::ExpandShapeOp>(op))
    return expand.getSrc();
  if (auto collapse = dyn_cast<memref::CollapseShapeOp>(op))
    return collapse.getSrc();
  return {};
}

std::optional<AccessOperands> kiln::accessOperands(Operation *op) {
  if (auto load = dyn_cast<memref::LoadOp>(op))
    return AccessOperands{load.getMemRef(), load.getIndices(), 1, false};
  if (auto store = dyn_cast<memref::StoreOp>(op))
    return AccessOperands{store.getMemRef(), store.getIndices(), 1, true};
  if (auto load = dyn_cast<vector::LoadOp>(op))
    return AccessOperands{load.getBase(), load.getIndices(),
                          load.getVectorType().getNumElements(), false};
  if (auto store = dyn_cast<vector::StoreOp>(op))
    return AccessOperands{store.getBase(), store.getIndices(),
                          store.getVectorType().getNumElements(), true};
  // ldmatrix: each lane giving an address reads one 16-byte row of 8x8
  // 16-bit elements (lanes past 8 * numTiles give none).
  if (auto ldmatrix = dyn_cast<nvgpu::LdMatrixOp>(op))
    return AccessOperands{ldmatrix.getSrcMemref(), ldmatrix.getIndices(), 8,
                          false};
  // cp.async: its shared-memory side, a vector store.
  if (auto copy = dyn_cast<nvgpu::DeviceAsyncCopyOp>(op))
    return AccessOperands{copy.getDst(), copy.getDstIndices(),
                          copy.getDstElements().getSExtValue(), true};
  return std::nullopt;
}

namespace {

/// The value `memref` views through subviews, casts and reshapes.
Value viewedBuffer(Value memref) {
  while (Operation *def = memref.getDefiningOp()) {
    Value source = viewSource(def);
    if (!source)
      break;
    memref = source;
  }
  return memref;
}

/// `indices` on `memref` as indices on the buffer it views.
std::optional<SmallVector<int64_t, 4>>
baseIndices(Value memref, ArrayRef<int64_t> indices, LaneEvaluator &eval) {
  SmallVector<int64_t, 4> current(indices);
  while (Operation *def = memref.getDefiningOp()) {
    if (auto cast = dyn_cast<memref::CastOp>(def)) {
      memref = cast.getSource();
      continue;
    }
    if (auto expand = dyn_cast<memref::ExpandShapeOp>(def)) {
      // Each source dimension is a group of result dimensions.
      ArrayRef<int64_t> shape = expand.getResultType().getShape();
      SmallVector<int64_t, 4> source;
      for (const ReassociationIndices &group :
           expand.getReassociationIndices()) {
        int64_t index = 0;
        for (int64_t d : group) {
          if (d > group.front() && ShapedType::isDynamic(shape[d]))
            return std::nullopt;
          index =
              d == group.front() ? current[d] : index * shape[d] + current[d];
        }
        source.push_back(index);
      }
      current = std::move(source);
      memref = expand.getSrc();
      continue;
    }
    if (auto collapse = dyn_cast<memref::CollapseShapeOp>(def)) {
      ArrayRef<int64_t> shape = collapse.getSrcType().getShape();
      SmallVector<int64_t, 4> source;
      for (auto [r, group] :
           llvm::enumerate(collapse.getReassociationIndices())) {
        SmallVector<int64_t, 4> parts(group.size());
        int64_t rest = current[r];
        for (int64_t i = group.size() - 1; i >= 0; --i) {
          int64_t size = shape[group[i]];
          if (i == 0) {
            parts[i] = rest;
            break;
          }
          if (ShapedType::isDynamic(size) || size <= 0)
            return std::nullopt;
          parts[i] = rest % size;
          rest /= size;
        }
        source.append(parts.begin(), parts.end());
      }
      current = std::move(source);
      memref = collapse.getSrc();
      continue;
    }
    auto subview = dyn_cast<memref::SubViewOp>(def);
    if (!subview)
      break;
    llvm::SmallBitVector dropped = subview.getDroppedDims();
    SmallVector<OpFoldResult> offsets = subview.getMixedOffsets();
    SmallVector<OpFoldResult> strides = subview.getMixedStrides();
    SmallVector<int64_t, 4> source;
    size_t next = 0;
    for (size_t d = 0; d < offsets.size(); ++d) {
      Int offset = eval.eval(offsets[d]);
      if (!offset)
        return std::nullopt;
      if (dropped.test(d)) {
        source.push_back(*offset);
        continue;
      }
      Int stride = eval.eval(strides[d]);
      if (!stride || next >= current.size())
        return std::nullopt;
      source.push_back(*offset + *stride * current[next++]);
    }
    current = std::move(source);
    memref = subview.getSource();
  }
  return current;
}
} // namespace

int64_t kiln::rowMajorOffset(ArrayRef<int64_t> shape,
                             ArrayRef<int64_t> indices) {
  int64_t offset = 0;
  for (auto [size, index] : llvm::zip(shape, indices))
    offset = offset * size + index;
  return offset;
}

FailureOr<SmallVector<SharedAccess>>
kiln::collectSharedAccesses(gpu::GPUFuncOp func) {
  std::optional<ArrayRef<int32_t>> known = func.getKnownBlockSize();
  if (!known || known->size() != 3)
    return func.emitError("bank-conflict analysis: @")
           << func.getName() << " has no known_block_size";
  SmallVector<int64_t> block(known->begin(), known->end());
  int64_t threads = block[0] * block[1] * block[2];
  int64_t warps = (threads + 31) / 32;

  SmallVector<SharedAccess> accesses;
  ArrayRef<BlockArgument> attributions = func.getWorkgroupAttributions();
  func.walk([&](Operation *op) {
    std::optional<AccessOperands> operands = accessOperands(op);
    if (!operands)
      return;
    auto type = cast<MemRefType>(operands->memref.getType());
    if (!gpu::GPUDialect::hasWorkgroupMemoryAddressSpace(type))
      return;
    SharedAccess access;
    access.op = op;
    access.elements = operands->elements;
    access.isWrite = operands->isWrite;
    access.elementBytes =
        std::max<int64_t>(1, type.getElementTypeBitWidth() / 8);
    Value base = viewedBuffer(operands->memref);
    auto it = llvm::find(attributions, base);
    if (it == attributions.end()) {
      access.unknown = "not a view of a workgroup attribution";
    } else {
      access.buffer = *it;
      access.bufferIndex = it - attributions.begin();
      if (!cast<MemRefType>(access.buffer.getType()).hasStaticShape())
        access.unknown = "the workgroup buffer has a dynamic shape";
    }
    accesses.push_back(std::move(access));
  });

  LaneEvaluator first(func, block, {0, 0, 0}, /*iteration=*/0);
  for (SharedAccess &access : accesses) {
    for (auto forOp = access.op->getParentOfType<scf::ForOp>(); forOp;
         forOp = forOp->getParentOfType<scf::ForOp>()) {
      Int lb = first.eval(forOp.getLowerBound());
      Int ub = first.eval(forOp.getUpperBound());
      Int step = first.eval(forOp.getStep());
      if (lb && ub && step && *step > 0 && *ub > *lb)
        access.weight *= llvm::divideCeil(*ub - *lb, *step);
    }
    if (access.unknown.empty())
      access.points.assign(2 * warps, {});
  }
  for (int iteration = 0; iteration < 2; ++iteration) {
    for (int64_t warp = 0; warp < warps; ++warp) {
      for (int64_t lane = 0; lane < 32; ++lane) {
        int64_t linear = warp * 32 + lane;
        SmallVector<int64_t> tid = {linear % block[0],
                                    (linear / block[0]) % block[1],
                                    linear / (block[0] * block[1])};
        LaneEvaluator eval(func, block, tid, iteration);
        for (SharedAccess &access : accesses) {
          if (!access.unknown.empty())
            continue;
          auto &lanes = access.points[iteration * warps + warp];
          auto ldmatrix = dyn_cast<nvgpu::LdMatrixOp>(access.op);
          if (linear >= threads || !eval.executes(access.op) ||
              (ldmatrix && lane >= 8 * ldmatrix.getNumTiles())) {
            lanes.push_back(std::nullopt);
            continue;
          }
          std::optional<AccessOperands> operands = accessOperands(access.op);
          SmallVector<int64_t, 4> indices;
          for (Value index : operands->indices) {
            Int value = eval.eval(index);
            if (!value)
              break;
            indices.push_back(*value);
          }
          std::optional<SmallVector<int64_t, 4>> base;
          if (indices.size() == operands->indices.size())
            base = baseIndices(operands->memref, indices, eval);
          if (!base) {
            access.unknown = "its indices depend on values the analysis "
                             "cannot evaluate";
            access.points.clear();
            continue;
          }
          lanes.push_back(std::move(*base));
        }
      }
    }
  }
  return accesses;
}

Wavefronts kiln::countWavefronts(const SharedAccess &access, LayoutFn layout) {
  Wavefronts worst;
  if (!access.unknown.empty())
    return worst;
  int64_t bytesPerLane = access.elementBytes * access.elements;
  int64_t lanesPerPhase =
      bytesPerLane <= 4 ? 32 : std::max<int64_t>(1, 128 / bytesPerLane);
  for (const auto &lanes : access.points) {
    Wavefronts point;
    for (size_t start = 0; start < lanes.size(); start += lanesPerPhase) {
      SmallVector<SmallVector<int64_t, 4>, 32> banks(32);
      int64_t words = 0;
      for (size_t lane = start;
           lane < std::min<size_t>(lanes.size(), start + lanesPerPhase);
           ++lane) {
        if (!lanes[lane])
          continue;
        int64_t byte = layout(*lanes[lane]) * access.elementBytes;
        for (int64_t word = byte / 4; word <= (byte + bytesPerLane - 1) / 4;
             ++word) {
          auto &bank = banks[llvm::mod(word, int64_t(32))];
          if (!llvm::is_contained(bank, word)) {
            bank.push_back(word);
            ++words;
          }
        }
      }
      if (words == 0)
        continue;
      int64_t most = 0;
      for (const auto &bank : banks)
        most = std::max<int64_t>(most, bank.size());
      point.actual += most;
      point.ideal += (words + 31) / 32;
    }
    if (point.extra() > worst.extra() ||
        (point.extra() == worst.extra() && point.actual > worst.actual))
      worst = point;
  }
  return worst;
}
