//===- Workspace.cpp - the pool that serves the kernels' allocations ------===//
#include "kiln/runtime/Workspace.h"

#include <cstdlib>

using namespace kiln::rt;

namespace {
thread_local WorkspacePool *currentPool = nullptr;
constexpr uint64_t kAlignment = 64;
} // namespace

WorkspacePool::WorkspacePool() {
  // Block bookkeeping must not allocate in the decode loop either.
  blocks.reserve(4096);
}

WorkspacePool::~WorkspacePool() {
  for (Block &b : blocks)
    std::free(b.ptr);
}

void *WorkspacePool::allocate(uint64_t bytes) {
  Block *best = nullptr;
  for (Block &b : blocks)
    if (!b.inUse && b.size >= bytes && (!best || b.size < best->size))
      best = &b;
  if (best) {
    best->inUse = true;
    return best->ptr;
  }
  uint64_t size = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (size == 0)
    size = kAlignment;
  void *ptr = std::aligned_alloc(kAlignment, size);
  if (!ptr) {
    ++errors;
    return nullptr;
  }
  blocks.push_back({ptr, size, true});
  ++growth;
  reserved += size;
  return ptr;
}

void WorkspacePool::release(void *ptr) {
  if (!ptr)
    return;
  for (Block &b : blocks)
    if (b.ptr == ptr && b.inUse) {
      b.inUse = false;
      return;
    }
  ++errors;
}

size_t WorkspacePool::blocksInUse() const {
  size_t n = 0;
  for (const Block &b : blocks)
    n += b.inUse;
  return n;
}

ScopedWorkspace::ScopedWorkspace(WorkspacePool &pool) : previous(currentPool) {
  currentPool = &pool;
}

ScopedWorkspace::~ScopedWorkspace() { currentPool = previous; }

void *kiln::rt::kilnWorkspaceAlloc(uint64_t bytes) {
  if (currentPool)
    return currentPool->allocate(bytes);
  return std::malloc(bytes);
}

void kiln::rt::kilnWorkspaceFree(void *ptr) {
  if (currentPool)
    return currentPool->release(ptr);
  std::free(ptr);
}
