//===- ArtifactWriter.cpp - the artifact container ------------------------===//
#include "kiln/Artifact/Artifact.h"

#include "kiln/runtime/ArtifactFormat.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace kiln;

static uint64_t alignTo(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

llvm::Error kiln::writeArtifact(llvm::StringRef path,
                                llvm::ArrayRef<ArtifactSection> sections) {
  using namespace kiln::artifact;
  auto error = [&](const llvm::Twine &msg) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   (path + ": " + msg).str());
  };
  if (sections.size() > kMaxSections)
    return error("too many sections");

  std::vector<SectionEntry> table(sections.size());
  uint64_t offset =
      alignTo(sizeof(FileHeader) + sections.size() * sizeof(SectionEntry),
              kSectionAlignment);
  for (auto [entry, section] : llvm::zip(table, sections)) {
    if (section.name.empty() || section.name.size() >= kSectionNameSize)
      return error("bad section name '" + section.name + "'");
    std::memset(&entry, 0, sizeof(entry));
    std::memcpy(entry.name, section.name.data(), section.name.size());
    entry.offset = offset;
    entry.size = section.data.size();
    entry.checksum = fnv1a(section.data.data(), section.data.size());
    offset = alignTo(offset + entry.size, kSectionAlignment);
  }
  FileHeader header;
  std::memset(&header, 0, sizeof(header));
  std::memcpy(header.magic, kMagic, sizeof(kMagic));
  header.formatVersion = kFormatVersion;
  header.numSections = sections.size();
  header.fileSize = offset;
  header.tableChecksum =
      fnv1a(table.data(), table.size() * sizeof(SectionEntry));

  std::string temp = (path + ".tmp").str();
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(temp, ec, llvm::sys::fs::OF_None);
    if (ec)
      return error("cannot write: " + ec.message());
    os.write(reinterpret_cast<const char *>(&header), sizeof(header));
    os.write(reinterpret_cast<const char *>(table.data()),
             table.size() * sizeof(SectionEntry));
    uint64_t written = sizeof(header) + table.size() * sizeof(SectionEntry);
    for (auto [entry, section] : llvm::zip(table, sections)) {
      os.write_zeros(entry.offset - written);
      os << section.data;
      written = entry.offset + entry.size;
    }
    os.write_zeros(header.fileSize - written);
    os.close();
    if (os.has_error()) {
      llvm::sys::fs::remove(temp);
      return error("write failed: " + os.error().message());
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(temp, path)) {
    llvm::sys::fs::remove(temp);
    return error("cannot rename the temporary file: " + ec.message());
  }
  return llvm::Error::success();
}
