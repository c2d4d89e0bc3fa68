//===- SafetensorsFuzzTest.cpp - bounded fuzzing of the parser --*- C++ -*-===//
//
// Mutates a few valid safetensors files and checks that the parser either
// accepts each input with every tensor inside the buffer, or throws
// kiln::rt::Error; any other exception (or a crash, or an ASan report) is a
// bug. Deterministic: the seed is fixed. KILN_FUZZ_ITERATIONS sets the
// iteration count (default 20000) and KILN_FUZZ_SECONDS the time cap
// (default 3).
//
//===----------------------------------------------------------------------===//
#include "Mutator.h"

#include "kiln/runtime/Error.h"
#include "kiln/runtime/Safetensors.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "TestUtil.h"
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

using namespace kiln::rt;
using namespace kiln::rt::test;
using nlohmann::json;
using Bytes = std::vector<uint8_t>;

namespace {

/// A valid file: `entries` gives each tensor's JSON minus data_offsets.
Bytes seedFile(const std::vector<std::pair<std::string, json>> &entries,
               const std::vector<size_t> &sizes, const json &metadata) {
  json header = json::object();
  size_t offset = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    json entry = entries[i].second;
    entry["data_offsets"] = {offset, offset + sizes[i]};
    offset += sizes[i];
    header[entries[i].first] = entry;
  }
  if (!metadata.is_null())
    header["__metadata__"] = metadata;
  std::string text = header.dump();
  while (text.size() % 8)
    text += ' ';
  Bytes file(8);
  for (int i = 0; i < 8; ++i)
    file[i] = static_cast<uint8_t>(uint64_t(text.size()) >> (8 * i));
  file.insert(file.end(), text.begin(), text.end());
  for (size_t i = 0; i < offset; ++i)
    file.push_back(static_cast<uint8_t>(i * 37));
  return file;
}

std::vector<Bytes> seeds() {
  return {
      seedFile({{"model.norm.weight", {{"dtype", "F32"}, {"shape", {16}}}},
                {"lm_head.weight", {{"dtype", "BF16"}, {"shape", {4, 8}}}}},
               {64, 64}, {{"format", "pt"}}),
      seedFile({{"a", {{"dtype", "F16"}, {"shape", {2, 3}}}},
                {"b", {{"dtype", "I64"}, {"shape", json::array()}}},
                {"c", {{"dtype", "BOOL"}, {"shape", {0, 4}}}},
                {"d", {{"dtype", "U8"}, {"shape", {3}}}}},
               {12, 8, 0, 3}, nullptr),
      seedFile({{"x", {{"dtype", "F64"}, {"shape", {1, 1, 2}}}}}, {16},
               json::object()),
  };
}

TEST(SafetensorsFuzzTest, ParseNeverMisbehaves) {
  const uint64_t iterations = envOr("KILN_FUZZ_ITERATIONS", 20000);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::seconds(envOr("KILN_FUZZ_SECONDS", 3));
  std::vector<Bytes> inputs = seeds();
  // The seeds themselves must parse, or the fuzzer explores nothing useful.
  for (const Bytes &seed : inputs)
    ASSERT_NO_THROW(SafetensorsFile::parse(seed.data(), seed.size(), "seed"));

  std::mt19937_64 rng(0x6b696c6e); // "kiln"
  fuzz::Mutator mutator(rng);
  uint64_t accepted = 0, rejected = 0, done = 0;
  for (; done < iterations; ++done) {
    if ((done & 63) == 0 && std::chrono::steady_clock::now() > deadline)
      break;
    Bytes mutated = mutator.mutate(inputs[done % inputs.size()]);
    // An exact-size heap copy lets ASan catch any read past the end.
    size_t size = mutated.size();
    std::unique_ptr<uint8_t[]> buffer(new uint8_t[size ? size : 1]);
    if (size)
      std::memcpy(buffer.get(), mutated.data(), size);
    const uint8_t *begin = buffer.get(), *end = begin + size;

    std::unique_ptr<SafetensorsFile> file;
    try {
      file = SafetensorsFile::parse(begin, size, "fuzz");
    } catch (const Error &) {
      ++rejected;
      continue;
    } catch (const std::exception &e) {
      FAIL() << "iteration " << done << ": unexpected exception: " << e.what();
    } catch (...) {
      FAIL() << "iteration " << done << ": unexpected non-std exception";
    }
    ++accepted;
    for (const TensorInfo &t : file->tensors()) {
      ASSERT_GE(t.data, begin) << "iteration " << done << " tensor " << t.name;
      ASSERT_LE(t.data, end) << "iteration " << done << " tensor " << t.name;
      ASSERT_LE(t.bytes, static_cast<size_t>(end - t.data))
          << "iteration " << done << " tensor " << t.name;
      ASSERT_EQ(t.bytes,
                static_cast<size_t>(t.numElements()) * dtypeSize(t.dtype));
      ASSERT_EQ(file->find(t.name), &t);
      // Touch every byte so ASan sees the whole claimed range.
      unsigned sum = 0;
      for (size_t i = 0; i < t.bytes; ++i)
        sum += t.data[i];
      (void)sum;
    }
  }
  // Both outcomes must occur, or the mutator is too weak or too strong.
  EXPECT_GT(rejected, 0u);
  EXPECT_GT(accepted, 0u);
  std::printf("[ fuzz     ] %llu inputs: %llu accepted, %llu rejected\n",
              static_cast<unsigned long long>(done),
              static_cast<unsigned long long>(accepted),
              static_cast<unsigned long long>(rejected));
}

} // namespace
