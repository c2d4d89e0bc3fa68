//===- TestUtil.h - helpers shared by the runtime's unit tests --*- C++ -*-===//
#ifndef KILN_RUNTIME_UNITTESTS_TESTUTIL_H
#define KILN_RUNTIME_UNITTESTS_TESTUTIL_H

#include "kiln/runtime/Error.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace kiln::rt::test {

/// The message of the kiln::rt::Error that `fn` throws (a test failure if
/// it throws nothing or something else).
inline std::string errorOf(const std::function<void()> &fn) {
  try {
    fn();
  } catch (const Error &e) {
    return e.what();
  }
  ADD_FAILURE() << "expected kiln::rt::Error";
  return "";
}

#define EXPECT_HAS_SUBSTR(text, substr)                                        \
  do {                                                                         \
    std::string textValue = (text);                                            \
    EXPECT_NE(textValue.find(substr), std::string::npos)                       \
        << "message: " << textValue << "\nexpected to contain: " << (substr);  \
  } while (0)

/// A fresh directory under /tmp, removed with everything in it.
class TempDir {
public:
  explicit TempDir(const std::string &prefix = "kiln-test") {
    std::string pattern = "/tmp/" + prefix + "-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()))
      dir = buf.data();
    else
      ADD_FAILURE() << "mkdtemp failed";
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  const std::string &path() const { return dir; }
  std::string file(const std::string &name) const { return dir + "/" + name; }
  std::string write(const std::string &name,
                    const std::vector<uint8_t> &bytes) const {
    std::string p = file(name);
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
    return p;
  }

private:
  std::string dir;
};

inline std::vector<uint8_t> readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

/// Bounds of the fuzz tests: KILN_FUZZ_ITERATIONS (default 20000) inputs,
/// at most KILN_FUZZ_SECONDS (default 3) seconds.
inline uint64_t envOr(const char *name, uint64_t fallback) {
  const char *v = std::getenv(name);
  if (!v || !*v)
    return fallback;
  char *end = nullptr;
  unsigned long long n = std::strtoull(v, &end, 10);
  return *end == '\0' ? n : fallback;
}
inline uint64_t fuzzIterations() {
  return envOr("KILN_FUZZ_ITERATIONS", 20000);
}
inline double fuzzSeconds() { return envOr("KILN_FUZZ_SECONDS", 3); }

} // namespace kiln::rt::test

#endif // KILN_RUNTIME_UNITTESTS_TESTUTIL_H
