//===- Safetensors.cpp - memory-mapped safetensors reader -------*- C++ -*-===//
//
// Safetensors headers come from downloaded files, so nothing in them is
// trusted: sizes and offsets are checked for overflow and bounds before any
// pointer into the data region is formed.
//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/Safetensors.h"

#include "kiln/runtime/Error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <sstream>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln::rt {

using nlohmann::json;

namespace {

// A header larger than this is certainly not a real model's; refusing it
// keeps a corrupt length from making us parse hundreds of megabytes.
constexpr uint64_t kMaxHeaderBytes = 100u * 1000u * 1000u;

std::string osError(const std::string &path, const char *what, int err) {
  return path + ": " + what + ": " + std::strerror(err);
}

[[noreturn]] void fail(const std::string &file, const std::string &message) {
  throw Error(file + ": " + message);
}

[[noreturn]] void failTensor(const std::string &file, const std::string &tensor,
                             const std::string &message) {
  throw Error(file + ": tensor '" + tensor + "': " + message);
}

/// Reads a JSON integer as uint64 if it is a non-negative integer.
bool getNonNegativeInteger(const json &value, uint64_t &out) {
  if (value.is_number_unsigned()) {
    out = value.get<uint64_t>();
    return true;
  }
  if (value.is_number_integer()) {
    int64_t signedValue = value.get<int64_t>();
    if (signedValue < 0)
      return false;
    out = static_cast<uint64_t>(signedValue);
    return true;
  }
  return false;
}

} // namespace

//===----------------------------------------------------------------------===//
// MappedFile
//===----------------------------------------------------------------------===//

MappedFile MappedFile::open(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw Error(osError(path, "cannot open", errno));
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    int err = errno;
    ::close(fd);
    throw Error(osError(path, "cannot stat", err));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    throw Error(path + ": not a regular file");
  }
  MappedFile result;
  result.filePath = path;
  result.length = static_cast<size_t>(info.st_size);
  // mmap rejects zero-length mappings; an empty file simply has no data.
  if (result.length != 0) {
    void *mapped =
        ::mmap(nullptr, result.length, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapped == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw Error(osError(path, "cannot mmap", err));
    }
    result.base = static_cast<const uint8_t *>(mapped);
  }
  // The mapping keeps the file alive; the descriptor is no longer needed.
  ::close(fd);
  return result;
}

MappedFile::MappedFile(MappedFile &&other) noexcept
    : base(std::exchange(other.base, nullptr)),
      length(std::exchange(other.length, 0)),
      filePath(std::move(other.filePath)) {}

MappedFile &MappedFile::operator=(MappedFile &&other) noexcept {
  if (this != &other) {
    reset();
    base = std::exchange(other.base, nullptr);
    length = std::exchange(other.length, 0);
    filePath = std::move(other.filePath);
  }
  return *this;
}

MappedFile::~MappedFile() { reset(); }

void MappedFile::reset() {
  if (base)
    ::munmap(const_cast<uint8_t *>(base), length);
  base = nullptr;
  length = 0;
}

//===----------------------------------------------------------------------===//
// TensorInfo
//===----------------------------------------------------------------------===//

int64_t TensorInfo::numElements() const {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

std::string formatShape(const std::vector<int64_t> &shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i)
    os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

//===----------------------------------------------------------------------===//
// SafetensorsFile
//===----------------------------------------------------------------------===//

std::unique_ptr<SafetensorsFile>
SafetensorsFile::open(const std::string &path) {
  MappedFile mapping = MappedFile::open(path);
  std::unique_ptr<SafetensorsFile> file =
      parse(mapping.data(), mapping.size(), path);
  // Moving the mapping does not move the mapped pages, so the TensorInfo
  // pointers stay valid.
  file->mapping = std::move(mapping);
  return file;
}

std::unique_ptr<SafetensorsFile>
SafetensorsFile::parse(const uint8_t *data, size_t size,
                       const std::string &nameForErrors) {
  const std::string &file = nameForErrors;
  if (size < 8)
    fail(file, "truncated: file is " + std::to_string(size) +
                   " bytes, too short for the 8-byte header length");
  uint64_t headerLength = 0;
  for (int i = 7; i >= 0; --i)
    headerLength = (headerLength << 8) | data[i];
  if (headerLength > size - 8)
    fail(file, "truncated: header length " + std::to_string(headerLength) +
                   " exceeds file size " + std::to_string(size));
  if (headerLength > kMaxHeaderBytes)
    fail(file, "header length " + std::to_string(headerLength) +
                   " exceeds the limit of " + std::to_string(kMaxHeaderBytes) +
                   " bytes");

  const uint8_t *headerBegin = data + 8;
  const uint8_t *headerEnd = headerBegin + headerLength;
  const uint8_t *dataRegion = headerEnd;
  uint64_t dataSize = size - 8 - headerLength;

  json header;
  try {
    header = json::parse(headerBegin, headerEnd);
  } catch (const json::exception &e) {
    fail(file, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object())
    fail(file, std::string("header must be a JSON object, got ") +
                   header.type_name());

  std::unique_ptr<SafetensorsFile> result(new SafetensorsFile());
  result->fileName = file;

  for (const auto &[name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object())
        fail(file, "__metadata__ must be an object of strings");
      for (const auto &[key, value] : entry.items()) {
        if (!value.is_string())
          fail(file, "__metadata__ entry '" + key + "' must be a string");
        result->metadataMap.emplace(key, value.get<std::string>());
      }
      continue;
    }
    if (!entry.is_object())
      failTensor(file, name, "entry must be an object");

    TensorInfo info;
    info.name = name;
    info.file = file;

    auto dtypeIt = entry.find("dtype");
    if (dtypeIt == entry.end() || !dtypeIt->is_string())
      failTensor(file, name, "missing or non-string 'dtype'");
    const std::string &dtypeText = dtypeIt->get_ref<const std::string &>();
    std::optional<DType> dtype = parseSafetensorsDType(dtypeText);
    if (!dtype)
      failTensor(file, name, "unknown dtype '" + dtypeText + "'");
    info.dtype = *dtype;

    auto shapeIt = entry.find("shape");
    if (shapeIt == entry.end() || !shapeIt->is_array())
      failTensor(file, name, "missing or non-array 'shape'");
    bool hasZero = false;
    for (const json &dim : *shapeIt) {
      uint64_t value;
      if (!getNonNegativeInteger(dim, value) ||
          value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        failTensor(file, name,
                   "shape must be an array of non-negative integers, got " +
                       shapeIt->dump());
      info.shape.push_back(static_cast<int64_t>(value));
      hasZero |= value == 0;
    }
    // The element count is computed in 64 bits with overflow checks; a zero
    // dimension makes it zero whatever the other dimensions are.
    uint64_t numElements = hasZero ? 0 : 1;
    if (!hasZero) {
      for (int64_t dim : info.shape) {
        if (static_cast<uint64_t>(dim) >
            static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) /
                numElements)
          failTensor(file, name,
                     "shape " + formatShape(info.shape) + " is too large");
        numElements *= static_cast<uint64_t>(dim);
      }
    }
    uint64_t elementSize = dtypeSize(info.dtype);
    if (numElements > std::numeric_limits<uint64_t>::max() / elementSize)
      failTensor(file, name,
                 "shape " + formatShape(info.shape) + " is too large");
    uint64_t expectedBytes = numElements * elementSize;

    auto offsetsIt = entry.find("data_offsets");
    uint64_t begin = 0, end = 0;
    if (offsetsIt == entry.end() || !offsetsIt->is_array() ||
        offsetsIt->size() != 2 ||
        !getNonNegativeInteger((*offsetsIt)[0], begin) ||
        !getNonNegativeInteger((*offsetsIt)[1], end))
      failTensor(file, name,
                 "data_offsets must be [begin, end] with non-negative "
                 "integers, got " +
                     (offsetsIt == entry.end() ? std::string("nothing")
                                               : offsetsIt->dump()));
    std::string offsetsText =
        "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
    if (begin > end)
      failTensor(file, name, "data_offsets " + offsetsText + " are reversed");
    if (end > dataSize)
      failTensor(file, name,
                 "data_offsets " + offsetsText + " exceed the data region of " +
                     std::to_string(dataSize) + " bytes");
    if (end - begin != expectedBytes)
      failTensor(file, name,
                 "data_offsets " + offsetsText + " do not match shape " +
                     formatShape(info.shape) + " x " + dtypeName(info.dtype) +
                     " (" + std::to_string(expectedBytes) + " bytes)");
    info.data = dataRegion + begin;
    info.bytes = static_cast<size_t>(expectedBytes);
    result->tensorList.push_back(std::move(info));
  }

  // Tensors must not share bytes: a writer bug or a crafted file could
  // otherwise alias two weights. Empty tensors occupy nothing.
  std::vector<const TensorInfo *> byOffset;
  for (const TensorInfo &info : result->tensorList)
    if (info.bytes != 0)
      byOffset.push_back(&info);
  std::sort(byOffset.begin(), byOffset.end(),
            [](const TensorInfo *a, const TensorInfo *b) {
              return a->data < b->data;
            });
  for (size_t i = 1; i < byOffset.size(); ++i) {
    const TensorInfo *prev = byOffset[i - 1];
    const TensorInfo *cur = byOffset[i];
    if (cur->data < prev->data + prev->bytes) {
      auto range = [&](const TensorInfo *t) {
        size_t b = static_cast<size_t>(t->data - dataRegion);
        return "[" + std::to_string(b) + ", " + std::to_string(b + t->bytes) +
               "]";
      };
      fail(file, "tensors '" + prev->name + "' " + range(prev) + " and '" +
                     cur->name + "' " + range(cur) + " overlap");
    }
  }

  for (size_t i = 0; i < result->tensorList.size(); ++i)
    result->byName.emplace(result->tensorList[i].name, i);
  return result;
}

const TensorInfo *SafetensorsFile::find(const std::string &name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : &tensorList[it->second];
}

} // namespace kiln::rt
