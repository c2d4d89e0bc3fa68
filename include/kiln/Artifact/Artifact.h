//===- Artifact.h - write Kiln artifacts ------------------------*- C++ -*-===//
//
// The compiler side of the artifact (the layout is in
// runtime/include/kiln/runtime/ArtifactFormat.h, shared with the runtime):
// the manifest describing the entry points, and for the CPU target the
// native code generation of the lowered module into a shared object.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_ARTIFACT_ARTIFACT_H
#define KILN_ARTIFACT_ARTIFACT_H

#include "kiln/Model/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/JSON.h"

#include <string>

namespace llvm {
class Module;
} // namespace llvm

namespace kiln {

/// The machine the kernels are compiled for.
struct CpuTarget {
  std::string triple;
  std::string cpu;
  /// LLVM feature string ("+avx2,+fma,...").
  std::string features;
};

/// Resolves `cpu` ("native" = this machine, "generic" = baseline x86-64, or
/// an LLVM CPU name) to a full target description.
llvm::Expected<CpuTarget> resolveCpuTarget(llvm::StringRef cpu);

/// The manifest of an artifact: model config, target, entry points (their
/// exported symbol and every argument with its binding, dtype and shape,
/// dynamic dimensions named "batch", "seq" and "context"), weights, KV-cache
/// layout and workspace plan. `llmModule` is the graph before lowering: the
/// entry signatures there are the ones the runtime binds.
llvm::Expected<llvm::json::Object> buildManifest(mlir::ModuleOp llmModule,
                                                 const ModelConfig &config,
                                                 llvm::json::Object target);

/// The manifest's "target" object for the CPU target.
llvm::json::Object cpuTargetManifest(const CpuTarget &target);

/// One kernel module of the CUDA target: its PTX and, when ptxas was
/// available, its cubin.
struct CudaModule {
  std::string name;
  std::string ptx;
  std::string cubin;
};

/// Assembles `ptx` for `arch` with `ptxasPath`; returns the cubin, or an
/// error with ptxas's messages.
llvm::Expected<std::string> assembleCubin(llvm::StringRef ptx,
                                          llvm::StringRef arch,
                                          llvm::StringRef ptxasPath);

/// Optimizes `module` at `optLevel` for `target`, emits an object file and
/// links it into a shared object with the system linker (`linker`, or the
/// first of ld.lld / ld on PATH). Returns the shared object's bytes.
llvm::Expected<std::string> compileCpuSharedObject(llvm::Module &module,
                                                   const CpuTarget &target,
                                                   unsigned optLevel,
                                                   llvm::StringRef linker);

struct ArtifactSection {
  std::string name;
  std::string data;
};

/// Writes the artifact container (header, section table, checksummed
/// sections) atomically: to a temporary file renamed over `path`.
llvm::Error writeArtifact(llvm::StringRef path,
                          llvm::ArrayRef<ArtifactSection> sections);

} // namespace kiln

#endif // KILN_ARTIFACT_ARTIFACT_H
