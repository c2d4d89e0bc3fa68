//===- LLMDialect.cpp - the llm dialect -----------------------------------===//
#include "kiln/Dialect/LLM/IR/LLMDialect.h"
#include "kiln/Dialect/LLM/IR/LLMOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace kiln::llm;

#include "kiln/Dialect/LLM/IR/LLMDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "kiln/Dialect/LLM/IR/LLMAttrs.cpp.inc"

void LLMDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "kiln/Dialect/LLM/IR/LLMOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "kiln/Dialect/LLM/IR/LLMAttrs.cpp.inc"
      >();
}

// `<distribute = [1, 8, 64], vector = [1, 1, 8]>`; either list may be empty.
Attribute LoweringConfigAttr::parse(AsmParser &parser, Type) {
  SmallVector<int64_t> distribute, vector;
  auto parseList = [&](StringRef keyword,
                       SmallVectorImpl<int64_t> &sizes) -> ParseResult {
    if (parser.parseKeyword(keyword) || parser.parseEqual())
      return failure();
    return parser.parseCommaSeparatedList(AsmParser::Delimiter::Square,
                                          [&]() -> ParseResult {
                                            int64_t size;
                                            if (parser.parseInteger(size))
                                              return failure();
                                            sizes.push_back(size);
                                            return success();
                                          });
  };
  if (parser.parseLess() || parseList("distribute", distribute) ||
      parser.parseComma() || parseList("vector", vector) ||
      parser.parseGreater())
    return {};
  return LoweringConfigAttr::getChecked(
      [&] { return parser.emitError(parser.getNameLoc()); },
      parser.getContext(), distribute, vector);
}

void LoweringConfigAttr::print(AsmPrinter &printer) const {
  printer << "<distribute = [";
  llvm::interleaveComma(getDistribute(), printer);
  printer << "], vector = [";
  llvm::interleaveComma(getVector(), printer);
  printer << "]>";
}

LogicalResult
LoweringConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                           ArrayRef<int64_t> distribute,
                           ArrayRef<int64_t> vector) {
  if (!distribute.empty() && !vector.empty() &&
      distribute.size() != vector.size())
    return emitError() << "lowering_config: 'distribute' has "
                       << distribute.size() << " tile sizes but 'vector' has "
                       << vector.size();
  for (int64_t size : llvm::concat<const int64_t>(distribute, vector))
    if (size < 0)
      return emitError() << "lowering_config: tile sizes must be >= 0, got "
                         << size;
  return success();
}
