//===- CudaDriver.h - the CUDA driver API, loaded at run time ---*- C++ -*-===//
//
// The runtime builds and runs its tests on machines without a GPU: it never
// links libcuda. CudaDriver::load() opens libcuda.so.1 with dlopen (or the
// library in $KILN_LIBCUDA), resolves the entry points the CUDA backend
// uses and initializes the driver; without a driver it throws an Error
// that says so. Every call goes through check(), whose Error names the
// call, what it was for (a kernel, a buffer) and the driver's error name.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CUDADRIVER_H
#define KILN_RUNTIME_CUDADRIVER_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace kiln::rt {

/// The driver's handle types, declared here so that no CUDA header is
/// needed to build the runtime (the same ABI as cuda.h).
namespace cu {
using Result = int;
using Device = int;
using DevicePtr = unsigned long long;
using Context = struct CUctx_st *;
using Module = struct CUmod_st *;
using Function = struct CUfunc_st *;
using Stream = struct CUstream_st *;
using Graph = struct CUgraph_st *;
using GraphExec = struct CUgraphExec_st *;
using GraphNode = struct CUgraphNode_st *;
using Event = struct CUevent_st *;
constexpr Result kSuccess = 0;
/// CUDA_KERNEL_NODE_PARAMS (v2), for graph kernel nodes.
struct KernelNodeParams {
  Function func = nullptr;
  unsigned gridDimX = 1, gridDimY = 1, gridDimZ = 1;
  unsigned blockDimX = 1, blockDimY = 1, blockDimZ = 1;
  unsigned sharedMemBytes = 0;
  void **kernelParams = nullptr;
  void **extra = nullptr;
  void *kern = nullptr;
  Context ctx = nullptr;
};
} // namespace cu

class CudaDriver {
public:
  /// Loads `library` (default: $KILN_LIBCUDA, else "libcuda.so.1") and
  /// calls cuInit. Throws Error "no CUDA driver: ..." when the library
  /// cannot be loaded or lacks an entry point, or the cuInit error.
  static std::unique_ptr<CudaDriver> load(const std::string &library = "");
  ~CudaDriver();
  CudaDriver(const CudaDriver &) = delete;
  CudaDriver &operator=(const CudaDriver &) = delete;

  /// Throws Error "`call` (`what`): CUDA_ERROR_X: description" unless
  /// `result` is success.
  void check(cu::Result result, const char *call,
             const std::string &what = "") const;
  /// The driver's name for `result` ("CUDA_ERROR_OUT_OF_MEMORY"), from the
  /// driver or, if it cannot say, from a table of the common codes.
  std::string errorName(cu::Result result) const;

  const std::string &libraryPath() const { return path; }
  int version() const { return driverVersion; }

  // Entry points (as in cuda.h; the _v2 symbols where the API has them).
  cu::Result (*cuInit)(unsigned) = nullptr;
  cu::Result (*cuDriverGetVersion)(int *) = nullptr;
  cu::Result (*cuDeviceGetCount)(int *) = nullptr;
  cu::Result (*cuDeviceGet)(cu::Device *, int) = nullptr;
  cu::Result (*cuDeviceGetName)(char *, int, cu::Device) = nullptr;
  cu::Result (*cuDeviceGetAttribute)(int *, int, cu::Device) = nullptr;
  cu::Result (*cuDevicePrimaryCtxRetain)(cu::Context *, cu::Device) = nullptr;
  cu::Result (*cuDevicePrimaryCtxRelease)(cu::Device) = nullptr;
  cu::Result (*cuCtxSetCurrent)(cu::Context) = nullptr;
  cu::Result (*cuModuleLoadData)(cu::Module *, const void *) = nullptr;
  /// With options (CUjit_option values): the PTX compiler's error log.
  cu::Result (*cuModuleLoadDataEx)(cu::Module *, const void *, unsigned,
                                   int *, void **) = nullptr;
  cu::Result (*cuModuleUnload)(cu::Module) = nullptr;
  cu::Result (*cuModuleGetFunction)(cu::Function *, cu::Module,
                                    const char *) = nullptr;
  cu::Result (*cuLaunchKernel)(cu::Function, unsigned, unsigned, unsigned,
                               unsigned, unsigned, unsigned, unsigned,
                               cu::Stream, void **, void **) = nullptr;
  cu::Result (*cuMemAlloc)(cu::DevicePtr *, size_t) = nullptr;
  cu::Result (*cuMemFree)(cu::DevicePtr) = nullptr;
  cu::Result (*cuMemcpyHtoD)(cu::DevicePtr, const void *, size_t) = nullptr;
  cu::Result (*cuMemcpyDtoH)(void *, cu::DevicePtr, size_t) = nullptr;
  cu::Result (*cuMemcpyHtoDAsync)(cu::DevicePtr, const void *, size_t,
                                  cu::Stream) = nullptr;
  cu::Result (*cuMemcpyDtoHAsync)(void *, cu::DevicePtr, size_t,
                                  cu::Stream) = nullptr;
  cu::Result (*cuMemsetD8)(cu::DevicePtr, unsigned char, size_t) = nullptr;
  cu::Result (*cuStreamCreate)(cu::Stream *, unsigned) = nullptr;
  cu::Result (*cuStreamSynchronize)(cu::Stream) = nullptr;
  cu::Result (*cuStreamDestroy)(cu::Stream) = nullptr;
  cu::Result (*cuGraphCreate)(cu::Graph *, unsigned) = nullptr;
  cu::Result (*cuGraphAddKernelNode)(cu::GraphNode *, cu::Graph,
                                     const cu::GraphNode *, size_t,
                                     const cu::KernelNodeParams *) = nullptr;
  cu::Result (*cuGraphExecKernelNodeSetParams)(
      cu::GraphExec, cu::GraphNode, const cu::KernelNodeParams *) = nullptr;
  cu::Result (*cuGraphInstantiateWithFlags)(cu::GraphExec *, cu::Graph,
                                            unsigned long long) = nullptr;
  cu::Result (*cuGraphLaunch)(cu::GraphExec, cu::Stream) = nullptr;
  cu::Result (*cuGraphExecDestroy)(cu::GraphExec) = nullptr;
  cu::Result (*cuGraphDestroy)(cu::Graph) = nullptr;
  // Events (kiln-run --profile-kernels).
  cu::Result (*cuEventCreate)(cu::Event *, unsigned) = nullptr;
  cu::Result (*cuEventRecord)(cu::Event, cu::Stream) = nullptr;
  cu::Result (*cuEventElapsedTime)(float *, cu::Event, cu::Event) = nullptr;
  cu::Result (*cuEventDestroy)(cu::Event) = nullptr;
  cu::Result (*cuGetErrorName)(cu::Result, const char **) = nullptr;
  cu::Result (*cuGetErrorString)(cu::Result, const char **) = nullptr;

private:
  CudaDriver() = default;
  void *handle = nullptr;
  std::string path;
  int driverVersion = 0;
};

} // namespace kiln::rt

#endif // KILN_RUNTIME_CUDADRIVER_H
