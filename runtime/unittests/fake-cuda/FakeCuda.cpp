//===- FakeCuda.cpp - a CUDA driver without a GPU, for the runtime's tests ===//
//
// libkiln-fake-cuda.so exports the driver entry points CudaDriver resolves,
// so that CudaSession runs end to end on machines without a GPU
// (KILN_LIBCUDA=.../libkiln-fake-cuda.so): "device memory" is host memory,
// modules are kept as images, and kernels do not run (their outputs stay
// zero). What it checks is the session's side of the contract: every copy
// and memset lies inside a live allocation, every launched function exists
// in a loaded module (its `.entry` in the PTX, its name in the cubin), grid
// and block sizes are within the hardware's limits, every kernel parameter
// pointer can be read for the parameters the PTX declares, graph nodes are
// updated only with their own function, and everything allocated is freed.
// A violation fails the call with CUDA_ERROR_INVALID_VALUE and is logged.
//
// $KILN_FAKE_CUDA_LOG names a file that gets one line per event (load,
// launch, graph build/update/launch, leaks), for lit tests to count.
// $KILN_FAKE_CUDA_SM sets the compute capability (default 86, so that an
// sm_80 artifact loads its PTX and the parameter checks apply);
// $KILN_FAKE_CUDA_FAIL_LOAD makes module loads fail as rejected PTX does,
// with a compiler log.
//
//===----------------------------------------------------------------------===//
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {
using Result = int;
constexpr Result kSuccess = 0;
constexpr Result kInvalidValue = 1;
constexpr Result kNotFound = 500;
constexpr Result kInvalidPtx = 218;

struct Function {
  std::string name;
  std::vector<int> paramBytes; // from the PTX; empty for a cubin
};
struct Module {
  std::string image;
  bool ptx = false;
  std::map<std::string, std::unique_ptr<Function>> functions;
};
struct KernelNodeParams { // CUDA_KERNEL_NODE_PARAMS_v2
  Function *func;
  unsigned gridDimX, gridDimY, gridDimZ;
  unsigned blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  void **kernelParams;
  void **extra;
  void *kern;
  void *ctx;
};
struct Node {
  Function *func;
  unsigned grid[3];
};
struct Graph {
  std::vector<std::unique_ptr<Node>> nodes;
};
struct GraphExec {
  std::vector<Node> nodes; // copies, updated by SetParams
  std::map<const Node *, size_t> index;
};

std::mutex mutex;
std::map<uintptr_t, size_t> allocations; // base -> bytes
uint64_t launches = 0;
// Device-to-host traffic: greedy decoding should copy back only the argmax.
uint64_t hostCopies = 0, hostCopyBytes = 0;

void log(const std::string &line) {
  const char *path = std::getenv("KILN_FAKE_CUDA_LOG");
  if (!path)
    return;
  if (FILE *f = std::fopen(path, "a")) {
    std::fprintf(f, "%s\n", line.c_str());
    std::fclose(f);
  }
}

Result fail(const std::string &why) {
  log("ERROR " + why);
  return kInvalidValue;
}

/// Whether [ptr, ptr + bytes) lies inside one live allocation.
bool inside(uintptr_t ptr, size_t bytes) {
  auto it = allocations.upper_bound(ptr);
  if (it == allocations.begin())
    return false;
  --it;
  return ptr >= it->first && ptr + bytes <= it->first + it->second;
}

/// The parameter sizes of `.entry name(...)` in PTX text.
std::vector<int> ptxParams(const std::string &ptx, const std::string &name,
                           bool &found) {
  std::vector<int> sizes;
  std::string key = ".entry " + name + "(";
  size_t at = ptx.find(key);
  found = at != std::string::npos;
  if (!found)
    return sizes;
  size_t end = ptx.find(')', at);
  std::string decl = ptx.substr(at, end - at);
  for (size_t p = decl.find(".param"); p != std::string::npos;
       p = decl.find(".param", p + 1)) {
    std::string type = decl.substr(p + 7, 4);
    sizes.push_back(type.find("64") != std::string::npos   ? 8
                    : type.find("32") != std::string::npos ? 4
                    : type.find("16") != std::string::npos ? 2
                                                           : 1);
  }
  return sizes;
}

Result checkLaunch(Function *f, const unsigned grid[3], const unsigned block[3],
                   void **params) {
  if (!f)
    return fail("launch of a null function");
  for (int i = 0; i < 3; ++i)
    if (grid[i] == 0 || block[i] == 0)
      return fail("launch of " + f->name + " with a zero grid or block size");
  if (grid[1] > 65535 || grid[2] > 65535 || grid[0] > 0x7fffffffu)
    return fail("launch of " + f->name + ": grid too large");
  if (uint64_t(block[0]) * block[1] * block[2] > 1024)
    return fail("launch of " + f->name + ": more than 1024 threads per block");
  volatile unsigned char sink = 0;
  for (size_t i = 0; i < f->paramBytes.size(); ++i) {
    if (!params || !params[i])
      return fail("launch of " + f->name + ": parameter " +
                  std::to_string(i) + " missing");
    for (int b = 0; b < f->paramBytes[i]; ++b)
      sink ^= static_cast<unsigned char *>(params[i])[b];
  }
  (void)sink;
  return kSuccess;
}

std::string dims(const unsigned d[3]) {
  return std::to_string(d[0]) + " " + std::to_string(d[1]) + " " +
         std::to_string(d[2]);
}
} // namespace

extern "C" {
Result cuInit(unsigned) { return kSuccess; }
Result cuDriverGetVersion(int *v) {
  *v = 13000;
  return kSuccess;
}
Result cuDeviceGetCount(int *n) {
  *n = 1;
  return kSuccess;
}
Result cuDeviceGet(int *d, int ordinal) {
  *d = ordinal;
  return ordinal == 0 ? kSuccess : kInvalidValue;
}
Result cuDeviceGetName(char *name, int len, int) {
  std::snprintf(name, len, "Kiln fake GPU");
  return kSuccess;
}
Result cuDeviceGetAttribute(int *value, int attr, int) {
  const char *sm = std::getenv("KILN_FAKE_CUDA_SM");
  int cc = sm ? std::atoi(sm) : 86;
  *value = attr == 75 ? cc / 10 : attr == 76 ? cc % 10 : 0;
  return kSuccess;
}
Result cuDevicePrimaryCtxRetain(void **ctx, int) {
  static int context;
  *ctx = &context;
  return kSuccess;
}
Result cuDevicePrimaryCtxRelease_v2(int) {
  std::lock_guard<std::mutex> lock(mutex);
  log("context released, " + std::to_string(allocations.size()) +
      " allocations live, " + std::to_string(launches) + " kernels run, " +
      std::to_string(hostCopies) + " copies to the host, " +
      std::to_string(hostCopyBytes) + " bytes");
  return kSuccess;
}
Result cuCtxSetCurrent(void *) { return kSuccess; }

Result cuModuleLoadData(Module **mod, const void *image) {
  auto m = std::make_unique<Module>();
  const char *text = static_cast<const char *>(image);
  if (std::memcmp(text, "\x7f" "ELF", 4) == 0) {
    // A cubin (ELF64): its size is not passed; the section header table
    // ends it.
    uint64_t shoff;
    uint16_t shentsize, shnum;
    std::memcpy(&shoff, text + 0x28, 8);
    std::memcpy(&shentsize, text + 0x3a, 2);
    std::memcpy(&shnum, text + 0x3c, 2);
    m->image.assign(text, shoff + uint64_t(shentsize) * shnum);
  } else {
    m->image = text;
    m->ptx = true;
    if (m->image.find(".entry") == std::string::npos)
      return fail("cuModuleLoadData: neither a cubin nor PTX with entries");
  }
  log(std::string("load ") + (m->ptx ? "ptx" : "cubin"));
  *mod = m.release();
  return kSuccess;
}
Result cuModuleLoadDataEx(Module **mod, const void *image, unsigned n,
                          int *options, void **values) {
  // $KILN_FAKE_CUDA_FAIL_LOAD: PTX that the driver's compiler rejects.
  Result r = std::getenv("KILN_FAKE_CUDA_FAIL_LOAD")
                 ? kInvalidPtx
                 : cuModuleLoadData(mod, image);
  // Like the driver's PTX compiler: a failure is explained in the error
  // log (option 5, its size option 6).
  if (r != kSuccess)
    for (unsigned i = 0; i < n; ++i)
      if (options[i] == 5)
        for (unsigned j = 0; j < n; ++j)
          if (options[j] == 6)
            std::snprintf(static_cast<char *>(values[i]),
                          reinterpret_cast<uintptr_t>(values[j]),
                          "ptxas application ptx input, line 1; fatal   : "
                          "(fake) Unsupported .version");
  return r;
}
Result cuModuleUnload(Module *mod) {
  delete mod;
  return kSuccess;
}
Result cuModuleGetFunction(Function **fn, Module *mod, const char *name) {
  bool found = false;
  std::vector<int> params;
  if (mod->ptx)
    params = ptxParams(mod->image, name, found);
  else
    found = mod->image.find(name) != std::string::npos;
  if (!found) {
    log(std::string("ERROR no function ") + name);
    return kNotFound;
  }
  auto &f = mod->functions[name];
  if (!f)
    f.reset(new Function{name, params});
  *fn = f.get();
  return kSuccess;
}
Result cuLaunchKernel(Function *f, unsigned gx, unsigned gy, unsigned gz,
                      unsigned bx, unsigned by, unsigned bz, unsigned, void *,
                      void **params, void **) {
  std::lock_guard<std::mutex> lock(mutex);
  unsigned grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};
  if (Result r = checkLaunch(f, grid, block, params))
    return r;
  ++launches;
  log("launch " + f->name + " grid " + dims(grid) + " block " + dims(block));
  return kSuccess;
}

Result cuMemAlloc_v2(uintptr_t *ptr, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex);
  void *p = std::calloc(bytes, 1);
  if (!p)
    return 2; // CUDA_ERROR_OUT_OF_MEMORY
  *ptr = reinterpret_cast<uintptr_t>(p);
  allocations[*ptr] = bytes;
  return kSuccess;
}
Result cuMemFree_v2(uintptr_t ptr) {
  std::lock_guard<std::mutex> lock(mutex);
  if (!allocations.erase(ptr))
    return fail("cuMemFree of an unknown pointer");
  std::free(reinterpret_cast<void *>(ptr));
  return kSuccess;
}
Result cuMemcpyHtoD_v2(uintptr_t dst, const void *src, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex);
  if (!inside(dst, bytes))
    return fail("cuMemcpyHtoD outside an allocation (" +
                std::to_string(bytes) + " bytes)");
  std::memcpy(reinterpret_cast<void *>(dst), src, bytes);
  return kSuccess;
}
Result cuMemcpyDtoH_v2(void *dst, uintptr_t src, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex);
  if (!inside(src, bytes))
    return fail("cuMemcpyDtoH outside an allocation (" +
                std::to_string(bytes) + " bytes)");
  std::memcpy(dst, reinterpret_cast<void *>(src), bytes);
  ++hostCopies;
  hostCopyBytes += bytes;
  return kSuccess;
}
Result cuMemcpyHtoDAsync_v2(uintptr_t dst, const void *src, size_t bytes,
                            void *) {
  return cuMemcpyHtoD_v2(dst, src, bytes);
}
Result cuMemcpyDtoHAsync_v2(void *dst, uintptr_t src, size_t bytes, void *) {
  return cuMemcpyDtoH_v2(dst, src, bytes);
}
Result cuMemsetD8_v2(uintptr_t dst, unsigned char value, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex);
  if (!inside(dst, bytes))
    return fail("cuMemsetD8 outside an allocation");
  std::memset(reinterpret_cast<void *>(dst), value, bytes);
  return kSuccess;
}

// Events: a fake clock that advances 1 us per launch, so that a kernel's
// time between the events around it is 0.001 ms.
struct Event {
  uint64_t launches = 0;
};
Result cuEventCreate(Event **event, unsigned) {
  *event = new Event;
  return kSuccess;
}
Result cuEventRecord(Event *event, void *) {
  std::lock_guard<std::mutex> lock(mutex);
  if (!event)
    return fail("cuEventRecord of a null event");
  event->launches = launches;
  return kSuccess;
}
Result cuEventElapsedTime(float *ms, Event *start, Event *end) {
  if (!start || !end || end->launches < start->launches)
    return fail("cuEventElapsedTime with events out of order");
  *ms = static_cast<float>(end->launches - start->launches) * 0.001f;
  return kSuccess;
}
Result cuEventDestroy_v2(Event *event) {
  delete event;
  return kSuccess;
}

Result cuStreamCreate(void **stream, unsigned) {
  static int s;
  *stream = &s;
  return kSuccess;
}
Result cuStreamSynchronize(void *) { return kSuccess; }
Result cuStreamDestroy_v2(void *) { return kSuccess; }

Result cuGraphCreate(Graph **graph, unsigned) {
  *graph = new Graph;
  log("graph create");
  return kSuccess;
}
Result cuGraphAddKernelNode_v2(Node **node, Graph *graph, Node *const *deps,
                               size_t numDeps,
                               const KernelNodeParams *params) {
  std::lock_guard<std::mutex> lock(mutex);
  unsigned grid[3] = {params->gridDimX, params->gridDimY, params->gridDimZ};
  unsigned block[3] = {params->blockDimX, params->blockDimY,
                       params->blockDimZ};
  if (Result r = checkLaunch(params->func, grid, block, params->kernelParams))
    return r;
  if (numDeps > 1 || (numDeps == 1 && !deps[0]))
    return fail("graph node with unexpected dependencies");
  auto n = std::make_unique<Node>(
      Node{params->func, {grid[0], grid[1], grid[2]}});
  *node = n.get();
  graph->nodes.push_back(std::move(n));
  return kSuccess;
}
Result cuGraphInstantiateWithFlags(GraphExec **exec, Graph *graph,
                                   unsigned long long) {
  auto e = std::make_unique<GraphExec>();
  for (auto &n : graph->nodes) {
    e->index[n.get()] = e->nodes.size();
    e->nodes.push_back(*n);
  }
  log("graph instantiate " + std::to_string(e->nodes.size()) + " nodes");
  *exec = e.release();
  return kSuccess;
}
Result cuGraphExecKernelNodeSetParams_v2(GraphExec *exec, const Node *node,
                                         const KernelNodeParams *params) {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = exec->index.find(node);
  if (it == exec->index.end())
    return fail("cuGraphExecKernelNodeSetParams of an unknown node");
  Node &n = exec->nodes[it->second];
  if (params->func != n.func)
    return fail("cuGraphExecKernelNodeSetParams changes the function");
  unsigned grid[3] = {params->gridDimX, params->gridDimY, params->gridDimZ};
  unsigned block[3] = {params->blockDimX, params->blockDimY,
                       params->blockDimZ};
  if (Result r = checkLaunch(params->func, grid, block, params->kernelParams))
    return r;
  std::memcpy(n.grid, grid, sizeof(grid));
  log("graph update " + n.func->name + " grid " + dims(grid));
  return kSuccess;
}
Result cuGraphLaunch(GraphExec *exec, void *) {
  std::lock_guard<std::mutex> lock(mutex);
  launches += exec->nodes.size();
  log("graph launch " + std::to_string(exec->nodes.size()) + " nodes");
  return kSuccess;
}
Result cuGraphExecDestroy(GraphExec *exec) {
  delete exec;
  return kSuccess;
}
Result cuGraphDestroy(Graph *graph) {
  delete graph;
  return kSuccess;
}

Result cuGetErrorName(Result r, const char **name) {
  *name = r == kSuccess        ? "CUDA_SUCCESS"
          : r == kInvalidValue ? "CUDA_ERROR_INVALID_VALUE"
          : r == kNotFound     ? "CUDA_ERROR_NOT_FOUND"
          : r == kInvalidPtx   ? "CUDA_ERROR_INVALID_PTX"
                               : "CUDA_ERROR_UNKNOWN";
  return kSuccess;
}
Result cuGetErrorString(Result r, const char **text) {
  *text = r == kInvalidValue ? "invalid argument (see KILN_FAKE_CUDA_LOG)"
                             : "fake driver error";
  return kSuccess;
}
} // extern "C"
