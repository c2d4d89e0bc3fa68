//===- LLMDialect.td - the llm dialect ---------------------*- tablegen -*-===//
#ifndef KILN_DIALECT_LLM_IR_LLMDIALECT_TD
#define KILN_DIALECT_LLM_IR_LLMDIALECT_TD

include "mlir/IR/OpBase.td"

def LLM_Dialect : Dialect {
  let name = "llm";
  let cppNamespace = "::kiln::llm";
  let summary = "Decoder-only transformer operations on tensors";
  let description = [{
    The `llm` dialect describes a decoder-only transformer (LLaMA, Qwen2,
    Mistral families) at the level of its building blocks: embedding,
    RMSNorm, linear layers in the Hugging Face `[out, in]` weight layout,
    rotary embeddings, grouped-query attention over a KV cache, SwiGLU and
    the final logits. All ops work on ranked tensors; batch, sequence
    length and cache length may be dynamic. Kiln lowers these ops to linalg.
  }];
  let useDefaultAttributePrinterParser = 1;
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

#endif // KILN_DIALECT_LLM_IR_LLMDIALECT_TD
