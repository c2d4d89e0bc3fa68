//===- WeightStore.h - weights across safetensors shards --------*- C++ -*-===//
//
// A WeightStore presents the tensors of a Hugging Face model directory
// (a single model.safetensors, or shards listed by
// model.safetensors.index.json) as one name -> tensor map, and copies or
// converts them into runtime buffers with shape and dtype checks.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_WEIGHTSTORE_H
#define KILN_RUNTIME_WEIGHTSTORE_H

#include "kiln/runtime/DType.h"
#include "kiln/runtime/Safetensors.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace kiln::rt {

class WeightStore {
public:
  /// Opens `dir`/model.safetensors.index.json if present (every shard it
  /// names is opened once and must contain the tensors mapped to it), else
  /// `dir`/model.safetensors; throws Error if neither exists.
  static WeightStore openDirectory(const std::string &dir);

  /// Opens a single safetensors file.
  static WeightStore openFile(const std::string &path);

  WeightStore(WeightStore &&) = default;
  WeightStore &operator=(WeightStore &&) = default;
  WeightStore(const WeightStore &) = delete;
  WeightStore &operator=(const WeightStore &) = delete;

  /// Returns the tensor called `name`, or nullptr.
  const TensorInfo *find(const std::string &name) const;

  /// All tensor names, sorted.
  std::vector<std::string> names() const;

  /// Sum of the stored sizes of all tensors, in bytes.
  size_t totalBytes() const;

  /// Copies tensor `name` into `dst` as `dstType`, which must hold
  /// product(expectedShape) elements. Throws Error if the tensor is missing,
  /// its shape differs from `expectedShape`, or either dtype is not one of
  /// f32/f16/bf16. Widening is exact; narrowing rounds to nearest even.
  void read(const std::string &name, DType dstType,
            const std::vector<int64_t> &expectedShape, void *dst) const;

  /// Returns a pointer into the mapped file when the tensor exists with
  /// exactly `dtype` and `shape` and its data is aligned for `dtype`, so the
  /// caller can use it in place; nullptr otherwise.
  const void *viewIfExact(const std::string &name, DType dtype,
                          const std::vector<int64_t> &shape) const;

  /// The directory or file the weights came from (used in messages).
  const std::string &source() const { return sourceName; }

private:
  WeightStore() = default;

  std::string sourceName;
  std::vector<std::unique_ptr<SafetensorsFile>> shards;
  std::unordered_map<std::string, const TensorInfo *> byName;
};

} // namespace kiln::rt

#endif // KILN_RUNTIME_WEIGHTSTORE_H
