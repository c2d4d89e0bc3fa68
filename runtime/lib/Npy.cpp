//===- Npy.cpp - minimal NumPy .npy reader and writer -----------*- C++ -*-===//
//
// The header is a Python dict literal; rather than a general literal parser
// this accepts exactly the three keys NumPy writes, which is all a valid
// file can contain.
//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/Npy.h"

#include "kiln/runtime/Error.h"
#include "kiln/runtime/Safetensors.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

namespace kiln::rt {

// Tensor bytes are written and read as-is, which is only '<f4' on a
// little-endian host.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "Npy.cpp assumes a little-endian host");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

/// Element count of `shape`, or nullopt on a negative dimension or overflow.
std::optional<uint64_t> countElements(const std::vector<int64_t> &shape) {
  uint64_t count = 1;
  bool hasZero = false;
  for (int64_t dim : shape) {
    if (dim < 0)
      return std::nullopt;
    hasZero |= dim == 0;
  }
  if (hasZero)
    return 0;
  // Bound by what a byte count can hold after multiplying by 4.
  const uint64_t limit = std::numeric_limits<uint64_t>::max() / 8;
  for (int64_t dim : shape) {
    if (static_cast<uint64_t>(dim) > limit / count)
      return std::nullopt;
    count *= static_cast<uint64_t>(dim);
  }
  return count;
}

std::string shapeTuple(const std::vector<int64_t> &shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1)
    text += ",";
  return text + ")";
}

/// Parses the dict literal of an NPY header.
class HeaderParser {
public:
  HeaderParser(const std::string &path, const char *begin, const char *end)
      : path(path), cur(begin), end(end) {}

  void parse(std::string &descr, bool &fortranOrder,
             std::vector<int64_t> &shape) {
    bool seenDescr = false, seenOrder = false, seenShape = false;
    expect('{');
    while (true) {
      skipSpace();
      if (peek() == '}')
        break;
      std::string key = parseString();
      expect(':');
      if (key == "descr") {
        descr = parseString();
        seenDescr = true;
      } else if (key == "fortran_order") {
        fortranOrder = parseBool();
        seenOrder = true;
      } else if (key == "shape") {
        shape = parseTuple();
        seenShape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      skipSpace();
      if (peek() == ',') {
        ++cur;
        continue;
      }
      if (peek() != '}')
        fail("expected ',' or '}'");
    }
    ++cur;
    skipSpace();
    if (cur != end)
      fail("trailing characters after the header dict");
    if (!seenDescr || !seenOrder || !seenShape)
      fail("header must have 'descr', 'fortran_order' and 'shape'");
  }

private:
  [[noreturn]] void fail(const std::string &message) {
    throw Error(path + ": malformed npy header: " + message);
  }
  char peek() const { return cur == end ? '\0' : *cur; }
  void skipSpace() {
    while (cur != end && (*cur == ' ' || *cur == '\n' || *cur == '\t'))
      ++cur;
  }
  void expect(char c) {
    skipSpace();
    if (peek() != c)
      fail(std::string("expected '") + c + "'");
    ++cur;
  }
  std::string parseString() {
    skipSpace();
    char quote = peek();
    if (quote != '\'' && quote != '"')
      fail("expected a quoted string");
    ++cur;
    std::string text;
    while (cur != end && *cur != quote)
      text += *cur++;
    if (cur == end)
      fail("unterminated string");
    ++cur;
    return text;
  }
  bool parseBool() {
    skipSpace();
    auto match = [&](const char *word) {
      size_t n = std::strlen(word);
      if (static_cast<size_t>(end - cur) >= n &&
          std::memcmp(cur, word, n) == 0) {
        cur += n;
        return true;
      }
      return false;
    };
    if (match("True"))
      return true;
    if (match("False"))
      return false;
    fail("expected True or False");
  }
  std::vector<int64_t> parseTuple() {
    std::vector<int64_t> dims;
    expect('(');
    while (true) {
      skipSpace();
      if (peek() == ')')
        break;
      if (!(peek() >= '0' && peek() <= '9'))
        fail("expected a non-negative integer in 'shape'");
      int64_t value = 0;
      while (peek() >= '0' && peek() <= '9') {
        int digit = *cur++ - '0';
        if (value > (std::numeric_limits<int64_t>::max() - digit) / 10)
          fail("dimension too large in 'shape'");
        value = value * 10 + digit;
      }
      dims.push_back(value);
      skipSpace();
      if (peek() == ',') {
        ++cur;
        continue;
      }
      if (peek() != ')')
        fail("expected ',' or ')' in 'shape'");
    }
    ++cur;
    return dims;
  }

  const std::string &path;
  const char *cur;
  const char *end;
};

} // namespace

void writeNpyF32(const std::string &path, const float *data,
                 const std::vector<int64_t> &shape) {
  std::optional<uint64_t> count = countElements(shape);
  if (!count)
    throw Error(path + ": invalid shape " + formatShape(shape));
  if (*count != 0 && !data)
    throw Error(path + ": null data");

  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + shapeTuple(shape) +
      ", }";
  // NumPy pads the header with spaces and a final newline so the data
  // starts on a 64-byte boundary.
  size_t prefix = kMagicSize + 2 + 2;
  size_t total = prefix + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  if (header.size() > std::numeric_limits<uint16_t>::max())
    throw Error(path + ": npy header too long for shape " + formatShape(shape));

  std::FILE *out = std::fopen(path.c_str(), "wb");
  if (!out)
    throw Error(path + ": cannot open for writing: " + std::strerror(errno));
  uint8_t preamble[10];
  std::memcpy(preamble, kMagic, kMagicSize);
  preamble[6] = 1; // Format version 1.0.
  preamble[7] = 0;
  preamble[8] = static_cast<uint8_t>(header.size() & 0xff);
  preamble[9] = static_cast<uint8_t>(header.size() >> 8);
  size_t dataBytes = static_cast<size_t>(*count) * sizeof(float);
  bool ok =
      std::fwrite(preamble, 1, sizeof(preamble), out) == sizeof(preamble) &&
      std::fwrite(header.data(), 1, header.size(), out) == header.size() &&
      (dataBytes == 0 || std::fwrite(data, 1, dataBytes, out) == dataBytes);
  int writeErrno = errno;
  if (std::fclose(out) != 0 && ok) {
    ok = false;
    writeErrno = errno;
  }
  if (!ok)
    throw Error(path + ": write failed: " + std::strerror(writeErrno));
}

std::vector<float> readNpyF32(const std::string &path,
                              std::vector<int64_t> *shape) {
  MappedFile file = MappedFile::open(path);
  const uint8_t *bytes = file.data();
  size_t size = file.size();
  if (size < 10 || std::memcmp(bytes, kMagic, kMagicSize) != 0)
    throw Error(path + ": not an npy file (bad magic)");
  uint8_t major = bytes[6];
  size_t headerStart, headerLength;
  if (major == 1) {
    headerStart = 10;
    headerLength = bytes[8] | (static_cast<size_t>(bytes[9]) << 8);
  } else if (major == 2 || major == 3) {
    if (size < 12)
      throw Error(path + ": truncated npy preamble");
    headerStart = 12;
    headerLength = bytes[8] | (static_cast<size_t>(bytes[9]) << 8) |
                   (static_cast<size_t>(bytes[10]) << 16) |
                   (static_cast<size_t>(bytes[11]) << 24);
  } else {
    throw Error(path + ": unsupported npy format version " +
                std::to_string(major));
  }
  if (headerLength > size - headerStart)
    throw Error(path + ": truncated npy header (header length " +
                std::to_string(headerLength) + ", file size " +
                std::to_string(size) + ")");

  const char *headerBegin = reinterpret_cast<const char *>(bytes) + headerStart;
  std::string descr;
  bool fortranOrder = false;
  std::vector<int64_t> dims;
  HeaderParser(path, headerBegin, headerBegin + headerLength)
      .parse(descr, fortranOrder, dims);
  if (descr != "<f4")
    throw Error(path + ": npy dtype '" + descr +
                "' is not supported (expected '<f4')");
  if (fortranOrder)
    throw Error(path + ": Fortran-order npy arrays are not supported");
  std::optional<uint64_t> count = countElements(dims);
  if (!count)
    throw Error(path + ": npy shape " + formatShape(dims) + " is too large");

  size_t dataStart = headerStart + headerLength;
  uint64_t dataBytes = size - dataStart;
  if (dataBytes != *count * sizeof(float))
    throw Error(path + ": npy data is " + std::to_string(dataBytes) +
                " bytes but shape " + formatShape(dims) + " needs " +
                std::to_string(*count * sizeof(float)));
  std::vector<float> result(static_cast<size_t>(*count));
  if (dataBytes)
    std::memcpy(result.data(), bytes + dataStart, dataBytes);
  if (shape)
    *shape = std::move(dims);
  return result;
}

} // namespace kiln::rt
