//===- NpyTest.cpp - tests for the .npy reader and writer -------*- C++ -*-===//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/Npy.h"
#include "kiln/runtime/Error.h"

#include <gtest/gtest.h>

#include "TestUtil.h"
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

using namespace kiln::rt;
using namespace kiln::rt::test;

namespace {

class NpyTest : public ::testing::Test {
protected:
  std::string writeRaw(const std::string &name, const std::string &bytes) {
    std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  std::string readRaw(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  /// An NPY 1.0 file with the given header dict and raw data.
  std::string npyBytes(std::string dict, const std::string &data) {
    dict += '\n';
    std::string out("\x93NUMPY\x01\x00", 8);
    out += static_cast<char>(dict.size() & 0xff);
    out += static_cast<char>(dict.size() >> 8);
    return out + dict + data;
  }

  TempDir temp{"kiln-npy-test"};
  std::string dir = temp.path();
};

TEST_F(NpyTest, RoundTrip) {
  std::vector<float> values = {1.0f, -2.0f, 3.5f, 0.0f, 1e-30f, -7.25f};
  for (const std::vector<int64_t> &shape :
       {std::vector<int64_t>{2, 3}, {6}, {1, 2, 3, 1}}) {
    std::string path = dir + "/x.npy";
    writeNpyF32(path, values.data(), shape);
    std::string bytes = readRaw(path);
    // NumPy's layout: 64-byte-aligned data, header ends with a newline.
    ASSERT_EQ((bytes.size() - 24) % 64, 0u);
    EXPECT_EQ(bytes.compare(0, 6, "\x93NUMPY"), 0);
    EXPECT_NE(bytes.find("'descr': '<f4'"), std::string::npos);
    std::vector<int64_t> readShape;
    EXPECT_EQ(readNpyF32(path, &readShape), values);
    EXPECT_EQ(readShape, shape);
  }
  std::string path = dir + "/one.npy";
  writeNpyF32(path, values.data(), {6});
  EXPECT_NE(readRaw(path).find("'shape': (6,)"), std::string::npos);
}

TEST_F(NpyTest, ScalarAndEmpty) {
  float value = 4.5f;
  std::string path = dir + "/s.npy";
  writeNpyF32(path, &value, {});
  std::vector<int64_t> shape = {9};
  EXPECT_EQ(readNpyF32(path, &shape), std::vector<float>{4.5f});
  EXPECT_TRUE(shape.empty());
  writeNpyF32(path, nullptr, {0, 3});
  EXPECT_TRUE(readNpyF32(path, &shape).empty());
  EXPECT_EQ(shape, (std::vector<int64_t>{0, 3}));
}

TEST_F(NpyTest, ReadsNumpyWrittenHeader) {
  // Exactly what numpy.save writes for np.float32([[1, 2]]), plus version 2.
  std::string data(8, '\0');
  float two[] = {1.0f, 2.0f};
  std::memcpy(data.data(), two, 8);
  std::string path = writeRaw(
      "np.npy",
      npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }   ",
               data));
  std::vector<int64_t> shape;
  EXPECT_EQ(readNpyF32(path, &shape), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(shape, (std::vector<int64_t>{1, 2}));
}

TEST_F(NpyTest, BadFiles) {
  std::string missing = dir + "/missing.npy";
  EXPECT_HAS_SUBSTR(errorOf([&] { readNpyF32(missing, nullptr); }), missing);
  EXPECT_HAS_SUBSTR(
      errorOf([&] { readNpyF32(writeRaw("a.npy", "hello world"), nullptr); }),
      "a.npy: not an npy file");
  std::string okDict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  struct Case {
    std::string bytes;
    std::string expected;
  } cases[] = {
      {npyBytes(okDict, std::string(4, '\0')), "npy data is 4 bytes"},
      {npyBytes(okDict, std::string(12, '\0')), "npy data is 12 bytes"},
      {npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                std::string(16, '\0')),
       "npy dtype '<f8' is not supported"},
      {npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
                std::string(8, '\0')),
       "Fortran-order"},
      {npyBytes("{'descr': '<f4', 'shape': (2,), }", std::string(8, '\0')),
       "malformed npy header"},
      {npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }",
                ""),
       "malformed npy header"},
      {npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, }", ""),
       "malformed npy header"},
      {npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': "
                "(99999999999999999999,), }",
                ""),
       "malformed npy header"},
      {npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': "
                "(4294967296, 4294967296, 4294967296), }",
                ""),
       "too large"},
      {std::string("\x93NUMPY\x01\x00\xff\x00{}", 12), "truncated npy header"},
      {std::string("\x93NUMPY\x09\x00\x00\x00", 10), "unsupported npy format"},
  };
  for (const Case &c : cases) {
    std::string path = writeRaw("bad.npy", c.bytes);
    std::string msg = errorOf([&] { readNpyF32(path, nullptr); });
    EXPECT_HAS_SUBSTR(msg, path);
    EXPECT_HAS_SUBSTR(msg, c.expected);
  }
}

TEST_F(NpyTest, WriteErrors) {
  float value = 1.0f;
  std::string path = dir + "/no/such/dir/x.npy";
  std::string msg = errorOf([&] { writeNpyF32(path, &value, {1}); });
  EXPECT_HAS_SUBSTR(msg, path);
  EXPECT_HAS_SUBSTR(msg, "No such file or directory");
  EXPECT_HAS_SUBSTR(errorOf([&] { writeNpyF32(dir + "/x.npy", &value, {-1}); }),
                    "invalid shape [-1]");
}

} // namespace
