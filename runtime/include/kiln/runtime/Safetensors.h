//===- Safetensors.h - memory-mapped safetensors reader ---------*- C++ -*-===//
//
// Reads safetensors files (an 8-byte little-endian header length, a JSON
// header describing each tensor, then the raw tensor bytes) by memory-mapping
// them, so weights are paged in lazily and shared with the page cache. The
// header is untrusted input: every field is validated and any inconsistency
// is reported as kiln::rt::Error naming the file and tensor.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_SAFETENSORS_H
#define KILN_RUNTIME_SAFETENSORS_H

#include "kiln/runtime/DType.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace kiln::rt {

/// A read-only memory mapping of a whole file. Move-only; unmaps on
/// destruction. An empty file is valid and has data() == nullptr.
class MappedFile {
public:
  /// Maps `path`; throws Error naming the path and the OS error.
  static MappedFile open(const std::string &path);

  MappedFile() = default;
  MappedFile(MappedFile &&other) noexcept;
  MappedFile &operator=(MappedFile &&other) noexcept;
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;
  ~MappedFile();

  const uint8_t *data() const { return base; }
  size_t size() const { return length; }
  const std::string &path() const { return filePath; }

private:
  void reset();

  const uint8_t *base = nullptr;
  size_t length = 0;
  std::string filePath;
};

/// One tensor of a safetensors file. `data` points into the file's buffer
/// and stays valid as long as the owning SafetensorsFile lives.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr;
  size_t bytes = 0;
  /// The file the tensor came from (the name used in error messages).
  std::string file;

  /// Product of the shape (1 for a scalar); validated not to overflow.
  int64_t numElements() const;
};

/// Formats a shape as "[2, 3]" for error messages.
std::string formatShape(const std::vector<int64_t> &shape);

class SafetensorsFile {
public:
  /// Maps and parses `path`.
  static std::unique_ptr<SafetensorsFile> open(const std::string &path);

  /// Parses a buffer the caller keeps alive for the lifetime of the result.
  /// `nameForErrors` prefixes every error message and fills TensorInfo::file.
  static std::unique_ptr<SafetensorsFile>
  parse(const uint8_t *data, size_t size, const std::string &nameForErrors);

  /// Returns the tensor called `name`, or nullptr.
  const TensorInfo *find(const std::string &name) const;

  /// All tensors, sorted by name.
  const std::vector<TensorInfo> &tensors() const { return tensorList; }

  /// The "__metadata__" string map (empty when absent).
  const std::unordered_map<std::string, std::string> &metadata() const {
    return metadataMap;
  }

  const std::string &name() const { return fileName; }

private:
  SafetensorsFile() = default;

  MappedFile mapping; // Empty when parsed from a caller-owned buffer.
  std::string fileName;
  std::vector<TensorInfo> tensorList;
  std::unordered_map<std::string, size_t> byName;
  std::unordered_map<std::string, std::string> metadataMap;
};

} // namespace kiln::rt

#endif // KILN_RUNTIME_SAFETENSORS_H
