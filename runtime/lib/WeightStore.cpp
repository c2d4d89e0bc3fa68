//===- WeightStore.cpp - weights across safetensors shards ------*- C++ -*-===//
//
// The shard index is untrusted like the shards themselves: shard names are
// restricted to plain file names so an index cannot make us open files
// outside the model directory.
//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/WeightStore.h"

#include "kiln/runtime/Error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>

#include <sys/stat.h>

namespace kiln::rt {

using nlohmann::json;

namespace {

bool pathExists(const std::string &path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0;
}

bool isPlainFileName(const std::string &name) {
  return !name.empty() && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos &&
         name.find("..") == std::string::npos &&
         name.find('\0') == std::string::npos;
}

// Element loads and stores go through memcpy: mapped tensors are only
// guaranteed byte alignment.
template <DType T> float loadElement(const uint8_t *p);
template <> float loadElement<DType::F32>(const uint8_t *p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}
template <> float loadElement<DType::F16>(const uint8_t *p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return f16ToFloat(v);
}
template <> float loadElement<DType::BF16>(const uint8_t *p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return bf16ToFloat(v);
}

template <DType T> void storeElement(uint8_t *p, float value);
template <> void storeElement<DType::F32>(uint8_t *p, float value) {
  std::memcpy(p, &value, 4);
}
template <> void storeElement<DType::F16>(uint8_t *p, float value) {
  uint16_t v = floatToF16(value);
  std::memcpy(p, &v, 2);
}
template <> void storeElement<DType::BF16>(uint8_t *p, float value) {
  uint16_t v = floatToBf16(value);
  std::memcpy(p, &v, 2);
}

template <DType Src, DType Dst>
void convertLoop(const uint8_t *src, uint8_t *dst, size_t count) {
  constexpr size_t srcSize = Src == DType::F32 ? 4 : 2;
  constexpr size_t dstSize = Dst == DType::F32 ? 4 : 2;
  for (size_t i = 0; i < count; ++i)
    storeElement<Dst>(dst + i * dstSize, loadElement<Src>(src + i * srcSize));
}

template <DType Src>
void convertFrom(DType dstType, const uint8_t *src, uint8_t *dst,
                 size_t count) {
  switch (dstType) {
  case DType::F32:
    return convertLoop<Src, DType::F32>(src, dst, count);
  case DType::F16:
    return convertLoop<Src, DType::F16>(src, dst, count);
  case DType::BF16:
    return convertLoop<Src, DType::BF16>(src, dst, count);
  default:
    return;
  }
}

} // namespace

WeightStore WeightStore::openFile(const std::string &path) {
  WeightStore store;
  store.sourceName = path;
  store.shards.push_back(SafetensorsFile::open(path));
  for (const TensorInfo &info : store.shards.back()->tensors())
    store.byName.emplace(info.name, &info);
  return store;
}

WeightStore WeightStore::openDirectory(const std::string &dir) {
  std::string indexPath = dir + "/model.safetensors.index.json";
  if (!pathExists(indexPath)) {
    std::string singlePath = dir + "/model.safetensors";
    if (!pathExists(singlePath))
      throw Error(dir + ": no model.safetensors or "
                        "model.safetensors.index.json");
    WeightStore store = openFile(singlePath);
    store.sourceName = dir;
    return store;
  }

  MappedFile indexFile = MappedFile::open(indexPath);
  json index;
  try {
    index = json::parse(indexFile.data(), indexFile.data() + indexFile.size());
  } catch (const json::exception &e) {
    throw Error(indexPath + ": not valid JSON: " + e.what());
  }
  if (!index.is_object())
    throw Error(indexPath + ": must be a JSON object");
  auto mapIt = index.find("weight_map");
  if (mapIt == index.end() || !mapIt->is_object())
    throw Error(indexPath + ": missing or non-object 'weight_map'");

  WeightStore store;
  store.sourceName = dir;
  // Shards are opened once each, in name order for deterministic errors.
  std::map<std::string, SafetensorsFile *> shardByName;
  for (const auto &[tensor, shard] : mapIt->items()) {
    if (!shard.is_string())
      throw Error(indexPath + ": weight_map entry for tensor '" + tensor +
                  "' must be a string");
    const std::string &shardName = shard.get_ref<const std::string &>();
    if (!isPlainFileName(shardName))
      throw Error(indexPath + ": tensor '" + tensor +
                  "' maps to invalid shard file name '" + shardName +
                  "' (must be a plain file name in the model directory)");
    shardByName.emplace(shardName, nullptr);
  }
  for (auto &[shardName, file] : shardByName) {
    try {
      store.shards.push_back(SafetensorsFile::open(dir + "/" + shardName));
    } catch (const Error &e) {
      throw Error(indexPath + ": cannot load shard '" + shardName +
                  "': " + e.what());
    }
    file = store.shards.back().get();
  }
  for (const auto &[tensor, shard] : mapIt->items()) {
    const std::string &shardName = shard.get_ref<const std::string &>();
    const TensorInfo *info = shardByName.at(shardName)->find(tensor);
    if (!info)
      throw Error(indexPath + ": tensor '" + tensor + "' is mapped to shard '" +
                  shardName + "', which does not contain it");
    store.byName.emplace(tensor, info);
  }
  return store;
}

const TensorInfo *WeightStore::find(const std::string &name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : it->second;
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> result;
  result.reserve(byName.size());
  for (const auto &entry : byName)
    result.push_back(entry.first);
  std::sort(result.begin(), result.end());
  return result;
}

size_t WeightStore::totalBytes() const {
  size_t total = 0;
  for (const auto &entry : byName)
    total += entry.second->bytes;
  return total;
}

void WeightStore::read(const std::string &name, DType dstType,
                       const std::vector<int64_t> &expectedShape,
                       void *dst) const {
  std::string prefix = "weights in " + sourceName + ": ";
  const TensorInfo *info = find(name);
  if (!info)
    throw Error(prefix + "missing tensor '" + name + "'");
  if (info->shape != expectedShape)
    throw Error(prefix + "tensor '" + name + "' has shape " +
                formatShape(info->shape) + " but the model expects " +
                formatShape(expectedShape));
  if (!isFloatWeightType(info->dtype))
    throw Error(prefix + "tensor '" + name + "' has dtype " +
                dtypeName(info->dtype) +
                "; only f32, f16 and bf16 weights are supported");
  if (!isFloatWeightType(dstType))
    throw Error(prefix + "cannot convert tensor '" + name + "' from " +
                dtypeName(info->dtype) + " to " + dtypeName(dstType) +
                "; only f32, f16 and bf16 are supported");
  size_t count = static_cast<size_t>(info->numElements());
  if (count == 0)
    return;
  if (!dst)
    throw Error(prefix + "null destination for tensor '" + name + "'");

  const uint8_t *src = info->data;
  auto *out = static_cast<uint8_t *>(dst);
  if (info->dtype == dstType) {
    std::memcpy(out, src, info->bytes);
    return;
  }
  switch (info->dtype) {
  case DType::F32:
    return convertFrom<DType::F32>(dstType, src, out, count);
  case DType::F16:
    return convertFrom<DType::F16>(dstType, src, out, count);
  case DType::BF16:
    return convertFrom<DType::BF16>(dstType, src, out, count);
  default:
    return;
  }
}

const void *WeightStore::viewIfExact(const std::string &name, DType dtype,
                                     const std::vector<int64_t> &shape) const {
  const TensorInfo *info = find(name);
  if (!info || info->dtype != dtype || info->shape != shape)
    return nullptr;
  // Every supported element type's alignment equals its size.
  if (reinterpret_cast<uintptr_t>(info->data) % dtypeSize(dtype) != 0)
    return nullptr;
  return info->data;
}

} // namespace kiln::rt
