//===- Workspace.h - the pool that serves the kernels' allocations -*- C++
//-*-===//
//
// Compiled kernels allocate their intermediates through hooks (see the
// kiln-emit-cpu-entry-abi pass); the runtime serves them from this pool.
// Blocks are never returned to the system while the pool lives: a freed
// block is reused by the next request it fits (best fit). Before generation
// the session runs one decode step at the maximum context, whose requests
// bound those of every later decode step, so the decode loop is served
// entirely from blocks that already exist: no allocation in the decode step.
// `growthCount()` counts every block created and lets tests check this.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_WORKSPACE_H
#define KILN_RUNTIME_WORKSPACE_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kiln::rt {

class WorkspacePool {
public:
  WorkspacePool();
  ~WorkspacePool();
  WorkspacePool(const WorkspacePool &) = delete;
  WorkspacePool &operator=(const WorkspacePool &) = delete;

  /// 64-byte aligned; never returns null for a satisfiable request (returns
  /// null, and counts a failure, when the system is out of memory).
  void *allocate(uint64_t bytes);
  /// Returns a block to the pool; unknown pointers are counted, not freed.
  void release(void *ptr);

  /// Number of blocks created so far (each one a system allocation).
  uint64_t growthCount() const { return growth; }
  uint64_t reservedBytes() const { return reserved; }
  size_t numBlocks() const { return blocks.size(); }
  size_t blocksInUse() const;
  /// Frees of pointers the pool did not hand out, and failed allocations.
  uint64_t errorCount() const { return errors; }

private:
  struct Block {
    void *ptr;
    uint64_t size;
    bool inUse;
  };
  std::vector<Block> blocks;
  uint64_t growth = 0;
  uint64_t reserved = 0;
  uint64_t errors = 0;
};

/// Makes `pool` serve the calling thread's kernel allocations until the
/// scope ends.
class ScopedWorkspace {
public:
  explicit ScopedWorkspace(WorkspacePool &pool);
  ~ScopedWorkspace();
  ScopedWorkspace(const ScopedWorkspace &) = delete;
  ScopedWorkspace &operator=(const ScopedWorkspace &) = delete;

private:
  WorkspacePool *previous;
};

/// The hooks the CPU kernels call (installed in their kiln_alloc_hook /
/// kiln_free_hook variables). Without a current pool they use malloc/free.
void *kilnWorkspaceAlloc(uint64_t bytes);
void kilnWorkspaceFree(void *ptr);

} // namespace kiln::rt

#endif // KILN_RUNTIME_WORKSPACE_H
