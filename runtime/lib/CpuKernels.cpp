//===- CpuKernels.cpp - load the CPU target's kernels ---------------------===//
#include "kiln/runtime/CpuKernels.h"

#include "kiln/runtime/ArtifactFormat.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Workspace.h"

#include <cstring>
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace kiln::rt;

std::vector<std::string>
kiln::rt::missingCpuFeatures(const std::string &features) {
  struct Known {
    const char *name;
    bool present;
  };
#if defined(__x86_64__)
  __builtin_cpu_init();
#define KILN_FEATURE(llvmName, builtinName)                                    \
  {                                                                            \
    llvmName, static_cast<bool>(__builtin_cpu_supports(builtinName))           \
  }
  const Known known[] = {
      KILN_FEATURE("sse4.2", "sse4.2"),
      KILN_FEATURE("avx", "avx"),
      KILN_FEATURE("avx2", "avx2"),
      KILN_FEATURE("fma", "fma"),
      KILN_FEATURE("bmi2", "bmi2"),
      KILN_FEATURE("f16c", "f16c"),
      KILN_FEATURE("avx512f", "avx512f"),
      KILN_FEATURE("avx512bw", "avx512bw"),
      KILN_FEATURE("avx512vl", "avx512vl"),
      KILN_FEATURE("avx512dq", "avx512dq"),
      KILN_FEATURE("avx512cd", "avx512cd"),
      KILN_FEATURE("avx512vnni", "avx512vnni"),
      KILN_FEATURE("avx512bf16", "avx512bf16"),
      KILN_FEATURE("avx512fp16", "avx512fp16"),
  };
#undef KILN_FEATURE
#else
  const Known known[] = {{"", true}};
#endif
  std::vector<std::string> missing;
  size_t pos = 0;
  while (pos < features.size()) {
    size_t end = features.find(',', pos);
    if (end == std::string::npos)
      end = features.size();
    std::string f = features.substr(pos, end - pos);
    pos = end + 1;
    if (f.size() < 2 || f[0] != '+')
      continue;
    for (const Known &k : known)
      if (f.compare(1, std::string::npos, k.name) == 0 && !k.present)
        missing.push_back(f.substr(1));
  }
  return missing;
}

CpuKernels::CpuKernels(const Artifact &artifact) {
  const Manifest &m = artifact.manifest();
  const std::string &name = artifact.name();
  if (m.target.kind != "cpu")
    throw Error(name + ": compiled for target '" + m.target.kind +
                "', not cpu");
#if !defined(__x86_64__)
  throw Error(name + ": the CPU runtime supports x86-64 hosts only");
#endif
  if (m.target.triple.rfind("x86_64", 0) != 0)
    throw Error(name + ": compiled for '" + m.target.triple +
                "', this runtime runs x86_64 code");
  std::vector<std::string> missing = missingCpuFeatures(m.target.features);
  if (!missing.empty()) {
    std::string list;
    for (const std::string &f : missing)
      list += (list.empty() ? "" : ", ") + f;
    throw Error(name + ": compiled for CPU '" + m.target.cpu +
                "', which has features this machine lacks (" + list +
                "); recompile here, or with kiln-compile --cpu generic");
  }

  const std::string &so = artifact.section(m.target.section);
  static const unsigned char kElfMagic[4] = {0x7f, 'E', 'L', 'F'};
  if (so.size() < 64 || std::memcmp(so.data(), kElfMagic, 4) != 0)
    throw Error(name + ": section '" + m.target.section +
                "' is not an ELF shared object");
  fd = memfd_create("kiln-kernels", MFD_CLOEXEC);
  if (fd < 0)
    throw Error(name + ": memfd_create failed: " + std::strerror(errno));
  size_t written = 0;
  while (written < so.size()) {
    ssize_t n = ::write(fd, so.data() + written, so.size() - written);
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      fd = -1;
      throw Error(name + ": cannot stage the kernels: " + std::strerror(err));
    }
    written += n;
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *err = dlerror();
    ::close(fd);
    fd = -1;
    throw Error(name + ": cannot load the CPU kernels: " +
                (err ? err : "unknown dlopen error"));
  }

  auto lookup = [&](const std::string &symbol) {
    dlerror();
    void *sym = dlsym(handle, symbol.c_str());
    if (!sym) {
      unload();
      throw Error(name + ": the kernels do not export '" + symbol + "'");
    }
    return sym;
  };
  *static_cast<void **>(lookup(artifact::kAllocHookSymbol)) =
      reinterpret_cast<void *>(&kilnWorkspaceAlloc);
  *static_cast<void **>(lookup(artifact::kFreeHookSymbol)) =
      reinterpret_cast<void *>(&kilnWorkspaceFree);
  for (const EntryDesc &e : m.entries)
    entries[e.name] = reinterpret_cast<EntryFn>(lookup(e.symbol));
}

CpuKernels::~CpuKernels() { unload(); }

void CpuKernels::unload() {
  if (handle)
    dlclose(handle);
  handle = nullptr;
  if (fd >= 0)
    ::close(fd);
  fd = -1;
}

CpuKernels::EntryFn CpuKernels::entry(const std::string &name) const {
  auto it = entries.find(name);
  if (it == entries.end())
    throw Error("the artifact has no entry point '" + name + "'");
  return it->second;
}
