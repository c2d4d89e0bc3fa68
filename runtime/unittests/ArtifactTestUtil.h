//===- ArtifactTestUtil.h - build artifacts and weights in tests -*- C++
//-*-===//
#ifndef KILN_RUNTIME_UNITTESTS_ARTIFACTTESTUTIL_H
#define KILN_RUNTIME_UNITTESTS_ARTIFACTTESTUTIL_H

#include "kiln/runtime/Artifact.h"
#include "kiln/runtime/ArtifactFormat.h"
#include "kiln/runtime/DType.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace kiln::rt::test {

/// An artifact container with the given sections (valid checksums).
inline std::vector<uint8_t>
packArtifact(const std::vector<std::pair<std::string, std::string>> &sections) {
  std::string image = kiln::artifact::packSections(sections);
  return std::vector<uint8_t>(image.begin(), image.end());
}

/// Writes `dir`/model.safetensors with every weight of `manifest`, filled
/// with deterministic values (norm weights near 1, matrices uniform in
/// +-1/sqrt(fan_in)), stored as `fileType` (F32, F16 or BF16). `skip` is
/// left out and `reshape` gets a wrong shape, to test binding errors.
inline void writeTestWeights(const Manifest &manifest, const std::string &dir,
                             DType fileType = DType::F32,
                             const std::string &skip = "",
                             const std::string &reshape = "") {
  nlohmann::json header = nlohmann::json::object();
  std::vector<uint8_t> data;
  uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>((state >> 40) / double(1ull << 24)) * 2 - 1;
  };
  for (const WeightDesc &w : manifest.weights) {
    if (w.name == skip)
      continue;
    std::vector<int64_t> shape = w.shape;
    if (w.name == reshape)
      shape.back() += 1;
    size_t n = 1;
    for (int64_t d : shape)
      n *= d;
    float scale = shape.size() == 1 ? 0.1f : 1.0f / std::sqrt(float(shape[1]));
    float bias = shape.size() == 1 ? 1.0f : 0.0f;
    size_t begin = data.size();
    for (size_t i = 0; i < n; ++i) {
      float v = bias + scale * next();
      if (fileType == DType::F32) {
        uint8_t b[4];
        std::memcpy(b, &v, 4);
        data.insert(data.end(), b, b + 4);
      } else {
        uint16_t h = fileType == DType::BF16 ? floatToBf16(v) : floatToF16(v);
        data.push_back(h & 0xff);
        data.push_back(h >> 8);
      }
    }
    header[w.name] = {{"dtype", fileType == DType::F32    ? "F32"
                                : fileType == DType::BF16 ? "BF16"
                                                          : "F16"},
                      {"shape", shape},
                      {"data_offsets", {begin, data.size()}}};
  }
  std::string text = header.dump();
  while (text.size() % 8)
    text += ' ';
  std::ofstream out(dir + "/model.safetensors", std::ios::binary);
  uint64_t len = text.size();
  out.write(reinterpret_cast<const char *>(&len), 8);
  out << text;
  out.write(reinterpret_cast<const char *>(data.data()), data.size());
}

} // namespace kiln::rt::test

#endif // KILN_RUNTIME_UNITTESTS_ARTIFACTTESTUTIL_H
