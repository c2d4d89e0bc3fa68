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

// `<distribute = [1, 8, 64], vector = [1, 1, 8]>` with an optional
// `, threads = [...]`; any list may be empty.
Attribute LoweringConfigAttr::parse(AsmParser &parser, Type) {
  SmallVector<int64_t> distribute, vector, threads;
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
      parser.parseComma() || parseList("vector", vector))
    return {};
  if (succeeded(parser.parseOptionalComma()) && parseList("threads", threads))
    return {};
  if (parser.parseGreater())
    return {};
  return LoweringConfigAttr::getChecked(
      [&] { return parser.emitError(parser.getNameLoc()); },
      parser.getContext(), distribute, vector, threads);
}

void LoweringConfigAttr::print(AsmPrinter &printer) const {
  printer << "<distribute = [";
  llvm::interleaveComma(getDistribute(), printer);
  printer << "], vector = [";
  llvm::interleaveComma(getVector(), printer);
  printer << "]";
  if (!getThreads().empty()) {
    printer << ", threads = [";
    llvm::interleaveComma(getThreads(), printer);
    printer << "]";
  }
  printer << ">";
}

LogicalResult LoweringConfigAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, ArrayRef<int64_t> distribute,
    ArrayRef<int64_t> vector, ArrayRef<int64_t> threads) {
  if (!distribute.empty() && !vector.empty() &&
      distribute.size() != vector.size())
    return emitError() << "lowering_config: 'distribute' has "
                       << distribute.size() << " tile sizes but 'vector' has "
                       << vector.size();
  // Threads without distribute sizes: an op inside a thread block that an
  // earlier pass built (kiln-flash-attention).
  if (!threads.empty() && !distribute.empty() &&
      threads.size() != distribute.size())
    return emitError() << "lowering_config: 'threads' has " << threads.size()
                       << " entries but 'distribute' has " << distribute.size();
  int64_t totalThreads = 1;
  for (int64_t t : threads)
    totalThreads *= std::max<int64_t>(t, 1);
  if (totalThreads > 1024)
    return emitError() << "lowering_config: " << totalThreads
                       << " threads per block, more than 1024";
  for (int64_t size : llvm::concat<const int64_t>(distribute, vector, threads))
    if (size < 0)
      return emitError() << "lowering_config: tile sizes must be >= 0, got "
                         << size;
  return success();
}

LogicalResult SwizzleAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t line, int64_t access, int64_t phase) {
  if (line < 1 || access < 1 || phase < 1)
    return emitError() << "swizzle: line, access and phase must be positive "
                          "(got line = "
                       << line << ", access = " << access
                       << ", phase = " << phase << ")";
  if (line % access != 0 || !llvm::isPowerOf2_64(line / access))
    return emitError() << "swizzle: line / access must be a power of two "
                          "(got line = "
                       << line << ", access = " << access << ")";
  return success();
}
