//===- CudaDriver.cpp - the CUDA driver API, loaded at run time -----------===//
#include "kiln/runtime/CudaDriver.h"

#include "kiln/runtime/Error.h"

#include <cstdlib>
#include <dlfcn.h>

using namespace kiln::rt;

namespace {
/// Names of the codes a user is likely to meet, for drivers (or the
/// toolkit's stub library) that cannot name them themselves.
const char *knownErrorName(cu::Result r) {
  switch (r) {
  case 1:
    return "CUDA_ERROR_INVALID_VALUE";
  case 2:
    return "CUDA_ERROR_OUT_OF_MEMORY";
  case 3:
    return "CUDA_ERROR_NOT_INITIALIZED";
  case 34:
    return "CUDA_ERROR_STUB_LIBRARY";
  case 100:
    return "CUDA_ERROR_NO_DEVICE";
  case 209:
    return "CUDA_ERROR_NO_BINARY_FOR_GPU";
  case 218:
    return "CUDA_ERROR_INVALID_PTX";
  case 222:
    return "CUDA_ERROR_UNSUPPORTED_PTX_VERSION";
  case 500:
    return "CUDA_ERROR_NOT_FOUND";
  case 700:
    return "CUDA_ERROR_ILLEGAL_ADDRESS";
  case 701:
    return "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
  case 719:
    return "CUDA_ERROR_LAUNCH_FAILED";
  default:
    return nullptr;
  }
}
} // namespace

std::unique_ptr<CudaDriver> CudaDriver::load(const std::string &library) {
  std::unique_ptr<CudaDriver> d(new CudaDriver());
  d->path = library;
  if (d->path.empty()) {
    const char *env = std::getenv("KILN_LIBCUDA");
    d->path = env && *env ? env : "libcuda.so.1";
  }
  // Never unloaded: the driver keeps threads and state after cuInit.
  d->handle = dlopen(d->path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!d->handle) {
    const char *why = dlerror();
    throw Error("no CUDA driver: cannot load " + d->path + " (" +
                (why ? why : "unknown reason") +
                "); the CUDA target needs an NVIDIA GPU and its driver");
  }
  auto resolve = [&](auto &fn, const char *name) {
    void *sym = dlsym(d->handle, name);
    if (!sym)
      throw Error("no CUDA driver: " + d->path + " has no " + name +
                  " (not a CUDA driver, or one older than CUDA 12)");
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(sym);
  };
  resolve(d->cuInit, "cuInit");
  resolve(d->cuDriverGetVersion, "cuDriverGetVersion");
  resolve(d->cuDeviceGetCount, "cuDeviceGetCount");
  resolve(d->cuDeviceGet, "cuDeviceGet");
  resolve(d->cuDeviceGetName, "cuDeviceGetName");
  resolve(d->cuDeviceGetAttribute, "cuDeviceGetAttribute");
  resolve(d->cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  resolve(d->cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
  resolve(d->cuCtxSetCurrent, "cuCtxSetCurrent");
  resolve(d->cuModuleLoadData, "cuModuleLoadData");
  resolve(d->cuModuleLoadDataEx, "cuModuleLoadDataEx");
  resolve(d->cuModuleUnload, "cuModuleUnload");
  resolve(d->cuModuleGetFunction, "cuModuleGetFunction");
  resolve(d->cuLaunchKernel, "cuLaunchKernel");
  resolve(d->cuMemAlloc, "cuMemAlloc_v2");
  resolve(d->cuMemFree, "cuMemFree_v2");
  resolve(d->cuMemcpyHtoD, "cuMemcpyHtoD_v2");
  resolve(d->cuMemcpyDtoH, "cuMemcpyDtoH_v2");
  resolve(d->cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
  resolve(d->cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
  resolve(d->cuMemsetD8, "cuMemsetD8_v2");
  resolve(d->cuStreamCreate, "cuStreamCreate");
  resolve(d->cuStreamSynchronize, "cuStreamSynchronize");
  resolve(d->cuStreamDestroy, "cuStreamDestroy_v2");
  resolve(d->cuGraphCreate, "cuGraphCreate");
  resolve(d->cuGraphAddKernelNode, "cuGraphAddKernelNode_v2");
  resolve(d->cuGraphExecKernelNodeSetParams,
          "cuGraphExecKernelNodeSetParams_v2");
  resolve(d->cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags");
  resolve(d->cuGraphLaunch, "cuGraphLaunch");
  resolve(d->cuGraphExecDestroy, "cuGraphExecDestroy");
  resolve(d->cuGraphDestroy, "cuGraphDestroy");
  resolve(d->cuEventCreate, "cuEventCreate");
  resolve(d->cuEventRecord, "cuEventRecord");
  resolve(d->cuEventElapsedTime, "cuEventElapsedTime");
  resolve(d->cuEventDestroy, "cuEventDestroy_v2");
  resolve(d->cuGetErrorName, "cuGetErrorName");
  resolve(d->cuGetErrorString, "cuGetErrorString");
  d->check(d->cuInit(0), "cuInit", d->path);
  d->check(d->cuDriverGetVersion(&d->driverVersion), "cuDriverGetVersion");
  return d;
}

CudaDriver::~CudaDriver() {
  if (handle)
    dlclose(handle);
}

std::string CudaDriver::errorName(cu::Result result) const {
  const char *name = nullptr;
  if (cuGetErrorName && cuGetErrorName(result, &name) == cu::kSuccess && name)
    return name;
  if (const char *known = knownErrorName(result))
    return known;
  return "CUDA error " + std::to_string(result);
}

void CudaDriver::check(cu::Result result, const char *call,
                       const std::string &what) const {
  if (result == cu::kSuccess)
    return;
  std::string message = std::string(call);
  if (!what.empty())
    message += " (" + what + ")";
  message += ": " + errorName(result);
  const char *description = nullptr;
  if (cuGetErrorString &&
      cuGetErrorString(result, &description) == cu::kSuccess && description)
    message += ": " + std::string(description);
  if (result == 34 || result == 100)
    message += " (no usable NVIDIA GPU and driver on this machine)";
  throw Error(message);
}
