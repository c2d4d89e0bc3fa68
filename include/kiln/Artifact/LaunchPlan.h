//===- LaunchPlan.h - the host side of a GPU entry as data ------*- C++ -*-===//
//
// The launch plan of a GPU entry point: what its host code does, evaluated
// at compile time into data the runtime interprets (no host code in the
// artifact, no host round trip per launch, CUDA-graph friendly). See
// docs/artifact.md ("Launch plans").
//
//===----------------------------------------------------------------------===//
#ifndef KILN_ARTIFACT_LAUNCHPLAN_H
#define KILN_ARTIFACT_LAUNCHPLAN_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/JSON.h"

namespace kiln {

/// Evaluates the host side of `entry` (after kiln-cuda-to-ptx, with the
/// layer functions inlined: one block of sizes, allocations, views and
/// gpu.launch_func) into
///   {"entry", "symbols": [{"binding", "dim"?}], "buffers": [{"binding"} |
///    {"workspace": true, "elements": EXPR} | {"constant_bits": [u32...]},
///    "element_bits"],
///    "launches": [{"module", "function", "grid": [EXPR x3], "block": [n x3],
///                  "args": [{"memref": VIEW} | {"index": EXPR} |
///                           {"f32_bits", "f32" if finite}]}],
///    "results": [VIEW]}
/// where VIEW = {"buffer", "offset", "sizes", "strides"} (in elements) and
/// EXPR is an affine expression of the symbols s0, s1, ... as MLIR prints
/// it ("s0 * 4", "(s0 + 127) floordiv 128"). Anything else on the host is
/// an error naming the entry and the op.
llvm::Expected<llvm::json::Object> extractLaunchPlan(mlir::func::FuncOp entry);

} // namespace kiln

#endif // KILN_ARTIFACT_LAUNCHPLAN_H
