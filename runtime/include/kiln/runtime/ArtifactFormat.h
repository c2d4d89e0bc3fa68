//===- ArtifactFormat.h - the on-disk layout of a Kiln artifact -*- C++ -*-===//
//
// Shared by the compiler (writer) and the runtime (reader); plain C++ so the
// runtime stays free of LLVM. An artifact is one file:
//
//   FileHeader                       (40 bytes, little endian)
//   SectionEntry[numSections]        (80 bytes each)
//   section data                     (each section 64-byte aligned)
//
// Sections are named blobs: "manifest" (JSON: entry points, arguments and
// their bindings, the model config, the target, the KV-cache layout and the
// workspace plan) and the kernels of the target ("cpu.so": an ELF shared
// object for the CPU target). Every section carries a 64-bit FNV-1a
// checksum and the header one over the section table, so truncation and
// corruption are detected before anything is interpreted.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ARTIFACTFORMAT_H
#define KILN_RUNTIME_ARTIFACTFORMAT_H

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace kiln::artifact {

/// Bumped on every incompatible change of the container or the manifest.
constexpr uint32_t kFormatVersion = 1;
constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'A', 'R', 'T', '\0'};
constexpr size_t kSectionNameSize = 48;
constexpr size_t kSectionAlignment = 64;
constexpr uint32_t kMaxSections = 4096;

constexpr const char *kManifestSection = "manifest";
constexpr const char *kCpuSharedObjectSection = "cpu.so";

struct FileHeader {
  char magic[8];
  uint32_t formatVersion;
  uint32_t numSections;
  uint64_t fileSize;
  /// FNV-1a of the section table.
  uint64_t tableChecksum;
  uint64_t reserved;
};
static_assert(sizeof(FileHeader) == 40, "packed header");

struct SectionEntry {
  /// NUL-padded name.
  char name[kSectionNameSize];
  uint64_t offset;
  uint64_t size;
  /// FNV-1a of the section's bytes.
  uint64_t checksum;
  uint64_t reserved;
};
static_assert(sizeof(SectionEntry) == 80, "packed section entry");

/// 64-bit FNV-1a: cheap, dependency-free corruption detection (not a
/// cryptographic signature).
inline uint64_t fnv1a(const void *data, size_t size,
                      uint64_t hash = 0xcbf29ce484222325ull) {
  const auto *bytes = static_cast<const unsigned char *>(data);
  for (size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

/// The complete file image of an artifact with these (name, bytes)
/// sections, in order. Names must be 1 to kSectionNameSize - 1 bytes (the
/// caller checks). The one layout routine, shared by kiln-compile's writer
/// and the runtime's tests.
inline std::string
packSections(const std::vector<std::pair<std::string, std::string>> &sections) {
  auto align = [](uint64_t v) {
    return (v + kSectionAlignment - 1) / kSectionAlignment * kSectionAlignment;
  };
  std::vector<SectionEntry> table(sections.size());
  uint64_t offset =
      align(sizeof(FileHeader) + sections.size() * sizeof(SectionEntry));
  for (size_t i = 0; i < sections.size(); ++i) {
    std::memset(&table[i], 0, sizeof(SectionEntry));
    std::memcpy(table[i].name, sections[i].first.data(),
                std::min(sections[i].first.size(), kSectionNameSize - 1));
    table[i].offset = offset;
    table[i].size = sections[i].second.size();
    table[i].checksum =
        fnv1a(sections[i].second.data(), sections[i].second.size());
    offset = align(offset + table[i].size);
  }
  FileHeader header;
  std::memset(&header, 0, sizeof(header));
  std::memcpy(header.magic, kMagic, sizeof(kMagic));
  header.formatVersion = kFormatVersion;
  header.numSections = static_cast<uint32_t>(sections.size());
  header.fileSize = offset;
  header.tableChecksum =
      fnv1a(table.data(), table.size() * sizeof(SectionEntry));
  std::string image(offset, '\0');
  std::memcpy(&image[0], &header, sizeof(header));
  if (!table.empty())
    std::memcpy(&image[sizeof(header)], table.data(),
                table.size() * sizeof(SectionEntry));
  for (size_t i = 0; i < sections.size(); ++i)
    if (!sections[i].second.empty())
      std::memcpy(&image[table[i].offset], sections[i].second.data(),
                  sections[i].second.size());
  return image;
}

/// Names of the symbols the CPU shared object exports (see the
/// kiln-emit-cpu-entry-abi pass).
constexpr const char *kEntrySymbolPrefix = "kiln_entry_";
constexpr const char *kAllocHookSymbol = "kiln_alloc_hook";
constexpr const char *kFreeHookSymbol = "kiln_free_hook";

} // namespace kiln::artifact

#endif // KILN_RUNTIME_ARTIFACTFORMAT_H
