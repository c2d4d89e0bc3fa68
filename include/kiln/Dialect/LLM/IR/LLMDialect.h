//===- LLMDialect.h - the llm dialect ---------------------------*- C++ -*-===//
#ifndef KILN_DIALECT_LLM_IR_LLMDIALECT_H
#define KILN_DIALECT_LLM_IR_LLMDIALECT_H

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

#include "kiln/Dialect/LLM/IR/LLMDialect.h.inc"

#define GET_ATTRDEF_CLASSES
#include "kiln/Dialect/LLM/IR/LLMAttrs.h.inc"

#endif // KILN_DIALECT_LLM_IR_LLMDIALECT_H
