//===- Session.cpp - a loaded model and a generation session --------------===//
#include "kiln/runtime/Session.h"

#include "kiln/runtime/Error.h"
#include "kiln/runtime/Sampler.h"

#include <cstdio>
#include <cstring>
#include <sys/mman.h>

using namespace kiln::rt;

//===----------------------------------------------------------------------===//
// PageBuffer
//===----------------------------------------------------------------------===//

PageBuffer::PageBuffer(size_t size) : bytes(size) {
  if (size == 0)
    return;
  void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw Error("out of memory: cannot map " + std::to_string(size) +
                " bytes: " + std::strerror(errno));
  ptr = p;
}

PageBuffer::PageBuffer(PageBuffer &&other) noexcept
    : ptr(other.ptr), bytes(other.bytes) {
  other.ptr = nullptr;
  other.bytes = 0;
}

PageBuffer &PageBuffer::operator=(PageBuffer &&other) noexcept {
  if (this != &other) {
    this->~PageBuffer();
    ptr = other.ptr;
    bytes = other.bytes;
    other.ptr = nullptr;
    other.bytes = 0;
  }
  return *this;
}

PageBuffer::~PageBuffer() {
  if (ptr)
    munmap(ptr, bytes);
  ptr = nullptr;
  bytes = 0;
}

//===----------------------------------------------------------------------===//
// LoadedModel
//===----------------------------------------------------------------------===//

static size_t numElements(const std::vector<int64_t> &shape) {
  size_t n = 1;
  for (int64_t d : shape)
    n *= static_cast<size_t>(d);
  return n;
}

LoadedModel::LoadedModel(const std::string &artifactPath,
                         const std::string &weightsDir,
                         const Progress &progress)
    : artifact_(Artifact::load(artifactPath)),
      weights_(WeightStore::openDirectory(weightsDir)) {
  auto say = [&](const std::string &msg) {
    if (progress)
      progress(msg);
  };
  const Manifest &m = manifest();
  bool cuda = m.target.kind == "cuda";
  say("artifact " + artifactPath + ": " + m.model.name + ", " +
      std::to_string(m.model.numLayers) + " layers, " + dtypeName(m.dtype) +
      ", target " + m.target.kind + " (" +
      (cuda ? m.target.arch : m.target.cpu) + ")");
  // The CUDA backend loads its kernels itself (CudaSession); the weights
  // are bound here on the host for both targets.
  if (!cuda)
    kernels_ = std::make_unique<CpuKernels>(artifact_);

  size_t done = 0, total = m.weights.size();
  size_t totalBytes = 0;
  for (const WeightDesc &w : m.weights)
    totalBytes += numElements(w.shape) * dtypeSize(w.dtype);
  // Progress at about every tenth of the weights, for models worth it.
  size_t nextReport = totalBytes > (size_t(256) << 20) ? 1 : total;
  for (const WeightDesc &w : m.weights) {
    size_t bytes = numElements(w.shape) * dtypeSize(w.dtype);
    const void *data = weights_.viewIfExact(w.name, w.dtype, w.shape);
    if (data) {
      ++mappedInPlace_;
    } else {
      PageBuffer buffer(bytes);
      weights_.read(w.name, w.dtype, w.shape, buffer.data());
      data = buffer.data();
      converted_.push_back(std::move(buffer));
    }
    bound_.emplace_back(w.name, data);
    weightBytes_ += bytes;
    ++done;
    if (done == total || done >= nextReport) {
      char line[96];
      std::snprintf(line, sizeof(line), "weights: %zu/%zu tensors, %.1f MiB",
                    done, total, weightBytes_ / 1048576.0);
      say(line);
      nextReport = done + std::max<size_t>(1, total / 10);
    }
  }
}

const void *LoadedModel::weight(const std::string &name) const {
  for (const auto &[n, data] : bound_)
    if (n == name)
      return data;
  throw Error(artifact_.name() + ": no weight '" + name + "' is bound");
}

Error ModelSession::noStep(const std::string &what) {
  return Error("no " + what +
               ": no step ran since the session was opened, reset or "
               "rewound");
}

int32_t ModelSession::greedyFrom(bool stepped, int32_t id, int64_t vocab) {
  if (!argmaxOnTarget())
    return static_cast<int32_t>(argmaxOf(logits(), vocab));
  if (!stepped)
    throw noStep("greedy token");
  if (id == vocab)
    throw Error("the logits of the last token hold a NaN: the model's argmax "
                "found no largest logit");
  if (id < 0 || id > vocab)
    throw Error("the model's argmax returned token id " + std::to_string(id) +
                ", outside the vocabulary [0, " + std::to_string(vocab) + ")");
  return id;
}

//===----------------------------------------------------------------------===//
// Session
//===----------------------------------------------------------------------===//

Session::Session(const LoadedModel &model, int64_t maxContext)
    : model_(model), maxContext_(maxContext),
      vocab_(model.manifest().model.vocabSize) {
  const Manifest &m = model.manifest();
  if (m.target.kind != "cpu")
    throw Error(model.artifact().name() + ": compiled for target '" +
                m.target.kind + "'; the CPU session cannot run it");
  if (maxContext < 1)
    throw Error("--max-context must be at least 1");
  if (maxContext > m.model.maxPositionEmbeddings)
    throw Error("--max-context " + std::to_string(maxContext) +
                " exceeds the model's max_position_embeddings (" +
                std::to_string(m.model.maxPositionEmbeddings) + ")");
  size_t cacheBytes = static_cast<size_t>(maxContext) * m.kvShape[2].value *
                      m.kvShape[3].value * dtypeSize(m.kvDtype);
  for (int64_t i = 0; i < 2 * m.kvLayers; ++i)
    caches_.emplace_back(cacheBytes);
  ids_.assign(maxContext, 0);
  positions_.assign(maxContext, 0);
  logits_.assign(vocab_, 0.0f);
  argmax_.assign(1, 0);
  prefill_ = prepare("prefill");
  decode_ = prepare("decode_step");
  auto bindsArgmax = [](const PreparedEntry &e) {
    for (const Binding &b : e.bindings)
      if (b.source == Binding::Source::Argmax)
        return true;
    return false;
  };
  // Both entries must write it, or greedyToken() would read a stale token.
  hasArgmax_ = bindsArgmax(prefill_) && bindsArgmax(decode_);

  // Sizing step: a decode step at the last position requests the most
  // workspace any decode step will (sizes grow with the context). The K/V
  // it writes at that slot are overwritten before they are ever read.
  position_ = maxContext - 1;
  decodeStep(0);
  position_ = 0;
  decodeGrowth_ = 0;
  stepped_ = false;
}

size_t Session::kvCacheBytes() const {
  size_t n = 0;
  for (const PageBuffer &c : caches_)
    n += c.size();
  return n;
}

Session::PreparedEntry Session::prepare(const std::string &name) {
  const Manifest &m = model_.manifest();
  const std::string &artifactName = model_.artifact().name();
  const EntryDesc *desc = m.findEntry(name);
  if (!desc)
    throw Error(artifactName + ": no entry point '" + name + "'");
  auto fail = [&](const ValueDesc &v, const std::string &msg) -> Error {
    return Error(artifactName + ": entry '" + name + "', argument '" +
                 v.binding + "': " + msg);
  };
  PreparedEntry e;
  e.fn = model_.kernels().entry(name);
  e.desc = desc;
  size_t words = 0;
  for (const ValueDesc &v : desc->args) {
    Binding b{Binding::Source::Weight, &v};
    b.firstWord = words;
    if (v.binding == "input:kv_len") {
      if (v.kind != ValueDesc::Kind::Index)
        throw fail(v, "expected an index");
      b.source = Binding::Source::KvLen;
      words += 1;
      e.bindings.push_back(b);
      continue;
    }
    if (v.kind != ValueDesc::Kind::Tensor)
      throw fail(v, "expected a tensor");
    words += 3 + 2 * v.shape.size();
    if (v.binding == "input:ids" || v.binding == "input:positions") {
      if (v.dtype != DType::I32 || v.shape.size() != 2)
        throw fail(v, "expected i32 [batch, seq]");
      b.source = v.binding == "input:ids" ? Binding::Source::Ids
                                          : Binding::Source::Positions;
      b.data = v.binding == "input:ids" ? ids_.data() : positions_.data();
    } else if (v.binding == "output:argmax") {
      if (v.dtype != DType::I32 || v.shape.size() != 1)
        throw fail(v, "expected i32 [batch]");
      b.source = Binding::Source::Argmax;
      b.data = argmax_.data();
    } else if (v.binding.rfind("kv_cache:", 0) == 0) {
      // kv_cache:<layer>:k|v
      std::string rest = v.binding.substr(9);
      size_t colon = rest.find(':');
      int64_t layer = -1;
      if (colon != std::string::npos && colon > 0 && colon < 7 &&
          rest.find_first_not_of("0123456789") == colon)
        layer = std::stoll(rest.substr(0, colon));
      std::string kind =
          colon == std::string::npos ? "" : rest.substr(colon + 1);
      if (layer < 0 || layer >= m.kvLayers || (kind != "k" && kind != "v"))
        throw fail(v, "not a KV cache of this model");
      if (v.dtype != m.kvDtype || v.shape.size() != 4 ||
          v.shape[1].symbol != "context" ||
          v.shape[2].value != m.kvShape[2].value ||
          v.shape[3].value != m.kvShape[3].value)
        throw fail(v, "does not match the manifest's kv_cache layout");
      b.source = Binding::Source::Cache;
      b.data = caches_[2 * layer + (kind == "v")].data();
    } else {
      const WeightDesc *w = nullptr;
      for (const WeightDesc &cand : m.weights)
        if (cand.name == v.binding)
          w = &cand;
      if (!w)
        throw fail(v, "not listed in the manifest's weights");
      bool same = w->dtype == v.dtype && w->shape.size() == v.shape.size();
      for (size_t i = 0; same && i < v.shape.size(); ++i)
        same = !v.shape[i].isDynamic() && v.shape[i].value == w->shape[i];
      if (!same)
        throw fail(v, "shape or dtype differs from the weight's");
      b.data = model_.weight(v.binding);
    }
    e.bindings.push_back(b);
  }
  const ValueDesc &r = desc->result;
  if (r.kind != ValueDesc::Kind::Tensor || r.dtype != DType::F32 ||
      r.shape.size() != 2 || r.shape[1].isDynamic() ||
      r.shape[1].value != vocab_)
    throw Error(artifactName + ": entry '" + name +
                "': expected f32 logits [batch, vocab] as its result");
  e.words.assign(words + 3 + 2 * r.shape.size(), 0);
  for (size_t i = 0; i < words; ++i)
    e.argPointers.push_back(&e.words[i]);
  e.argPointers.push_back(&e.words[words]);
  for (const Binding &b : e.bindings)
    if (b.source == Binding::Source::Weight ||
        b.source == Binding::Source::Cache)
      fillDescriptor(e, b, /*numTokens=*/0);
  return e;
}

void Session::rewind(int64_t position) {
  if (position < 0 || position > position_)
    throw Error("cannot rewind the sequence to position " +
                std::to_string(position) + ": it holds " +
                std::to_string(position_) + " tokens");
  position_ = position;
  stepped_ = false;
}

void Session::checkIds(const int32_t *ids, size_t n) const {
  for (size_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= vocab_)
      throw Error("token id " + std::to_string(ids[i]) + " (at " +
                  std::to_string(i) + ") is outside the vocabulary [0, " +
                  std::to_string(vocab_) + ")");
}

void Session::fillDescriptor(PreparedEntry &e, const Binding &b,
                             int64_t numTokens) const {
  int64_t *w = &e.words[b.firstWord];
  if (b.source == Binding::Source::KvLen) {
    w[0] = position_ + numTokens;
    return;
  }
  // Pointers, sizes (dynamic ones bound to batch 1, the token count and the
  // context) and row-major strides.
  size_t rank = b.desc->shape.size();
  w[0] = reinterpret_cast<int64_t>(b.data);
  w[1] = reinterpret_cast<int64_t>(b.data);
  w[2] = 0;
  for (size_t i = 0; i < rank; ++i) {
    const Dim &d = b.desc->shape[i];
    w[3 + i] = !d.isDynamic()        ? d.value
               : d.symbol == "batch" ? 1
               : d.symbol == "seq"   ? numTokens
                                     : maxContext_;
  }
  int64_t stride = 1;
  for (size_t i = rank; i-- > 0;) {
    w[3 + rank + i] = stride;
    stride *= w[3 + i];
  }
}

void Session::run(PreparedEntry &e, int64_t numTokens) {
  stepped_ = false;
  // Weights and caches were described once in prepare(); only the inputs
  // change from call to call.
  for (const Binding &b : e.bindings)
    if (b.source != Binding::Source::Weight &&
        b.source != Binding::Source::Cache)
      fillDescriptor(e, b, numTokens);
  {
    ScopedWorkspace scope(pool_);
    e.fn(e.argPointers.data());
  }
  // The returned descriptor: {allocated, aligned, offset, sizes, strides}.
  const int64_t *result = static_cast<int64_t *>(e.argPointers.back());
  void *allocated = reinterpret_cast<void *>(result[0]);
  const float *aligned = reinterpret_cast<const float *>(result[1]);
  if (!aligned || result[3] != 1 || result[4] != vocab_)
    throw Error("entry '" + e.desc->name +
                "' returned logits of an unexpected shape");
  std::memcpy(logits_.data(), aligned + result[2], vocab_ * sizeof(float));
  pool_.release(allocated);
  position_ += numTokens;
  stepped_ = true;
}

const float *Session::logits() {
  if (!stepped_)
    throw noStep("logits");
  return logits_.data();
}

int32_t Session::greedyToken() {
  return greedyFrom(stepped_, argmax_[0], vocab_);
}

void Session::prefillStep(const std::vector<int32_t> &ids) {
  if (ids.empty())
    throw Error("the prompt is empty");
  if (position_ + static_cast<int64_t>(ids.size()) > maxContext_)
    throw Error("the prompt (" + std::to_string(ids.size()) +
                " tokens at position " + std::to_string(position_) +
                ") does not fit in the context of " +
                std::to_string(maxContext_) + " tokens (--max-context)");
  checkIds(ids.data(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    ids_[i] = ids[i];
    positions_[i] = static_cast<int32_t>(position_ + i);
  }
  run(prefill_, ids.size());
}

void Session::decodeStep(int32_t id) {
  if (position_ >= maxContext_)
    throw Error("the context of " + std::to_string(maxContext_) +
                " tokens is full (--max-context)");
  checkIds(&id, 1);
  ids_[0] = id;
  positions_[0] = static_cast<int32_t>(position_);
  uint64_t before = pool_.growthCount();
  run(decode_, 1);
  decodeGrowth_ += pool_.growthCount() - before;
}

std::string Session::describe() const {
  char line[160];
  std::snprintf(line, sizeof(line),
                "cpu: workspace %zu blocks, %.1f MiB, %llu allocations "
                "during decode",
                pool_.numBlocks(), pool_.reservedBytes() / 1048576.0,
                static_cast<unsigned long long>(decodeGrowth_));
  return line;
}
