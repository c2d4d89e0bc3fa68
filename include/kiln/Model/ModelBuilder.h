//===- ModelBuilder.h - emit the llm graph of a decoder ---------*- C++ -*-===//
#ifndef KILN_MODEL_MODELBUILDER_H
#define KILN_MODEL_MODELBUILDER_H

#include "kiln/Model/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace kiln {

/// Names of the entry points of a decoder module.
constexpr llvm::StringLiteral kPrefillFuncName = "prefill";
constexpr llvm::StringLiteral kDecodeStepFuncName = "decode_step";

/// Argument attribute naming the weight (its Hugging Face tensor name) or
/// KV-cache buffer an entry-point argument binds to.
constexpr llvm::StringLiteral kBindingAttrName = "llm.binding";

/// Whether an `llm.binding` names a weight (by its Hugging Face tensor
/// name), rather than an input (`input:`), a KV cache (`kv_cache:`) or a
/// buffer the entry writes (`output:`).
inline bool isWeightBinding(llvm::StringRef binding) {
  return !binding.starts_with("input:") && !binding.starts_with("kv_cache:") &&
         !binding.starts_with("output:");
}

/// Unit attribute marking the entry points a runtime calls.
constexpr llvm::StringLiteral kEntryAttrName = "llm.entry";

/// Builds the `llm` graph of a whole decoder: `@prefill` (any number of
/// tokens) and `@decode_step` (one token per sequence), each calling one
/// private layer function once per layer. Both entries take
///   ids [batch, seq] i32, positions [batch, seq] i32, kv_len (index),
///   the weights (named by `llm.binding`), then per layer a K and a V cache
///   [batch, max_context, kv_heads, head_dim], then `output:argmax`
///   [batch] i32 (written in place with the greedy token of each sequence,
///   llm.argmax of the logits),
/// and return the f32 logits [batch, vocab] of the last token, the updated
/// caches and the written argmax. Batch, sequence and context lengths are
/// dynamic.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
buildDecoderModule(mlir::MLIRContext &context, const ModelConfig &config);

} // namespace kiln

#endif // KILN_MODEL_MODELBUILDER_H
