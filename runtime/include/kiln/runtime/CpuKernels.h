//===- CpuKernels.h - load the CPU target's kernels --------------*- C++
//-*-===//
//
// The CPU section of an artifact is an ELF shared object. It is loaded from
// memory (memfd_create + dlopen of /proc/self/fd/N, so nothing is written to
// disk), after checking that this machine has the CPU features it was
// compiled for. Its allocation hooks are pointed at the runtime's workspace.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CPUKERNELS_H
#define KILN_RUNTIME_CPUKERNELS_H

#include "kiln/runtime/Artifact.h"

#include <map>
#include <string>
#include <vector>

namespace kiln::rt {

class CpuKernels {
public:
  /// `void kiln_entry_<name>(void **args)`: args[i] points to the i-th
  /// lowered parameter, args[n] to storage for the returned descriptor.
  using EntryFn = void (*)(void **);

  explicit CpuKernels(const Artifact &artifact);
  ~CpuKernels();
  CpuKernels(const CpuKernels &) = delete;
  CpuKernels &operator=(const CpuKernels &) = delete;

  EntryFn entry(const std::string &name) const;

private:
  void unload();

  void *handle = nullptr;
  int fd = -1;
  std::map<std::string, EntryFn> entries;
};

/// The "+feature" names of an LLVM feature string that this machine lacks
/// (only features the runtime can query are checked).
std::vector<std::string> missingCpuFeatures(const std::string &features);

} // namespace kiln::rt

#endif // KILN_RUNTIME_CPUKERNELS_H
