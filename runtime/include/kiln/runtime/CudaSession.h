//===- CudaSession.h - generate on an NVIDIA GPU ----------------*- C++ -*-===//
//
// The CUDA backend: runs an artifact compiled with --target cuda. It loads
// the driver (CudaDriver), the kernel modules (the cubin when it matches the
// GPU, else the PTX, which the driver compiles), uploads the weights, keeps
// the KV cache and the workspace on the device, and runs each entry by its
// launch plan (LaunchPlan): sizes evaluated for the call, one
// cuLaunchKernel per launch on one stream, the model's argmax (4 bytes)
// copied back, the logits only when asked for (logits()). The
// decode step's workspace is allocated once, for the largest context; the
// decode loop allocates nothing.
//
// CUDA graphs (on by default): the first decode step builds a graph of its
// launches (one kernel node each, in order) and every step replays it with
// one cuGraphLaunch, after updating the nodes whose grid or parameters
// changed since the previous step (those that depend on kv_len: the
// attention kernels). If the graph cannot be built, the session says why
// (describe()) and launches the kernels one by one.
//
// Tested without a GPU against a fake driver (runtime/unittests/fake-cuda,
// test/tools/kiln-run-fake-cuda.test); its validation on a GPU is the
// device script (scripts/device/validate.sh).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CUDASESSION_H
#define KILN_RUNTIME_CUDASESSION_H

#include "kiln/runtime/CudaDriver.h"
#include "kiln/runtime/LaunchPlan.h"
#include "kiln/runtime/Session.h"

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kiln::rt {

class CudaSession final : public ModelSession {
public:
  /// Tokens per prefill launch sequence: longer prompts are prefilled in
  /// chunks of this many.
  static constexpr int64_t kPrefillChunk = 1024;

  /// Throws Error when there is no driver or GPU, the GPU is older than the
  /// artifact's architecture, or any driver call fails (naming it).
  CudaSession(const LoadedModel &model, int64_t maxContext,
              const LoadedModel::Progress &progress = nullptr,
              bool cudaGraph = true, bool profileKernels = false);
  ~CudaSession() override;

  void prefillStep(const std::vector<int32_t> &ids) override;
  void decodeStep(int32_t id) override;
  /// Copies the last step's logits from the device (once per step).
  const float *logits() override;
  /// The model's `output:argmax`, copied with the step (4 bytes).
  int32_t greedyToken() override;
  bool argmaxOnTarget() const override { return hasArgmax_; }
  void reset() override {
    position_ = 0;
    lastLogits_ = 0;
  }
  void rewind(int64_t position) override;
  int64_t position() const override { return position_; }
  int64_t maxContext() const override { return maxContext_; }
  size_t kvCacheBytes() const override { return kvBytes_; }
  size_t workspaceBytes() const override;
  uint64_t decodeAllocations() const override { return decodeAllocations_; }
  std::string describe() const override;
  /// With profileKernels: per entry, per kernel module, the launches and
  /// the time between cuEvents recorded around each launch (graphs off).
  std::string profileReport() const override;

private:
  struct DeviceBuffer {
    cu::DevicePtr ptr = 0;
    size_t bytes = 0;
  };
  struct Entry {
    std::unique_ptr<LaunchPlan> plan;
    std::vector<cu::Function> functions; // one per launch
    std::vector<DeviceBuffer> slots;     // workspace, by plan slot
    std::vector<DeviceBuffer> constants; // constant tables, by plan buffer
  };
  DeviceBuffer allocate(size_t bytes, const std::string &what);
  void release(DeviceBuffer &buffer);
  void open(const LoadedModel::Progress &progress);
  void releaseAll();
  void prepare(const std::string &name, Entry &e);
  std::vector<int64_t> symbolValues(const Entry &e, int64_t tokens) const;
  /// Grows `e`'s workspace buffers to the sizes of `symbols`.
  bool ensureWorkspace(Entry &e, const std::vector<int64_t> &symbols);
  void run(Entry &e, const int32_t *ids, int64_t tokens);
  /// Replays the decode step's graph (building it on the first call);
  /// false if it cannot be built, after which the caller launches.
  bool launchDecodeGraph(std::vector<LaunchPlan::Launch> &launches);
  void destroyDecodeGraph();

  const LoadedModel &model_;
  int64_t maxContext_;
  int64_t vocab_;
  int64_t position_ = 0;
  std::unique_ptr<CudaDriver> driver_;
  cu::Device device_ = 0;
  cu::Context context_ = nullptr;
  cu::Stream stream_ = nullptr;
  std::string deviceName_;
  std::map<std::string, cu::Module> modules_;
  std::map<std::string, DeviceBuffer> bound_; // weights, caches, inputs
  size_t kvBytes_ = 0;
  std::vector<int32_t> hostIds_, hostPositions_;
  std::vector<float> logits_;
  cu::DevicePtr lastLogits_ = 0; // the last step's logits row on the device
  bool logitsFetched_ = false;
  int32_t argmax_ = 0;
  bool hasArgmax_ = false;
  Entry prefill_, decode_;
  uint64_t decodeAllocations_ = 0;
  struct DecodeGraph {
    cu::Graph graph = nullptr;
    cu::GraphExec exec = nullptr;
    std::vector<cu::GraphNode> nodes;
    std::vector<std::array<uint32_t, 3>> grids; // as last set, per node
    std::vector<std::vector<uint64_t>> params;
  } graph_;
  bool useGraph_;
  bool profile_ = false;
  struct KernelTime {
    double ms = 0;
    int64_t launches = 0;
  };
  /// entry -> kernel module -> accumulated time.
  std::map<std::string, std::map<std::string, KernelTime>> kernelTimes_;
  std::vector<cu::Event> events_;
  std::string graphStatus_;
  uint64_t graphReplays_ = 0, graphNodeUpdates_ = 0;
};

} // namespace kiln::rt

#endif // KILN_RUNTIME_CUDASESSION_H
