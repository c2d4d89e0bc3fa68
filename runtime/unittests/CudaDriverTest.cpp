//===- CudaDriverTest.cpp - loading the CUDA driver -----------------------===//
//
// On machines without a GPU (CI), loading the driver must fail with a clear
// message, never crash; with the toolkit's stub library (which has every
// entry point but no driver behind it), cuInit's error must name the call
// and the error. On a GPU machine the same tests check that the driver
// loads and sees a device.
//
//===----------------------------------------------------------------------===//
#include "TestUtil.h"

#include "kiln/runtime/CudaDriver.h"

#include <gtest/gtest.h>

#include <fstream>

using namespace kiln::rt;
using kiln::rt::test::errorOf;

namespace {

TEST(CudaDriver, MissingLibraryIsAClearError) {
  std::string msg =
      errorOf([] { CudaDriver::load("/nonexistent/libcuda.so.1"); });
  EXPECT_HAS_SUBSTR(msg, "no CUDA driver: cannot load "
                         "/nonexistent/libcuda.so.1");
  EXPECT_HAS_SUBSTR(msg, "needs an NVIDIA GPU and its driver");
}

TEST(CudaDriver, NotADriverIsAClearError) {
  // A shared library that is not libcuda: the first entry point is missing.
  std::string msg = errorOf([] { CudaDriver::load("libm.so.6"); });
  EXPECT_HAS_SUBSTR(msg, "no CUDA driver: libm.so.6 has no cuInit");
}

TEST(CudaDriver, StubLibraryReportsTheFailingCall) {
  const char *stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
  if (!std::ifstream(stub))
    GTEST_SKIP() << "no CUDA toolkit stub at " << stub;
  std::string msg = errorOf([&] { CudaDriver::load(stub); });
  EXPECT_HAS_SUBSTR(msg, std::string("cuInit (") + stub + "): ");
  EXPECT_HAS_SUBSTR(msg, "CUDA_ERROR_STUB_LIBRARY");
  EXPECT_HAS_SUBSTR(msg, "no usable NVIDIA GPU and driver");
}

TEST(CudaDriver, SystemDriverLoadsOrSaysWhyNot) {
  std::unique_ptr<CudaDriver> driver;
  std::string msg = errorOf([&] { driver = CudaDriver::load(); });
  if (!driver) {
    // No GPU here: the message says so (no driver library, or no device).
    EXPECT_TRUE(msg.find("no CUDA driver") != std::string::npos ||
                msg.find("no usable NVIDIA GPU") != std::string::npos)
        << msg;
    return;
  }
  int count = 0;
  driver->check(driver->cuDeviceGetCount(&count), "cuDeviceGetCount");
  EXPECT_GE(count, 1);
  EXPECT_GE(driver->version(), 12000);
  EXPECT_EQ(driver->errorName(2), "CUDA_ERROR_OUT_OF_MEMORY");
}

} // namespace
