//===- LLMOps.h - llm dialect operations ------------------------*- C++ -*-===//
#ifndef KILN_DIALECT_LLM_IR_LLMOPS_H
#define KILN_DIALECT_LLM_IR_LLMOPS_H

#include "kiln/Dialect/LLM/IR/LLMDialect.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "kiln/Dialect/LLM/IR/LLMOps.h.inc"

#endif // KILN_DIALECT_LLM_IR_LLMOPS_H
