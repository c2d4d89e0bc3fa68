//===- Mutator.h - deterministic input mutation for fuzz tests --*- C++ -*-===//
//
// A small, dependency-free mutator for bounded fuzz tests of the runtime's
// file readers. It mixes generic byte mutations with ones aimed at the
// formats we read: little-endian length/offset fields and JSON headers.
// Everything derives from the caller's std::mt19937_64, so a failing input
// is reproducible from the seed and iteration number.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_UNITTESTS_MUTATOR_H
#define KILN_RUNTIME_UNITTESTS_MUTATOR_H

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace kiln::rt::fuzz {

class Mutator {
public:
  using Bytes = std::vector<uint8_t>;

  explicit Mutator(std::mt19937_64 &rng, size_t maxSize = 1 << 20)
      : rng(rng), maxSize(maxSize) {}

  /// Returns a copy of `seed` with 1 to `maxMutations` random mutations.
  Bytes mutate(const Bytes &seed, unsigned maxMutations = 4) {
    Bytes data = seed;
    unsigned count = 1 + static_cast<unsigned>(below(maxMutations));
    for (unsigned i = 0; i < count; ++i)
      mutateOnce(data);
    if (data.size() > maxSize)
      data.resize(maxSize);
    return data;
  }

  /// Applies one randomly chosen mutation to `data` in place.
  void mutateOnce(Bytes &data) {
    switch (below(10)) {
    case 0:
      return flipBit(data);
    case 1:
      return overwriteInterestingByte(data);
    case 2:
      return truncate(data);
    case 3:
      return insertRun(data);
    case 4:
      return eraseRun(data);
    case 5:
      return overwriteLE64(data);
    case 6:
      return replaceNumber(data);
    case 7:
      return swapBracket(data);
    case 8:
      return deleteQuote(data);
    default:
      return insertToken(data);
    }
  }

  /// Uniform integer in [0, n); 0 when n == 0. Modulo bias is irrelevant
  /// here and, unlike std::uniform_int_distribution, the result does not
  /// depend on the standard library.
  uint64_t below(uint64_t n) { return n == 0 ? 0 : rng() % n; }

  void flipBit(Bytes &data) {
    if (data.empty())
      return;
    data[below(data.size())] ^= static_cast<uint8_t>(1u << below(8));
  }

  void overwriteInterestingByte(Bytes &data) {
    static const uint8_t values[] = {0x00, 0xff, 0x7f, 0x80};
    if (data.empty())
      return;
    data[below(data.size())] = values[below(4)];
  }

  void truncate(Bytes &data) { data.resize(below(data.size() + 1)); }

  void insertRun(Bytes &data) {
    size_t at = below(data.size() + 1);
    size_t length = 1 + below(16);
    uint8_t fill = below(2) ? static_cast<uint8_t>(rng()) : 0;
    Bytes run(length);
    for (uint8_t &b : run)
      b = below(4) ? fill : static_cast<uint8_t>(rng());
    data.insert(data.begin() + at, run.begin(), run.end());
  }

  void eraseRun(Bytes &data) {
    if (data.empty())
      return;
    size_t at = below(data.size());
    size_t length = 1 + below(std::min<size_t>(32, data.size() - at));
    data.erase(data.begin() + at, data.begin() + at + length);
  }

  /// Overwrites an 8-byte window with an edge-case little-endian integer.
  /// Offset 0 (where length prefixes live) is picked a third of the time.
  void overwriteLE64(Bytes &data) {
    if (data.size() < 8)
      return;
    size_t at = below(3) == 0 ? 0 : below(data.size() - 7);
    uint64_t size = data.size();
    const uint64_t values[] = {
        0,
        1,
        static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
        std::numeric_limits<uint64_t>::max(),
        size - 1,
        size,
        size + 1,
        size - 8,
        size - 7,
        uint64_t(1) << 32,
        uint64_t(1) << 63};
    uint64_t value = values[below(sizeof(values) / sizeof(values[0]))];
    for (int i = 0; i < 8; ++i)
      data[at + i] = static_cast<uint8_t>(value >> (8 * i));
  }

  /// Replaces a run of ASCII digits with a troublesome number.
  void replaceNumber(Bytes &data) {
    static const char *const numbers[] = {"99999999999999999999",
                                          "-1",
                                          "18446744073709551615",
                                          "9223372036854775807",
                                          "0",
                                          "1e308",
                                          "0.5",
                                          "-0",
                                          "4294967296"};
    size_t start;
    if (!findByte(data, [](uint8_t c) { return c >= '0' && c <= '9'; }, start))
      return;
    while (start > 0 && data[start - 1] >= '0' && data[start - 1] <= '9')
      --start;
    size_t end = start;
    while (end < data.size() && data[end] >= '0' && data[end] <= '9')
      ++end;
    const char *number = numbers[below(sizeof(numbers) / sizeof(numbers[0]))];
    data.erase(data.begin() + start, data.begin() + end);
    data.insert(data.begin() + start, number, number + std::strlen(number));
  }

  /// Turns a '[' into '{' or vice versa (and likewise for the closers).
  void swapBracket(Bytes &data) {
    size_t at;
    if (!findByte(
            data,
            [](uint8_t c) {
              return c == '[' || c == '{' || c == ']' || c == '}';
            },
            at))
      return;
    switch (data[at]) {
    case '[':
      data[at] = '{';
      break;
    case '{':
      data[at] = '[';
      break;
    case ']':
      data[at] = '}';
      break;
    default:
      data[at] = ']';
      break;
    }
  }

  void deleteQuote(Bytes &data) {
    size_t at;
    if (findByte(data, [](uint8_t c) { return c == '"'; }, at))
      data.erase(data.begin() + at);
  }

  /// Inserts a JSON fragment likely to confuse a schema check.
  void insertToken(Bytes &data) {
    static const char *const tokens[] = {
        "null",     "[]",      "{}",    ",",   ":",
        "\"\"",     "true",    "-",     "\\",  "\"__metadata__\":{},",
        "\"BOOL\"", "\"F64\"", "[0,0]", "\xff"};
    const char *token = tokens[below(sizeof(tokens) / sizeof(tokens[0]))];
    size_t at = below(data.size() + 1);
    data.insert(data.begin() + at, token, token + std::strlen(token));
  }

private:
  /// Finds a random byte satisfying `pred`: starts at a random position
  /// and wraps around.
  template <typename Pred>
  bool findByte(const Bytes &data, Pred pred, size_t &at) {
    if (data.empty())
      return false;
    size_t start = below(data.size());
    for (size_t i = 0; i < data.size(); ++i) {
      size_t pos = (start + i) % data.size();
      if (pred(data[pos])) {
        at = pos;
        return true;
      }
    }
    return false;
  }

  std::mt19937_64 &rng;
  size_t maxSize;
};

} // namespace kiln::rt::fuzz

#endif // KILN_RUNTIME_UNITTESTS_MUTATOR_H
