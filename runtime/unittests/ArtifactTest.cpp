//===- ArtifactTest.cpp - artifact container and manifest validation ------===//
//
// Uses the tiny artifact that the build compiles with kiln-compile
// (KILN_TEST_ARTIFACT); every corruption is made on a copy in memory.
//
//===----------------------------------------------------------------------===//
#include "ArtifactTestUtil.h"
#include "Mutator.h"
#include "TestUtil.h"

#include "kiln/runtime/Artifact.h"
#include "kiln/runtime/ArtifactFormat.h"
#include "kiln/runtime/CpuKernels.h"

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

using namespace kiln::rt;
using namespace kiln::rt::test;
using Bytes = std::vector<uint8_t>;

namespace {

Artifact parseBytes(const Bytes &bytes) {
  return Artifact::parse(bytes.data(), bytes.size(), "test.kiln");
}

TEST(ArtifactFormat, Fnv1aKnownValue) {
  // FNV-1a 64 of "a" (published test vector).
  EXPECT_EQ(kiln::artifact::fnv1a("a", 1), 0xaf63dc4c8601ec8cull);
}

TEST(Artifact, LoadsTheTinyArtifact) {
  Artifact a = Artifact::load(KILN_TEST_ARTIFACT);
  const Manifest &m = a.manifest();
  EXPECT_EQ(m.formatVersion, kiln::artifact::kFormatVersion);
  EXPECT_EQ(m.model.hiddenSize, 64);
  EXPECT_EQ(m.model.numLayers, 2);
  EXPECT_EQ(m.kvLayers, 2);
  EXPECT_EQ(m.target.kind, "cpu");
  ASSERT_NE(m.findEntry("prefill"), nullptr);
  ASSERT_NE(m.findEntry("decode_step"), nullptr);
  EXPECT_EQ(m.findEntry("decode_step")->symbol, "kiln_entry_decode_step");
  // 2 layers x 9 weights + embeddings + final norm + lm_head.
  EXPECT_EQ(m.weights.size(), 21u);
  EXPECT_TRUE(a.hasSection("cpu.so"));
  CpuKernels kernels(a);
  EXPECT_NE(kernels.entry("prefill"), nullptr);
  EXPECT_HAS_SUBSTR(errorOf([&] { kernels.entry("train"); }), "'train'");
}

TEST(Artifact, MissingFile) {
  EXPECT_HAS_SUBSTR(errorOf([] { Artifact::load("/nonexistent/x.kiln"); }),
                    "/nonexistent/x.kiln");
}

TEST(Artifact, TruncatedAnywhere) {
  Bytes good = readBytes(KILN_TEST_ARTIFACT);
  for (size_t size : {size_t(0), size_t(7), size_t(39), size_t(40), size_t(100),
                      good.size() / 2, good.size() - 1}) {
    Bytes cut(good.begin(), good.begin() + size);
    std::string msg = errorOf([&] { parseBytes(cut); });
    EXPECT_HAS_SUBSTR(msg, "truncated");
    EXPECT_HAS_SUBSTR(msg, "test.kiln");
  }
}

TEST(Artifact, BadMagicVersionAndTrailingBytes) {
  Bytes good = readBytes(KILN_TEST_ARTIFACT);
  Bytes bad = good;
  bad[0] = 'X';
  EXPECT_HAS_SUBSTR(errorOf([&] { parseBytes(bad); }), "not a Kiln artifact");
  bad = good;
  uint32_t version = kiln::artifact::kFormatVersion + 1;
  std::memcpy(&bad[8], &version, 4);
  EXPECT_HAS_SUBSTR(errorOf([&] { parseBytes(bad); }), "recompile the model");
  bad = good;
  bad.push_back(0);
  EXPECT_HAS_SUBSTR(errorOf([&] { parseBytes(bad); }), "trailing bytes");
}

TEST(Artifact, CorruptedBytesAreCaughtByChecksums) {
  Bytes good = readBytes(KILN_TEST_ARTIFACT);
  Artifact a = parseBytes(good);
  // A flipped byte in the kernels, in the manifest, and in the table.
  Bytes bad = good;
  bad[bad.size() - 200] ^= 0x40;
  EXPECT_HAS_SUBSTR(errorOf([&] { parseBytes(bad); }),
                    "checksum mismatch in section 'cpu.so'");
  bad = good;
  bad[300] ^= 0x01;
  EXPECT_HAS_SUBSTR(errorOf([&] { parseBytes(bad); }),
                    "checksum mismatch in section 'manifest'");
  bad = good;
  bad[41] ^= 0x01;
  EXPECT_HAS_SUBSTR(errorOf([&] { parseBytes(bad); }),
                    "section table checksum");
}

TEST(Artifact, ManifestFieldErrorsNameTheField) {
  Bytes good = readBytes(KILN_TEST_ARTIFACT);
  Artifact a = parseBytes(good);
  nlohmann::json base = nlohmann::json::parse(a.section("manifest"));
  struct Case {
    std::function<void(nlohmann::json &)> edit;
    std::string expected;
  } cases[] = {
      {[](auto &j) { j.erase("entries"); }, "'entries': missing"},
      {[](auto &j) { j["model"]["hidden_size"] = "64"; },
       "'model.hidden_size': expected an integer"},
      {[](auto &j) { j["model"]["hidden_size"] = -1; },
       "'model.hidden_size': value -1 out of range"},
      {[](auto &j) { j["dtype"] = "f8"; }, "unknown dtype 'f8'"},
      {[](auto &j) { j["entries"][0]["args"][0]["shape"][0] = "tokens"; },
       "unknown dynamic size 'tokens'"},
      {[](auto &j) { j["entries"][0]["args"][0]["kind"] = "pointer"; },
       "expected 'tensor' or 'index'"},
      {[](auto &j) { j["format_version"] = 99; }, "version 99"},
      {[](auto &j) { j["format"] = "onnx"; }, "expected 'kiln-artifact'"},
      {[](auto &j) { j["kv_cache"]["shape"] = {"batch", 2, 16}; },
       "'kv_cache.shape'"},
      {[](auto &j) { j["weights"][1]["name"] = j["weights"][0]["name"]; },
       "duplicate weight"},
      {[](auto &j) { j["target"]["section"] = "cuda.cubin"; },
       "no section 'cuda.cubin'"},
  };
  for (const Case &c : cases) {
    nlohmann::json edited = base;
    c.edit(edited);
    Bytes repacked = packArtifact(
        {{"manifest", edited.dump()}, {"cpu.so", a.section("cpu.so")}});
    EXPECT_HAS_SUBSTR(errorOf([&] { parseBytes(repacked); }), c.expected);
  }
  Bytes notJson = packArtifact({{"manifest", "{\"format\": "}});
  EXPECT_HAS_SUBSTR(errorOf([&] { parseBytes(notJson); }), "not valid JSON");
  Bytes noManifest = packArtifact({{"cpu.so", a.section("cpu.so")}});
  EXPECT_HAS_SUBSTR(errorOf([&] { parseBytes(noManifest); }),
                    "missing section 'manifest'");
}

TEST(Artifact, BadKernelsAreRejectedBeforeUse) {
  Artifact a = Artifact::load(KILN_TEST_ARTIFACT);
  const std::string &manifest = a.section("manifest");
  Artifact junk = parseBytes(packArtifact(
      {{"manifest", manifest}, {"cpu.so", std::string(4096, 'x')}}));
  EXPECT_HAS_SUBSTR(errorOf([&] { CpuKernels k(junk); }),
                    "not an ELF shared object");
  std::string so = a.section("cpu.so");
  Artifact cut = parseBytes(
      packArtifact({{"manifest", manifest}, {"cpu.so", so.substr(0, 200)}}));
  EXPECT_HAS_SUBSTR(errorOf([&] { CpuKernels k(cut); }),
                    "cannot load the CPU kernels");
  nlohmann::json j = nlohmann::json::parse(manifest);
  j["entries"][0]["symbol"] = "kiln_entry_nothing";
  Artifact renamed =
      parseBytes(packArtifact({{"manifest", j.dump()}, {"cpu.so", so}}));
  EXPECT_HAS_SUBSTR(errorOf([&] { CpuKernels k(renamed); }),
                    "do not export 'kiln_entry_nothing'");
  // Features the runtime cannot query, and disabled ones, are not missing.
  EXPECT_TRUE(missingCpuFeatures("+no-such-feature,-avx2").empty());
}

/// Every mutated artifact (container bytes, or manifest text repacked with
/// valid checksums) either loads or is rejected with kiln::rt::Error.
TEST(ArtifactFuzz, MutatedArtifactsNeverCrash) {
  Artifact a = Artifact::load(KILN_TEST_ARTIFACT);
  const std::string manifest = a.section("manifest");
  // Small kernels keep the container fuzzing fast; they are never loaded.
  Bytes seed = packArtifact({{"manifest", manifest}, {"cpu.so", "ELF"}});
  uint64_t iterations = fuzzIterations();
  double maxSeconds = fuzzSeconds();
  std::mt19937_64 rng(1234);
  fuzz::Mutator mutator(rng);
  auto start = std::chrono::steady_clock::now();
  uint64_t accepted = 0, rejected = 0;
  for (uint64_t i = 0; i < iterations; ++i) {
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count() > maxSeconds)
      break;
    Bytes input;
    if (i % 2 == 0) {
      input = mutator.mutate(seed);
    } else {
      Bytes text(manifest.begin(), manifest.end());
      Bytes mutated = mutator.mutate(text);
      input = packArtifact(
          {{"manifest", std::string(mutated.begin(), mutated.end())},
           {"cpu.so", "ELF"}});
    }
    // An exact-size heap copy, so ASan sees any over-read.
    std::unique_ptr<uint8_t[]> copy(new uint8_t[input.size() + !input.size()]);
    std::memcpy(copy.get(), input.data(), input.size());
    try {
      Artifact::parse(copy.get(), input.size(), "fuzz.kiln");
      ++accepted;
    } catch (const Error &) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0u);
  RecordProperty("accepted", std::to_string(accepted));
  RecordProperty("rejected", std::to_string(rejected));
}

} // namespace
