//===- SafetensorsTest.cpp - safetensors and WeightStore tests --*- C++ -*-===//
//
// Files are written by the test itself into a fresh temporary directory, so
// every malformed case is explicit about which byte or field is wrong.
//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/Safetensors.h"
#include "kiln/runtime/DType.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/WeightStore.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "TestUtil.h"
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

using namespace kiln::rt;
using namespace kiln::rt::test;
using nlohmann::json;
using Bytes = std::vector<uint8_t>;

namespace {

struct TensorSpec {
  std::string name;
  std::string dtype; // Safetensors spelling.
  std::vector<int64_t> shape;
  Bytes bytes;
};

template <typename T> Bytes toBytes(const std::vector<T> &values) {
  Bytes bytes(values.size() * sizeof(T));
  if (!bytes.empty())
    std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

Bytes withHeader(const std::string &header, const Bytes &data,
                 uint64_t headerLength) {
  Bytes file(8);
  for (int i = 0; i < 8; ++i)
    file[i] = static_cast<uint8_t>(headerLength >> (8 * i));
  file.insert(file.end(), header.begin(), header.end());
  file.insert(file.end(), data.begin(), data.end());
  return file;
}

/// A file with the given header text followed by `dataSize` zero bytes.
Bytes rawFile(const std::string &header, size_t dataSize) {
  return withHeader(header, Bytes(dataSize), header.size());
}

/// A valid file with tensors laid out back to back. `padTo` pads the header
/// with spaces so the data region starts at a multiple of it (use an odd
/// extra to misalign on purpose).
Bytes buildFile(const std::vector<TensorSpec> &tensors, size_t padTo = 8,
                size_t extraPad = 0, const json &metadata = nullptr) {
  json header = json::object();
  Bytes data;
  for (const TensorSpec &t : tensors) {
    header[t.name] = {
        {"dtype", t.dtype},
        {"shape", t.shape},
        {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data.insert(data.end(), t.bytes.begin(), t.bytes.end());
  }
  if (!metadata.is_null())
    header["__metadata__"] = metadata;
  std::string text = header.dump();
  while ((8 + text.size()) % padTo != 0)
    text += ' ';
  text.append(extraPad, ' ');
  return withHeader(text, data, text.size());
}

class SafetensorsTest : public ::testing::Test {
protected:
  std::string write(const std::string &name, const Bytes &bytes) {
    std::string path = dir + "/" + name;
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char *>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    EXPECT_TRUE(out.good()) << path;
    return path;
  }
  std::string write(const std::string &name, const std::string &text) {
    return write(name, Bytes(text.begin(), text.end()));
  }

  /// Opens a buffer as if it were a file called model.safetensors.
  std::string parseError(const Bytes &bytes) {
    return errorOf([&] {
      SafetensorsFile::parse(bytes.data(), bytes.size(), "model.safetensors");
    });
  }

  TempDir temp{"kiln-safetensors-test"};
  std::string dir = temp.path();
};

const std::vector<float> kA = {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, 65504.0f};
const std::vector<float> kB = {0.5f, 1.5f, -7.0f, 100.0f};

std::vector<uint16_t> toF16(const std::vector<float> &values) {
  std::vector<uint16_t> out;
  for (float v : values)
    out.push_back(floatToF16(v));
  return out;
}
std::vector<uint16_t> toBf16(const std::vector<float> &values) {
  std::vector<uint16_t> out;
  for (float v : values)
    out.push_back(floatToBf16(v));
  return out;
}

TEST_F(SafetensorsTest, ReadsF32File) {
  std::string path =
      write("model.safetensors", buildFile({{"b", "F32", {4}, toBytes(kB)},
                                            {"a", "F32", {2, 3}, toBytes(kA)}},
                                           8, 0, {{"format", "pt"}}));
  auto file = SafetensorsFile::open(path);
  ASSERT_EQ(file->tensors().size(), 2u);
  EXPECT_EQ(file->tensors()[0].name, "a"); // Sorted by name.
  EXPECT_EQ(file->metadata().at("format"), "pt");
  const TensorInfo *a = file->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::F32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->numElements(), 6);
  EXPECT_EQ(a->bytes, 24u);
  EXPECT_EQ(a->file, path);
  EXPECT_EQ(std::memcmp(a->data, kA.data(), 24), 0);
  const TensorInfo *b = file->find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(std::memcmp(b->data, kB.data(), 16), 0);
  EXPECT_EQ(file->find("c"), nullptr);
}

TEST_F(SafetensorsTest, ScalarsAndEmptyTensors) {
  Bytes scalar = toBytes(std::vector<float>{42.0f});
  Bytes bytes =
      buildFile({{"s", "F32", {}, scalar},
                 {"e", "BF16", {0, 5}, {}},
                 {"i", "I64", {1}, toBytes(std::vector<int64_t>{7})}});
  auto file = SafetensorsFile::parse(bytes.data(), bytes.size(), "x");
  EXPECT_EQ(file->find("s")->numElements(), 1);
  EXPECT_EQ(file->find("s")->bytes, 4u);
  EXPECT_EQ(file->find("e")->numElements(), 0);
  EXPECT_EQ(file->find("e")->bytes, 0u);
  EXPECT_EQ(file->find("i")->dtype, DType::I64);
}

TEST_F(SafetensorsTest, WeightStoreConvertsF32F16BF16) {
  write("model.safetensors",
        buildFile({{"f32", "F32", {2, 3}, toBytes(kA)},
                   {"f16", "F16", {2, 3}, toBytes(toF16(kA))},
                   {"bf16", "BF16", {2, 3}, toBytes(toBf16(kA))}}));
  WeightStore store = WeightStore::openDirectory(dir);
  EXPECT_EQ(store.names(), (std::vector<std::string>{"bf16", "f16", "f32"}));
  EXPECT_EQ(store.totalBytes(), 24u + 12u + 12u);
  std::vector<int64_t> shape = {2, 3};

  std::vector<float> f32(6);
  store.read("f32", DType::F32, shape, f32.data());
  EXPECT_EQ(f32, kA);
  // Widening is exact: f16 -> f32 gives back exactly the f16 values.
  store.read("f16", DType::F32, shape, f32.data());
  for (size_t i = 0; i < 6; ++i)
    EXPECT_EQ(f32[i], f16ToFloat(floatToF16(kA[i])));
  store.read("bf16", DType::F32, shape, f32.data());
  for (size_t i = 0; i < 6; ++i)
    EXPECT_EQ(f32[i], bf16ToFloat(floatToBf16(kA[i])));

  // Narrowing rounds to nearest even.
  std::vector<uint16_t> half(6);
  store.read("f32", DType::BF16, shape, half.data());
  EXPECT_EQ(half, toBf16(kA));
  store.read("f32", DType::F16, shape, half.data());
  EXPECT_EQ(half, toF16(kA));
  store.read("f16", DType::F16, shape, half.data());
  EXPECT_EQ(half, toF16(kA));
  store.read("f16", DType::BF16, shape, half.data());
  for (size_t i = 0; i < 6; ++i)
    EXPECT_EQ(half[i], floatToBf16(f16ToFloat(floatToF16(kA[i]))));
  store.read("bf16", DType::F16, shape, half.data());
  for (size_t i = 0; i < 6; ++i)
    EXPECT_EQ(half[i], floatToF16(bf16ToFloat(floatToBf16(kA[i]))));
}

TEST_F(SafetensorsTest, ViewIfExact) {
  std::string path = write("w.safetensors",
                           buildFile({{"a", "F32", {2, 3}, toBytes(kA)},
                                      {"h", "F16", {4}, toBytes(toF16(kB))}}));
  WeightStore store = WeightStore::openFile(path);
  const void *view = store.viewIfExact("a", DType::F32, {2, 3});
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view, store.find("a")->data);
  EXPECT_EQ(static_cast<const float *>(view)[2], 3.25f);
  EXPECT_NE(store.viewIfExact("h", DType::F16, {4}), nullptr);
  EXPECT_EQ(store.viewIfExact("a", DType::F16, {2, 3}), nullptr);
  EXPECT_EQ(store.viewIfExact("a", DType::F32, {3, 2}), nullptr);
  EXPECT_EQ(store.viewIfExact("missing", DType::F32, {2, 3}), nullptr);
}

TEST_F(SafetensorsTest, ViewIfExactRejectsMisalignedData) {
  // One extra header byte puts the data region at an odd address.
  std::string path = write(
      "w.safetensors", buildFile({{"a", "F32", {2, 3}, toBytes(kA)}}, 8, 1));
  WeightStore store = WeightStore::openFile(path);
  EXPECT_EQ(store.viewIfExact("a", DType::F32, {2, 3}), nullptr);
  std::vector<float> out(6);
  store.read("a", DType::F32, {2, 3}, out.data());
  EXPECT_EQ(out, kA);
}

TEST_F(SafetensorsTest, ShardedDirectory) {
  write("model-00001-of-00002.safetensors",
        buildFile({{"a", "F32", {2, 3}, toBytes(kA)},
                   {"unlisted", "F32", {4}, toBytes(kB)}}));
  write("model-00002-of-00002.safetensors",
        buildFile({{"b", "BF16", {4}, toBytes(toBf16(kB))}}));
  // An unrelated model.safetensors must be ignored when an index exists.
  write("model.safetensors", buildFile({{"z", "F32", {4}, toBytes(kB)}}));
  json index = {{"metadata", {{"total_size", 32}}},
                {"weight_map",
                 {{"a", "model-00001-of-00002.safetensors"},
                  {"b", "model-00002-of-00002.safetensors"}}}};
  write("model.safetensors.index.json", index.dump());

  WeightStore store = WeightStore::openDirectory(dir);
  EXPECT_EQ(store.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(store.totalBytes(), 24u + 8u);
  EXPECT_EQ(store.find("z"), nullptr);
  EXPECT_EQ(store.find("unlisted"), nullptr);
  std::vector<float> out(4);
  store.read("b", DType::F32, {4}, out.data());
  EXPECT_EQ(out, kB); // These values are exact in bf16.
  EXPECT_HAS_SUBSTR(store.find("a")->file, "model-00001-of-00002.safetensors");

  // A moved store keeps its tensor pointers valid.
  WeightStore moved = std::move(store);
  std::vector<float> a(6);
  moved.read("a", DType::F32, {2, 3}, a.data());
  EXPECT_EQ(a, kA);
}

TEST_F(SafetensorsTest, MappedFileErrorsAndEmptyFile) {
  std::string missing = dir + "/nope.safetensors";
  std::string msg = errorOf([&] { MappedFile::open(missing); });
  EXPECT_HAS_SUBSTR(msg, missing);
  EXPECT_HAS_SUBSTR(msg, "No such file or directory");
  EXPECT_HAS_SUBSTR(errorOf([&] { MappedFile::open(dir); }),
                    "not a regular file");

  std::string empty = write("empty.bin", Bytes());
  MappedFile mapped = MappedFile::open(empty);
  EXPECT_EQ(mapped.size(), 0u);
  EXPECT_EQ(mapped.path(), empty);
  MappedFile other = std::move(mapped);
  EXPECT_EQ(other.path(), empty);
}

//===----------------------------------------------------------------------===//
// Malformed files
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, EmptyFile) {
  std::string path = write("model.safetensors", Bytes());
  std::string msg = errorOf([&] { SafetensorsFile::open(path); });
  EXPECT_HAS_SUBSTR(msg, path + ": truncated");
}

TEST_F(SafetensorsTest, TruncatedHeaderLength) {
  EXPECT_HAS_SUBSTR(parseError(Bytes{1, 0, 0}),
                    "model.safetensors: truncated: file is 3 bytes");
}

TEST_F(SafetensorsTest, HeaderLengthLargerThanFile) {
  Bytes bytes = withHeader("{}", Bytes(110), 5000);
  ASSERT_EQ(bytes.size(), 120u);
  EXPECT_EQ(parseError(bytes), "model.safetensors: truncated: header length "
                               "5000 exceeds file size 120");
  Bytes huge = withHeader("{}", {}, ~uint64_t(0));
  EXPECT_HAS_SUBSTR(parseError(huge), "header length 18446744073709551615");
}

TEST_F(SafetensorsTest, NonJsonHeader) {
  EXPECT_HAS_SUBSTR(parseError(rawFile("{\"a\": ", 0)),
                    "model.safetensors: header is not valid JSON");
  EXPECT_HAS_SUBSTR(parseError(rawFile("", 0)), "header is not valid JSON");
  EXPECT_HAS_SUBSTR(parseError(rawFile("{\"a\xff\":1}", 0)),
                    "header is not valid JSON");
}

TEST_F(SafetensorsTest, HeaderNotAnObject) {
  EXPECT_HAS_SUBSTR(parseError(rawFile("[1, 2]", 0)),
                    "header must be a JSON object, got array");
  EXPECT_HAS_SUBSTR(parseError(rawFile("{\"w\": 3}", 0)),
                    "tensor 'w': entry must be an object");
}

TEST_F(SafetensorsTest, UnknownDType) {
  std::string msg = parseError(rawFile(
      R"({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}})",
      2));
  EXPECT_EQ(msg, "model.safetensors: tensor 'w': unknown dtype 'F8_E4M3'");
  EXPECT_HAS_SUBSTR(parseError(rawFile(
                        R"({"w": {"shape": [2], "data_offsets": [0, 2]}})", 2)),
                    "tensor 'w': missing or non-string 'dtype'");
}

TEST_F(SafetensorsTest, BadShape) {
  EXPECT_HAS_SUBSTR(
      parseError(rawFile(
          R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
          4)),
      "tensor 'w': shape must be an array of non-negative integers, got [-1]");
  EXPECT_HAS_SUBSTR(
      parseError(rawFile(
          R"({"w": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 4]}})",
          4)),
      "shape must be an array of non-negative integers");
  EXPECT_HAS_SUBSTR(
      parseError(rawFile(
          R"({"w": {"dtype": "F32", "shape": 4, "data_offsets": [0, 4]}})", 4)),
      "missing or non-array 'shape'");
  EXPECT_HAS_SUBSTR(
      parseError(rawFile(R"({"w": {"dtype": "F32", "shape": [4294967296, )"
                         R"(4294967296], "data_offsets": [0, 4]}})",
                         4)),
      "shape [4294967296, 4294967296] is too large");
  EXPECT_HAS_SUBSTR(
      parseError(
          rawFile(R"({"w": {"dtype": "F32", "shape": [99999999999999999999], )"
                  R"("data_offsets": [0, 4]}})",
                  4)),
      "shape must be an array of non-negative integers");
}

TEST_F(SafetensorsTest, DataOffsetsOutOfBounds) {
  EXPECT_HAS_SUBSTR(
      parseError(rawFile(
          R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})",
          12)),
      "tensor 'w': data_offsets [0, 16] exceed the data region of 12 bytes");
  EXPECT_HAS_SUBSTR(
      parseError(rawFile(
          R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})",
          12)),
      "data_offsets [8, 4] are reversed");
  EXPECT_HAS_SUBSTR(
      parseError(rawFile(
          R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", 12)),
      "data_offsets must be [begin, end]");
  EXPECT_HAS_SUBSTR(
      parseError(rawFile(
          R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}})",
          12)),
      "data_offsets must be [begin, end]");
}

TEST_F(SafetensorsTest, DataOffsetsDoNotMatchShape) {
  EXPECT_EQ(parseError(rawFile(R"({"model.norm.weight": {"dtype": "F32", )"
                               R"("shape": [64], "data_offsets": [0, 300]}})",
                               300)),
            "model.safetensors: tensor 'model.norm.weight': data_offsets "
            "[0, 300] do not match shape [64] x f32 (256 bytes)");
}

TEST_F(SafetensorsTest, OverlappingRanges) {
  std::string msg = parseError(rawFile(
      R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},)"
      R"( "b": {"dtype": "F16", "shape": [4], "data_offsets": [8, 16]}})",
      16));
  EXPECT_HAS_SUBSTR(msg, "tensors 'a' [0, 16] and 'b' [8, 16] overlap");
  // Empty tensors may sit anywhere.
  Bytes ok = rawFile(
      R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},)"
      R"( "b": {"dtype": "F16", "shape": [0], "data_offsets": [8, 8]}})",
      16);
  EXPECT_NO_THROW(SafetensorsFile::parse(ok.data(), ok.size(), "ok"));
}

TEST_F(SafetensorsTest, BadMetadata) {
  EXPECT_HAS_SUBSTR(parseError(rawFile(R"({"__metadata__": [1]})", 0)),
                    "__metadata__ must be an object of strings");
  EXPECT_HAS_SUBSTR(parseError(rawFile(R"({"__metadata__": {"k": 1}})", 0)),
                    "__metadata__ entry 'k' must be a string");
}

TEST_F(SafetensorsTest, ReadErrors) {
  write("model.safetensors",
        buildFile({{"w", "F32", {2, 3}, toBytes(kA)},
                   {"ids", "I64", {1}, toBytes(std::vector<int64_t>{3})}}));
  WeightStore store = WeightStore::openDirectory(dir);
  std::vector<float> out(6);
  EXPECT_EQ(errorOf([&] {
              store.read("lm_head.weight", DType::F32, {2, 3}, out.data());
            }),
            "weights in " + dir + ": missing tensor 'lm_head.weight'");
  std::string msg =
      errorOf([&] { store.read("w", DType::F32, {3, 2}, out.data()); });
  EXPECT_HAS_SUBSTR(msg, "tensor 'w' has shape [2, 3]");
  EXPECT_HAS_SUBSTR(msg, "[3, 2]");
  EXPECT_HAS_SUBSTR(
      errorOf([&] { store.read("ids", DType::F32, {1}, out.data()); }),
      "tensor 'ids' has dtype i64");
  EXPECT_HAS_SUBSTR(
      errorOf([&] { store.read("w", DType::I32, {2, 3}, out.data()); }),
      "cannot convert tensor 'w' from f32 to i32");
}

TEST_F(SafetensorsTest, DirectoryWithoutWeights) {
  EXPECT_EQ(errorOf([&] { WeightStore::openDirectory(dir); }),
            dir + ": no model.safetensors or model.safetensors.index.json");
}

TEST_F(SafetensorsTest, IndexWithMissingShardFile) {
  write("model-00001-of-00002.safetensors",
        buildFile({{"a", "F32", {2, 3}, toBytes(kA)}}));
  json index = {{"weight_map",
                 {{"a", "model-00001-of-00002.safetensors"},
                  {"b", "model-00002-of-00002.safetensors"}}}};
  write("model.safetensors.index.json", index.dump());
  std::string msg = errorOf([&] { WeightStore::openDirectory(dir); });
  EXPECT_HAS_SUBSTR(msg,
                    "cannot load shard 'model-00002-of-00002.safetensors'");
  EXPECT_HAS_SUBSTR(msg, "No such file or directory");
}

TEST_F(SafetensorsTest, IndexNamesTensorAbsentFromShard) {
  write("shard.safetensors", buildFile({{"a", "F32", {2, 3}, toBytes(kA)}}));
  json index = {
      {"weight_map", {{"a", "shard.safetensors"}, {"b", "shard.safetensors"}}}};
  write("model.safetensors.index.json", index.dump());
  EXPECT_HAS_SUBSTR(errorOf([&] { WeightStore::openDirectory(dir); }),
                    "tensor 'b' is mapped to shard 'shard.safetensors', "
                    "which does not contain it");
}

TEST_F(SafetensorsTest, IndexShardPathEscapes) {
  for (std::string bad :
       {"../model.safetensors", "sub/model.safetensors", "/etc/passwd", ".."}) {
    json index = {{"weight_map", {{"a", bad}}}};
    write("model.safetensors.index.json", index.dump());
    EXPECT_HAS_SUBSTR(errorOf([&] { WeightStore::openDirectory(dir); }),
                      "invalid shard file name '" + bad + "'");
  }
}

TEST_F(SafetensorsTest, MalformedIndex) {
  write("model.safetensors.index.json", "{not json");
  EXPECT_HAS_SUBSTR(errorOf([&] { WeightStore::openDirectory(dir); }),
                    "model.safetensors.index.json: not valid JSON");
  write("model.safetensors.index.json", R"({"weight_map": []})");
  EXPECT_HAS_SUBSTR(errorOf([&] { WeightStore::openDirectory(dir); }),
                    "missing or non-object 'weight_map'");
  write("model.safetensors.index.json", R"({"weight_map": {"a": 3}})");
  EXPECT_HAS_SUBSTR(errorOf([&] { WeightStore::openDirectory(dir); }),
                    "weight_map entry for tensor 'a' must be a string");
}

} // namespace
