//===- Passes.h - Kiln transformation passes --------------------*- C++ -*-===//
#ifndef KILN_TRANSFORMS_PASSES_H
#define KILN_TRANSFORMS_PASSES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "llvm/ADT/StringRef.h"

namespace mlir {
namespace affine {
class AffineDialect;
}
namespace arith {
class ArithDialect;
}
namespace bufferization {
class BufferizationDialect;
}
namespace gpu {
class GPUDialect;
}
namespace linalg {
class LinalgDialect;
}
namespace LLVM {
class LLVMDialect;
}
namespace NVVM {
class NVVMDialect;
}
namespace nvgpu {
class NVGPUDialect;
}
namespace math {
class MathDialect;
}
namespace memref {
class MemRefDialect;
}
namespace scf {
class SCFDialect;
}
namespace tensor {
class TensorDialect;
}
namespace vector {
class VectorDialect;
}
} // namespace mlir

namespace kiln {
namespace llm {
class LLMDialect;
}

/// Unit attribute on a linalg op whose result tile-and-fuse recomputes in
/// each consumer tile instead of materialising it.
constexpr llvm::StringLiteral kFuseIntoConsumersAttrName =
    "llm.fuse_into_consumers";

/// Unit attribute on a linalg.generic (kiln-gpu-promote-operands) that fills
/// a shared tile from global memory: its iteration space is [rows, 32
/// threads, one 16-byte vector], its innermost loop reads consecutive
/// source elements, and its body yields either a loaded element or, past a
/// dynamic size, zero (`select(valid, load, 0)`, `valid` independent of the
/// innermost loop). kiln-gpu-pipeline turns each thread's vectors into
/// cp.async copies.
constexpr llvm::StringLiteral kAsyncCopyAttrName = "llm.async_copy";

#define GEN_PASS_DECL
#include "kiln/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "kiln/Transforms/Passes.h.inc"

} // namespace kiln

#endif // KILN_TRANSFORMS_PASSES_H
