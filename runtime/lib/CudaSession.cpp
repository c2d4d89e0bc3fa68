//===- CudaSession.cpp - generate on an NVIDIA GPU ------------------------===//
#include "kiln/runtime/CudaSession.h"

#include "kiln/runtime/Error.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

using namespace kiln::rt;

namespace {
constexpr int kAttrComputeCapabilityMajor = 75;
constexpr int kAttrComputeCapabilityMinor = 76;

size_t numElements(const std::vector<int64_t> &shape) {
  size_t n = 1;
  for (int64_t d : shape)
    n *= static_cast<size_t>(d);
  return n;
}

/// "sm_90" / "sm_90a" -> 90; 0 if malformed.
int archNumber(const std::string &arch) {
  if (arch.rfind("sm_", 0) != 0)
    return 0;
  int n = 0;
  for (size_t i = 3; i < arch.size() && std::isdigit(arch[i]); ++i)
    n = n * 10 + (arch[i] - '0');
  return n;
}
} // namespace

CudaSession::CudaSession(const LoadedModel &model, int64_t maxContext,
                         const LoadedModel::Progress &progress, bool cudaGraph,
                         bool profileKernels)
    : model_(model), maxContext_(maxContext),
      vocab_(model.manifest().model.vocabSize),
      useGraph_(cudaGraph && !profileKernels), profile_(profileKernels),
      graphStatus_(profileKernels ? "off (--profile-kernels)"
                   : cudaGraph    ? "on"
                                  : "off (--no-cuda-graph)") {
  const Manifest &m = model.manifest();
  const std::string &name = model.artifact().name();
  if (m.target.kind != "cuda")
    throw Error(name + ": compiled for target '" + m.target.kind +
                "', not cuda");
  if (maxContext < 1 || maxContext > m.model.maxPositionEmbeddings)
    throw Error("--max-context " + std::to_string(maxContext) +
                " is outside [1, max_position_embeddings " +
                std::to_string(m.model.maxPositionEmbeddings) + "]");

  driver_ = CudaDriver::load();
  // A constructor that throws runs no destructor: give back what was taken.
  try {
    open(progress);
  } catch (...) {
    releaseAll();
    throw;
  }
}

void CudaSession::open(const LoadedModel::Progress &progress) {
  auto say = [&](const std::string &msg) {
    if (progress)
      progress(msg);
  };
  const LoadedModel &model = model_;
  const Manifest &m = model.manifest();
  const std::string &name = model.artifact().name();
  int64_t maxContext = maxContext_;
  const CudaDriver &d = *driver_;
  int count = 0;
  d.check(d.cuDeviceGetCount(&count), "cuDeviceGetCount");
  if (count < 1)
    throw Error("no CUDA device (the driver sees none)");
  d.check(d.cuDeviceGet(&device_, 0), "cuDeviceGet", "device 0");
  char deviceName[256] = {};
  d.check(d.cuDeviceGetName(deviceName, sizeof(deviceName), device_),
          "cuDeviceGetName");
  deviceName_ = deviceName;
  int major = 0, minor = 0;
  d.check(d.cuDeviceGetAttribute(&major, kAttrComputeCapabilityMajor, device_),
          "cuDeviceGetAttribute", "compute capability");
  d.check(d.cuDeviceGetAttribute(&minor, kAttrComputeCapabilityMinor, device_),
          "cuDeviceGetAttribute", "compute capability");
  int deviceArch = major * 10 + minor;
  int artifactArch = archNumber(m.target.arch);
  // Arch-specific targets (sm_90a) run on exactly that architecture.
  bool specific = m.target.arch.back() == 'a';
  if (artifactArch == 0 || deviceArch < artifactArch ||
      (specific && deviceArch != artifactArch))
    throw Error(name + ": compiled for " + m.target.arch + ", but " +
                deviceName_ + " is sm_" + std::to_string(deviceArch) +
                " (recompile with kiln-compile --arch sm_" +
                std::to_string(deviceArch) + ")");
  d.check(d.cuDevicePrimaryCtxRetain(&context_, device_),
          "cuDevicePrimaryCtxRetain");
  d.check(d.cuCtxSetCurrent(context_), "cuCtxSetCurrent");
  d.check(d.cuStreamCreate(&stream_, 0), "cuStreamCreate");
  say("cuda: " + deviceName_ + " (sm_" + std::to_string(deviceArch) +
      "), driver " + std::to_string(d.version()));

  // Kernels: the cubin when it was made for exactly this GPU, else the PTX.
  bool useCubin = deviceArch == artifactArch &&
                  m.target.arch.find('a') == std::string::npos;
  for (const CudaModuleDesc &mod : m.target.modules) {
    bool cubin = useCubin && !mod.cubinSection.empty();
    std::string image =
        model.artifact().section(cubin ? mod.cubinSection : mod.ptxSection);
    if (!cubin)
      image.push_back('\0'); // the driver reads PTX as a C string
    cu::Module handle = nullptr;
    // The driver's PTX compiler explains a failure in its error log.
    constexpr int kJitErrorLogBuffer = 5, kJitErrorLogBufferSize = 6;
    std::vector<char> log(8192, '\0');
    int options[] = {kJitErrorLogBuffer, kJitErrorLogBufferSize};
    void *values[] = {log.data(),
                      reinterpret_cast<void *>(uintptr_t(log.size() - 1))};
    cu::Result loaded =
        d.cuModuleLoadDataEx(&handle, image.data(), 2, options, values);
    std::string what = mod.name + (cubin ? " (cubin)" : " (PTX)");
    if (loaded != cu::kSuccess && log[0] != '\0')
      what += "; the driver's log: " + std::string(log.data());
    d.check(loaded, "cuModuleLoadDataEx", what);
    modules_[mod.name] = handle;
  }
  say("cuda: " + std::to_string(modules_.size()) + " kernel modules (" +
      (useCubin ? "cubin" : "PTX, compiled by the driver") + ")");

  // Weights, then the KV cache and the inputs, all on the device.
  size_t weightBytes = 0;
  for (const WeightDesc &w : m.weights) {
    size_t bytes = numElements(w.shape) * dtypeSize(w.dtype);
    DeviceBuffer &buf = bound_[w.name] = allocate(bytes, "weight " + w.name);
    d.check(d.cuMemcpyHtoD(buf.ptr, model.weight(w.name), bytes),
            "cuMemcpyHtoD", "weight " + w.name);
    weightBytes += bytes;
  }
  char line[128];
  std::snprintf(line, sizeof(line), "cuda: %zu weights uploaded, %.1f MiB",
                m.weights.size(), weightBytes / 1048576.0);
  say(line);
  size_t cacheBytes = static_cast<size_t>(maxContext) * m.kvShape[2].value *
                      m.kvShape[3].value * dtypeSize(m.kvDtype);
  for (int64_t l = 0; l < m.kvLayers; ++l)
    for (const char *kv : {"k", "v"}) {
      std::string binding =
          "kv_cache:" + std::to_string(l) + ":" + std::string(kv);
      DeviceBuffer &buf = bound_[binding] = allocate(cacheBytes, binding);
      d.check(d.cuMemsetD8(buf.ptr, 0, cacheBytes), "cuMemsetD8", binding);
      kvBytes_ += cacheBytes;
    }
  for (const char *input : {"input:ids", "input:positions"})
    bound_[input] = allocate(maxContext * sizeof(int32_t), input);
  // The greedy token of the one sequence (batch 1), written by the model.
  bound_["output:argmax"] = allocate(sizeof(int32_t), "output:argmax");
  hostIds_.assign(maxContext, 0);
  hostPositions_.assign(maxContext, 0);
  logits_.assign(vocab_, 0.0f);

  prepare("prefill", prefill_);
  prepare("decode_step", decode_);
  auto bindsArgmax = [](const Entry &e) {
    for (const PlanBuffer &b : e.plan->buffers())
      if (b.binding == "output:argmax")
        return true;
    return false;
  };
  hasArgmax_ = bindsArgmax(prefill_) && bindsArgmax(decode_);
  // The decode step's workspace, once, for the largest context.
  position_ = maxContext - 1;
  ensureWorkspace(decode_, symbolValues(decode_, 1));
  position_ = 0;
}

CudaSession::~CudaSession() { releaseAll(); }

void CudaSession::releaseAll() {
  if (!driver_)
    return;
  // Errors while tearing down are not reported: the process is done with
  // the GPU either way. Work in flight finishes first.
  if (context_)
    driver_->cuCtxSetCurrent(context_);
  if (stream_)
    driver_->cuStreamSynchronize(stream_);
  destroyDecodeGraph();
  for (cu::Event event : events_)
    driver_->cuEventDestroy(event);
  events_.clear();
  for (Entry *e : {&prefill_, &decode_}) {
    for (DeviceBuffer &b : e->slots)
      release(b);
    for (DeviceBuffer &b : e->constants)
      release(b);
  }
  for (auto &[name, buf] : bound_)
    release(buf);
  bound_.clear();
  for (auto &[name, mod] : modules_)
    driver_->cuModuleUnload(mod);
  modules_.clear();
  if (stream_)
    driver_->cuStreamDestroy(stream_);
  stream_ = nullptr;
  if (context_)
    driver_->cuDevicePrimaryCtxRelease(device_);
  context_ = nullptr;
}

CudaSession::DeviceBuffer CudaSession::allocate(size_t bytes,
                                                const std::string &what) {
  DeviceBuffer buf;
  buf.bytes = std::max<size_t>(bytes, 1);
  driver_->check(driver_->cuMemAlloc(&buf.ptr, buf.bytes), "cuMemAlloc",
                 what + ", " + std::to_string(buf.bytes) + " bytes");
  return buf;
}

void CudaSession::release(DeviceBuffer &buffer) {
  if (buffer.ptr)
    driver_->cuMemFree(buffer.ptr);
  buffer = DeviceBuffer{};
}

void CudaSession::prepare(const std::string &name, Entry &e) {
  const Manifest &m = model_.manifest();
  auto it = m.launchPlans.find(name);
  if (it == m.launchPlans.end())
    throw Error(model_.artifact().name() + ": no launch plan for entry '" +
                name + "'");
  e.plan = std::make_unique<LaunchPlan>(LaunchPlan::fromJson(
      it->second, model_.artifact().name() + ": launch plan '" + name + "'"));
  e.constants.resize(e.plan->buffers().size());
  for (size_t i = 0; i < e.plan->buffers().size(); ++i) {
    const PlanBuffer &b = e.plan->buffers()[i];
    if (b.constant()) {
      // Constant tables live with the entry, uploaded once.
      size_t bytes = b.content.size() * sizeof(uint32_t);
      e.constants[i] = allocate(bytes, "constant table " + std::to_string(i) +
                                           " of " + name);
      driver_->check(
          driver_->cuMemcpyHtoD(e.constants[i].ptr, b.content.data(), bytes),
          "cuMemcpyHtoD", "constant table of " + name);
    } else if (!b.workspace() && !bound_.count(b.binding)) {
      throw Error(model_.artifact().name() + ": launch plan '" + name +
                  "' binds '" + b.binding + "', which the runtime lacks");
    }
  }
  for (const PlanLaunch &launch : e.plan->launches()) {
    auto mod = modules_.find(launch.module);
    if (mod == modules_.end())
      throw Error(model_.artifact().name() + ": launch plan '" + name +
                  "' launches module '" + launch.module +
                  "', which the artifact lacks");
    cu::Function fn = nullptr;
    driver_->check(
        driver_->cuModuleGetFunction(&fn, mod->second, launch.function.c_str()),
        "cuModuleGetFunction", launch.module + "::" + launch.function);
    e.functions.push_back(fn);
  }
  // The result must be the [batch, vocab] f32 logits, rows contiguous.
  const PlanView *result =
      e.plan->results().empty() ? nullptr : &e.plan->results()[0];
  std::vector<int64_t> symbols = symbolValues(e, 1);
  if (!result || result->sizes.size() != 2 ||
      e.plan->buffers()[result->buffer].elementBits != 32 ||
      result->sizes[1].eval(symbols) != vocab_ ||
      result->strides[1].eval(symbols) != 1)
    throw Error(model_.artifact().name() + ": launch plan '" + name +
                "' does not return [batch, " + std::to_string(vocab_) +
                "] f32 logits");
}

std::vector<int64_t> CudaSession::symbolValues(const Entry &e,
                                               int64_t tokens) const {
  std::vector<int64_t> values;
  for (const PlanSymbol &s : e.plan->symbols()) {
    if (s.binding == "input:kv_len")
      values.push_back(position_ + tokens);
    else if (s.binding.rfind("kv_cache:", 0) == 0 && (s.dim == 0 || s.dim == 1))
      values.push_back(s.dim == 0 ? 1 : maxContext_);
    else if ((s.binding == "input:ids" || s.binding == "input:positions") &&
             (s.dim == 0 || s.dim == 1))
      values.push_back(s.dim == 0 ? 1 : tokens);
    else if (s.binding == "output:argmax" && s.dim == 0)
      values.push_back(1); // batch

    else
      throw Error("launch plan '" + e.plan->entry() + "': unknown size '" +
                  s.binding + "' dim " + std::to_string(s.dim));
  }
  return values;
}

bool CudaSession::ensureWorkspace(Entry &e,
                                  const std::vector<int64_t> &symbols) {
  bool grew = false;
  e.slots.resize(e.plan->numSlots());
  for (int64_t slot = 0; slot < e.plan->numSlots(); ++slot) {
    size_t need = e.plan->slotBytes(slot, symbols);
    DeviceBuffer &buf = e.slots[slot];
    if (buf.ptr && buf.bytes >= need)
      continue;
    release(buf);
    buf = allocate(need, "workspace slot " + std::to_string(slot) + " of " +
                             e.plan->entry());
    grew = true;
  }
  return grew;
}

void CudaSession::run(Entry &e, const int32_t *ids, int64_t tokens) {
  // A step that fails leaves no results behind (its buffers may be gone).
  lastLogits_ = 0;
  logitsFetched_ = false;
  for (int64_t i = 0; i < tokens; ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_)
      throw Error("token id " + std::to_string(ids[i]) +
                  " is outside the vocabulary [0, " + std::to_string(vocab_) +
                  ")");
    hostIds_[i] = ids[i];
    hostPositions_[i] = static_cast<int32_t>(position_ + i);
  }
  const CudaDriver &d = *driver_;
  d.check(d.cuMemcpyHtoDAsync(bound_["input:ids"].ptr, hostIds_.data(),
                              tokens * sizeof(int32_t), stream_),
          "cuMemcpyHtoDAsync", "input:ids");
  d.check(d.cuMemcpyHtoDAsync(bound_["input:positions"].ptr,
                              hostPositions_.data(), tokens * sizeof(int32_t),
                              stream_),
          "cuMemcpyHtoDAsync", "input:positions");
  std::vector<int64_t> symbols = symbolValues(e, tokens);
  if (ensureWorkspace(e, symbols) && &e == &decode_)
    ++decodeAllocations_;
  std::vector<uint64_t> bases, bytes;
  for (size_t b = 0; b < e.plan->buffers().size(); ++b) {
    const PlanBuffer &pb = e.plan->buffers()[b];
    const DeviceBuffer &buf = pb.workspace()  ? e.slots[pb.slot]
                              : pb.constant() ? e.constants[b]
                                              : bound_.at(pb.binding);
    bases.push_back(buf.ptr);
    bytes.push_back(buf.bytes);
  }
  std::vector<LaunchPlan::Launch> launches =
      e.plan->evaluate(symbols, bases, bytes);
  bool replayed = &e == &decode_ && useGraph_ && launchDecodeGraph(launches);
  // --profile-kernels: an event before each launch and after the last.
  while (profile_ && events_.size() < launches.size() + 1) {
    cu::Event event = nullptr;
    d.check(d.cuEventCreate(&event, 0), "cuEventCreate", "kernel timing");
    events_.push_back(event);
  }
  for (size_t i = 0; i < launches.size() && !replayed; ++i) {
    LaunchPlan::Launch &l = launches[i];
    std::vector<void *> params = l.paramPointers();
    if (profile_)
      d.check(d.cuEventRecord(events_[i], stream_), "cuEventRecord",
              l.plan->module);
    d.check(d.cuLaunchKernel(e.functions[i], l.grid[0], l.grid[1], l.grid[2],
                             l.plan->block[0], l.plan->block[1],
                             l.plan->block[2], 0, stream_, params.data(),
                             nullptr),
            "cuLaunchKernel", l.plan->module);
  }
  if (profile_ && !launches.empty())
    d.check(d.cuEventRecord(events_[launches.size()], stream_), "cuEventRecord",
            e.plan->entry());
  // The logits of the (one) sequence: the first row of the result view,
  // left on the device until logits() asks for them.
  const PlanView &result = e.plan->results().at(0);
  int64_t offset = result.offset.eval(symbols);
  if (offset < 0 || static_cast<uint64_t>(offset + vocab_) * sizeof(float) >
                        bytes[result.buffer])
    throw Error("launch plan '" + e.plan->entry() +
                "': the logits lie outside their buffer");
  lastLogits_ = bases[result.buffer] + offset * sizeof(float);
  if (hasArgmax_)
    d.check(d.cuMemcpyDtoHAsync(&argmax_, bound_.at("output:argmax").ptr,
                                sizeof(int32_t), stream_),
            "cuMemcpyDtoHAsync", "output:argmax");
  d.check(d.cuStreamSynchronize(stream_), "cuStreamSynchronize",
          e.plan->entry());
  if (profile_) {
    auto &times = kernelTimes_[e.plan->entry()];
    for (size_t i = 0; i < launches.size(); ++i) {
      float ms = 0;
      d.check(d.cuEventElapsedTime(&ms, events_[i], events_[i + 1]),
              "cuEventElapsedTime", launches[i].plan->module);
      KernelTime &t = times[launches[i].plan->module];
      t.ms += ms;
      ++t.launches;
    }
  }
  position_ += tokens;
}

const float *CudaSession::logits() {
  if (!lastLogits_)
    throw noStep("logits");
  if (!logitsFetched_) {
    const CudaDriver &d = *driver_;
    d.check(d.cuMemcpyDtoHAsync(logits_.data(), lastLogits_,
                                vocab_ * sizeof(float), stream_),
            "cuMemcpyDtoHAsync", "logits");
    d.check(d.cuStreamSynchronize(stream_), "cuStreamSynchronize", "logits");
    logitsFetched_ = true;
  }
  return logits_.data();
}

int32_t CudaSession::greedyToken() {
  return greedyFrom(lastLogits_ != 0, argmax_, vocab_);
}

namespace {
cu::KernelNodeParams nodeParams(cu::Function fn, LaunchPlan::Launch &l,
                                std::vector<void *> &pointers) {
  pointers = l.paramPointers();
  cu::KernelNodeParams p;
  p.func = fn;
  p.gridDimX = l.grid[0];
  p.gridDimY = l.grid[1];
  p.gridDimZ = l.grid[2];
  p.blockDimX = l.plan->block[0];
  p.blockDimY = l.plan->block[1];
  p.blockDimZ = l.plan->block[2];
  p.kernelParams = pointers.data();
  return p;
}
} // namespace

bool CudaSession::launchDecodeGraph(std::vector<LaunchPlan::Launch> &launches) {
  const CudaDriver &d = *driver_;
  DecodeGraph &g = graph_;
  std::vector<void *> pointers;
  if (!g.exec) {
    // The first step builds the graph: one kernel node per launch, each
    // depending on the one before (the launches of a step run in order).
    try {
      d.check(d.cuGraphCreate(&g.graph, 0), "cuGraphCreate", "decode step");
      for (size_t i = 0; i < launches.size(); ++i) {
        cu::KernelNodeParams p =
            nodeParams(decode_.functions[i], launches[i], pointers);
        cu::GraphNode node = nullptr;
        d.check(d.cuGraphAddKernelNode(&node, g.graph,
                                       g.nodes.empty() ? nullptr
                                                       : &g.nodes.back(),
                                       g.nodes.empty() ? 0 : 1, &p),
                "cuGraphAddKernelNode", launches[i].plan->module);
        g.nodes.push_back(node);
        g.grids.push_back(launches[i].grid);
        g.params.push_back(launches[i].params);
      }
      d.check(d.cuGraphInstantiateWithFlags(&g.exec, g.graph, 0),
              "cuGraphInstantiateWithFlags", "decode step");
    } catch (const Error &err) {
      destroyDecodeGraph();
      useGraph_ = false;
      graphStatus_ = std::string("off (") + err.what() + ")";
      return false;
    }
  } else {
    // Later steps: only what changed (the kernels whose grid or arguments
    // depend on kv_len) is updated in the instantiated graph.
    for (size_t i = 0; i < launches.size(); ++i) {
      if (launches[i].grid == g.grids[i] && launches[i].params == g.params[i])
        continue;
      cu::KernelNodeParams p =
          nodeParams(decode_.functions[i], launches[i], pointers);
      d.check(d.cuGraphExecKernelNodeSetParams(g.exec, g.nodes[i], &p),
              "cuGraphExecKernelNodeSetParams", launches[i].plan->module);
      g.grids[i] = launches[i].grid;
      g.params[i] = launches[i].params;
      ++graphNodeUpdates_;
    }
  }
  d.check(d.cuGraphLaunch(g.exec, stream_), "cuGraphLaunch", "decode step");
  ++graphReplays_;
  return true;
}

void CudaSession::destroyDecodeGraph() {
  if (graph_.exec)
    driver_->cuGraphExecDestroy(graph_.exec);
  if (graph_.graph)
    driver_->cuGraphDestroy(graph_.graph);
  graph_ = DecodeGraph{};
}

void CudaSession::prefillStep(const std::vector<int32_t> &ids) {
  if (ids.empty())
    throw Error("prefill of an empty sequence");
  if (position_ + static_cast<int64_t>(ids.size()) > maxContext_)
    throw Error(std::to_string(ids.size()) + " tokens at position " +
                std::to_string(position_) + " do not fit in the context of " +
                std::to_string(maxContext_));
  // Long prompts go in chunks: each chunk attends to the cache written by
  // the ones before it, and the workspace (which holds a chunk's attention
  // scores until the flash kernels) and the grids stay bounded.
  int64_t n = static_cast<int64_t>(ids.size());
  for (int64_t start = 0; start < n; start += kPrefillChunk)
    run(prefill_, ids.data() + start,
        std::min<int64_t>(kPrefillChunk, n - start));
}

void CudaSession::decodeStep(int32_t id) {
  if (position_ + 1 > maxContext_)
    throw Error("the context of " + std::to_string(maxContext_) +
                " tokens is full");
  run(decode_, &id, 1);
}

void CudaSession::rewind(int64_t position) {
  if (position < 0 || position > position_)
    throw Error("cannot rewind the sequence to position " +
                std::to_string(position) + ": it holds " +
                std::to_string(position_) + " tokens");
  position_ = position;
  lastLogits_ = 0;
}

size_t CudaSession::workspaceBytes() const {
  size_t total = 0;
  for (const Entry *e : {&prefill_, &decode_})
    for (const DeviceBuffer &b : e->slots)
      total += b.bytes;
  return total;
}

std::string CudaSession::describe() const {
  char line[200];
  std::snprintf(line, sizeof(line),
                "cuda %s: workspace %.1f MiB, %llu allocations during decode",
                deviceName_.c_str(), workspaceBytes() / 1048576.0,
                static_cast<unsigned long long>(decodeAllocations_));
  std::string text = line;
  if (graph_.exec) {
    std::snprintf(line, sizeof(line),
                  "; cuda graph on: %zu kernels, %llu replays, %llu node "
                  "updates",
                  graph_.nodes.size(),
                  static_cast<unsigned long long>(graphReplays_),
                  static_cast<unsigned long long>(graphNodeUpdates_));
    text += line;
  } else {
    text += "; cuda graph " + graphStatus_;
  }
  return text;
}

std::string CudaSession::profileReport() const {
  if (!profile_)
    return {};
  std::string out = "kernel times (--profile-kernels: cuEvents around each "
                    "launch, graphs off; launch gaps included)\n";
  char line[256];
  for (const auto &[entry, kernels] : kernelTimes_) {
    double total = 0;
    for (const auto &[name, t] : kernels)
      total += t.ms;
    std::vector<std::pair<std::string, KernelTime>> sorted(kernels.begin(),
                                                           kernels.end());
    std::sort(sorted.begin(), sorted.end(), [](const auto &a, const auto &b) {
      return a.second.ms != b.second.ms ? a.second.ms > b.second.ms
                                        : a.first < b.first;
    });
    std::snprintf(line, sizeof(line), "%-12s %-40s %9s %11s %10s %6s\n",
                  "entry", "kernel", "launches", "total ms", "mean us",
                  "share");
    out += line;
    for (const auto &[name, t] : sorted) {
      std::snprintf(line, sizeof(line),
                    "%-12s %-40s %9lld %11.3f %10.2f %5.1f%%\n", entry.c_str(),
                    name.c_str(), static_cast<long long>(t.launches), t.ms,
                    t.launches ? t.ms * 1e3 / t.launches : 0.0,
                    total > 0 ? 100 * t.ms / total : 0.0);
      out += line;
    }
    std::snprintf(line, sizeof(line), "%-12s %-40s %9s %11.3f\n", entry.c_str(),
                  "(all kernels)", "", total);
    out += line;
  }
  return out;
}
