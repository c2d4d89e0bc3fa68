//===- Session.h - a loaded model and a generation session -------*- C++
//-*-===//
//
// `LoadedModel` = a validated artifact + its kernels + the weights bound by
// name (memory-mapped in place when the file already has the compiled
// dtype, converted once otherwise). `Session` owns what one sequence needs:
// the KV cache for a maximum context, the input buffers, the argument
// descriptors of each entry point and the workspace pool, all allocated up
// front, so that prefill and the decode steps allocate nothing.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_SESSION_H
#define KILN_RUNTIME_SESSION_H

#include "kiln/runtime/Artifact.h"
#include "kiln/runtime/CpuKernels.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/WeightStore.h"
#include "kiln/runtime/Workspace.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kiln::rt {

/// Page-aligned, zero-filled memory from mmap (pages are committed lazily,
/// so an unused tail of a large KV cache costs no resident memory).
class PageBuffer {
public:
  PageBuffer() = default;
  explicit PageBuffer(size_t bytes);
  PageBuffer(PageBuffer &&other) noexcept;
  PageBuffer &operator=(PageBuffer &&other) noexcept;
  PageBuffer(const PageBuffer &) = delete;
  PageBuffer &operator=(const PageBuffer &) = delete;
  ~PageBuffer();
  void *data() const { return ptr; }
  size_t size() const { return bytes; }

private:
  void *ptr = nullptr;
  size_t bytes = 0;
};

class LoadedModel {
public:
  using Progress = std::function<void(const std::string &)>;
  /// Loads the artifact, its kernels and the weights of `weightsDir`;
  /// `progress` (optional) hears about each step.
  LoadedModel(const std::string &artifactPath, const std::string &weightsDir,
              const Progress &progress = nullptr);

  const Artifact &artifact() const { return artifact_; }
  const Manifest &manifest() const { return artifact_.manifest(); }
  const CpuKernels &kernels() const { return *kernels_; }
  /// The bound weight called `name` (in the compiled dtype).
  const void *weight(const std::string &name) const;
  /// Bytes of all bound weights in the compiled dtype.
  size_t weightBytes() const { return weightBytes_; }
  /// How many weights are used in place from the mapped files.
  size_t weightsMappedInPlace() const { return mappedInPlace_; }

private:
  Artifact artifact_;
  std::unique_ptr<CpuKernels> kernels_;
  WeightStore weights_;
  std::vector<std::pair<std::string, const void *>> bound_;
  std::vector<PageBuffer> converted_;
  size_t weightBytes_ = 0;
  size_t mappedInPlace_ = 0;
};

/// One sequence being generated, on either target: what kiln-run drives.
/// A step (prefillStep, decodeStep) leaves its results where the target
/// computed them; logits() and greedyToken() fetch what the caller needs,
/// so that greedy decoding on a GPU copies 4 bytes per token, not the
/// logits.
class ModelSession {
public:
  virtual ~ModelSession() = default;
  /// Appends `ids` at the current position. Throws Error if an id is
  /// outside the vocabulary or the tokens do not fit in the context.
  virtual void prefillStep(const std::vector<int32_t> &ids) = 0;
  /// Appends one token.
  virtual void decodeStep(int32_t id) = 0;
  /// The logits [vocab] of the last token of the last step (valid until
  /// the next step). Throws Error if no step ran since the session was
  /// opened, reset or rewound.
  virtual const float *logits() = 0;
  /// The greedy token of the last step: the model's `output:argmax`
  /// (llm.argmax, computed on the target), or the argmax of logits() for
  /// an artifact without it. Throws Error if the logits held a NaN.
  virtual int32_t greedyToken() = 0;
  /// Whether greedyToken() comes from the model rather than the host.
  virtual bool argmaxOnTarget() const = 0;
  /// prefillStep, then the logits.
  const float *prefill(const std::vector<int32_t> &ids) {
    prefillStep(ids);
    return logits();
  }
  /// decodeStep, then the logits.
  const float *decode(int32_t id) {
    decodeStep(id);
    return logits();
  }
  /// Forgets the sequence (the cache is simply overwritten later), and the
  /// last step's results.
  virtual void reset() = 0;
  /// Keeps the first `position` tokens of the sequence and forgets the rest,
  /// so that a chat turn re-uses the cached prefix it shares with the last
  /// one (the last step's results are forgotten). Throws Error unless
  /// 0 <= position <= position().
  virtual void rewind(int64_t position) = 0;
  virtual int64_t position() const = 0;
  virtual int64_t maxContext() const = 0;
  virtual size_t kvCacheBytes() const = 0;
  /// Bytes of intermediates reserved, and how many allocations decode
  /// steps made after the sizing (0 when the decode loop allocates nothing).
  virtual size_t workspaceBytes() const = 0;
  virtual uint64_t decodeAllocations() const = 0;
  /// Per-kernel times when the session was asked to measure them (the CUDA
  /// backend's --profile-kernels), else empty.
  virtual std::string profileReport() const { return {}; }
  /// One line for kiln-run's report: where the session runs and its memory.
  virtual std::string describe() const = 0;

protected:
  /// greedyToken() for a session whose last step (if `stepped`) left `id`
  /// in `output:argmax`: checked (`vocab` marks a row with a NaN), or the
  /// argmax of logits() when the artifact has no `output:argmax`.
  int32_t greedyFrom(bool stepped, int32_t id, int64_t vocab);
  /// The error for results asked for before any step.
  static Error noStep(const std::string &what);
};

class Session final : public ModelSession {
public:
  /// Allocates the KV cache for `maxContext` positions (batch 1) and sizes
  /// the workspace with one decode step at that context. The artifact must
  /// be for the CPU target (CudaSession runs the CUDA one).
  Session(const LoadedModel &model, int64_t maxContext);

  void prefillStep(const std::vector<int32_t> &ids) override;
  void decodeStep(int32_t id) override;
  const float *logits() override;
  int32_t greedyToken() override;
  bool argmaxOnTarget() const override { return hasArgmax_; }
  void reset() override {
    position_ = 0;
    stepped_ = false;
  }
  void rewind(int64_t position) override;

  int64_t position() const override { return position_; }
  int64_t maxContext() const override { return maxContext_; }
  size_t workspaceBytes() const override { return pool_.reservedBytes(); }
  std::string describe() const override;
  int64_t vocabSize() const { return vocab_; }
  size_t kvCacheBytes() const override;
  const WorkspacePool &workspace() const { return pool_; }
  /// Workspace blocks created by decode steps after the sizing step (0 when
  /// the decode loop allocates nothing).
  uint64_t decodeAllocations() const override { return decodeGrowth_; }

private:
  struct Binding {
    enum class Source { Ids, Positions, KvLen, Weight, Cache, Argmax } source;
    const ValueDesc *desc;
    const void *data = nullptr;
    size_t firstWord = 0;
  };
  struct PreparedEntry {
    CpuKernels::EntryFn fn = nullptr;
    const EntryDesc *desc = nullptr;
    std::vector<Binding> bindings;
    std::vector<int64_t> words;
    std::vector<void *> argPointers;
  };

  PreparedEntry prepare(const std::string &name);
  void fillDescriptor(PreparedEntry &entry, const Binding &binding,
                      int64_t numTokens) const;
  void run(PreparedEntry &entry, int64_t numTokens);
  void checkIds(const int32_t *ids, size_t n) const;

  const LoadedModel &model_;
  int64_t maxContext_;
  int64_t vocab_;
  int64_t position_ = 0;
  std::vector<PageBuffer> caches_;
  std::vector<int32_t> ids_, positions_;
  std::vector<float> logits_;
  std::vector<int32_t> argmax_; // output:argmax, [batch]
  bool hasArgmax_ = false;
  bool stepped_ = false; // logits_ and argmax_ hold a step's results
  WorkspacePool pool_;
  PreparedEntry prefill_, decode_;
  uint64_t decodeGrowth_ = 0;
};

} // namespace kiln::rt

#endif // KILN_RUNTIME_SESSION_H
