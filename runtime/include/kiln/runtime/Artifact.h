//===- Artifact.h - load and validate a Kiln artifact ------------*- C++
//-*-===//
//
// Reads the container written by kiln-compile (ArtifactFormat.h), checks the
// header, every section's bounds and checksum, and parses the manifest into
// the plain structs below. Nothing in the artifact is trusted: every field
// is type-checked and every error names the file and the field.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ARTIFACT_H
#define KILN_RUNTIME_ARTIFACT_H

#include "kiln/runtime/DType.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kiln::rt {

/// One dimension of a manifest shape: a constant, or a named dynamic size
/// ("batch", "seq" or "context") bound when the entry is called.
struct Dim {
  int64_t value = 0;
  std::string symbol;
  bool isDynamic() const { return !symbol.empty(); }
};

struct ValueDesc {
  std::string binding;
  enum class Kind { Tensor, Index } kind = Kind::Tensor;
  DType dtype = DType::F32;
  std::vector<Dim> shape;
};

struct EntryDesc {
  std::string name;
  std::string symbol;
  std::vector<ValueDesc> args;
  ValueDesc result;
};

struct ModelDesc {
  std::string architecture;
  std::string name;
  int64_t hiddenSize = 0, intermediateSize = 0, numLayers = 0, numHeads = 0,
          numKvHeads = 0, headDim = 0, vocabSize = 0, maxPositionEmbeddings = 0,
          numParameters = 0;
  double rmsNormEps = 0, ropeTheta = 0;
  bool tieWordEmbeddings = false;
};

struct WeightDesc {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
};

/// A kernel module of the CUDA target: the sections holding its PTX and,
/// when the compiler had ptxas, its cubin.
struct CudaModuleDesc {
  std::string name, ptxSection, cubinSection;
};

struct TargetDesc {
  std::string kind; ///< "cpu" or "cuda"
  std::string section;
  // cpu
  std::string triple;
  std::string cpu;
  std::string features;
  // cuda
  std::string arch; ///< "sm_90"
  std::vector<CudaModuleDesc> modules;
};

struct Manifest {
  uint32_t formatVersion = 0;
  DType dtype = DType::F32;
  ModelDesc model;
  TargetDesc target;
  std::vector<EntryDesc> entries;
  std::vector<WeightDesc> weights;
  int64_t kvLayers = 0;
  DType kvDtype = DType::F32;
  /// [batch, context, kv_heads, head_dim]: the last two are constants.
  std::vector<Dim> kvShape;
  /// CUDA target: each entry's launch plan (JSON text, validated on load).
  std::map<std::string, std::string> launchPlans;

  const EntryDesc *findEntry(const std::string &name) const;
};

class Artifact {
public:
  /// Reads and validates the artifact file at `path`.
  static Artifact load(const std::string &path);
  /// Validates an in-memory artifact; `name` is used in messages.
  static Artifact parse(const uint8_t *data, size_t size,
                        const std::string &name);

  const std::string &name() const { return name_; }
  const Manifest &manifest() const { return manifest_; }
  /// The bytes of a section; throws Error if it is absent.
  const std::string &section(const std::string &sectionName) const;
  bool hasSection(const std::string &sectionName) const {
    return sections_.count(sectionName) != 0;
  }

private:
  std::string name_;
  Manifest manifest_;
  std::map<std::string, std::string> sections_;
};

/// Parses manifest JSON text; exposed for tests.
Manifest parseManifest(const std::string &json, const std::string &name);

} // namespace kiln::rt

#endif // KILN_RUNTIME_ARTIFACT_H
