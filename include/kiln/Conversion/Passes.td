//===- Passes.td - Kiln conversion passes ------------------*- tablegen -*-===//
#ifndef KILN_CONVERSION_PASSES_TD
#define KILN_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertLLMToLinalg : Pass<"kiln-convert-llm-to-linalg"> {
  let summary = "Lower every llm op to linalg on tensors";
  let description = [{
    Rewrites each `llm` op into linalg ops on tensors: named ops where they
    exist (`linalg.contract` over the activations' own dims and the `[out, in]`
    weight for linear layers, `linalg.matmul` with a transposed-weight
    indexing map for the logits, `linalg.add`, `linalg.fill`) and `linalg.generic` otherwise. Narrow float types are
    widened to f32 for accumulation and rounded once at the end of each op.
    Attention is a chain of generics (scores, row max, row sum, weighted
    values) whose causal / sliding-window mask is computed from the
    positions inside the generic bodies: no `[seq, seq]` mask tensor exists,
    and each generic tiles along batch, heads and queries. The KV-cache
    write becomes an `scf.forall` of `tensor.parallel_insert_slice` that
    One-Shot Bufferize writes in place; positions are clamped into the cache
    so that a bad position cannot write out of bounds (the runtime rejects
    such inputs before they get here).
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect", "::mlir::gpu::GPUDialect"
  ];
}

#endif // KILN_CONVERSION_PASSES_TD
