//===- SessionTest.cpp - loading weights and running the tiny model -------===//
//
// Runs the tiny artifact that the build compiles (KILN_TEST_ARTIFACT) on
// deterministic weights written by the test. Numerical agreement with an
// independent reference is the end-to-end tests' job (python/e2e_check.py);
// here: binding errors, context limits, the KV cache (prefill vs decode
// agree) and the no-allocation decode loop.
//
//===----------------------------------------------------------------------===//
#include "ArtifactTestUtil.h"
#include "TestUtil.h"

#include "kiln/runtime/Sampler.h"
#include "kiln/runtime/Session.h"

#include <set>

#include <cmath>

using namespace kiln::rt;
using namespace kiln::rt::test;

namespace {

class SessionTest : public ::testing::Test {
protected:
  void SetUp() override {
    manifest = Artifact::load(KILN_TEST_ARTIFACT).manifest();
  }
  std::string weightsDir(DType type = DType::F32, const std::string &skip = "",
                         const std::string &reshape = "") {
    writeTestWeights(manifest, dir.path(), type, skip, reshape);
    return dir.path();
  }

  TempDir dir{"kiln-session-test"};
  Manifest manifest;
};

std::vector<float> copyLogits(const float *l, int64_t n) {
  return std::vector<float>(l, l + n);
}

float maxAbsDiff(const std::vector<float> &a, const std::vector<float> &b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i)
    m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

TEST_F(SessionTest, PrefillAndDecodeAgreeThroughTheKVCache) {
  LoadedModel model(KILN_TEST_ARTIFACT, weightsDir());
  EXPECT_EQ(model.weightsMappedInPlace(), manifest.weights.size());
  std::vector<int32_t> ids = {3, 141, 59, 26, 53, 58, 97};
  int64_t vocab = manifest.model.vocabSize;

  // Whole sequence in one prefill...
  Session whole(model, 16);
  std::vector<float> reference = copyLogits(whole.prefill(ids), vocab);
  for (float v : reference)
    ASSERT_TRUE(std::isfinite(v));
  // ...equals a shorter prefill followed by decode steps on the cache.
  Session stepwise(model, 16);
  stepwise.prefill({ids.begin(), ids.begin() + 3});
  const float *last = nullptr;
  for (size_t i = 3; i < ids.size(); ++i)
    last = stepwise.decode(ids[i]);
  EXPECT_EQ(stepwise.position(), static_cast<int64_t>(ids.size()));
  // f32 with a different summation order: a few ulps of logits ~ O(1).
  EXPECT_LT(maxAbsDiff(reference, copyLogits(last, vocab)), 1e-4f);
  // The position matters: the same token elsewhere gives other logits.
  Session shifted(model, 16);
  shifted.prefill({ids[0], ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]});
  EXPECT_GT(maxAbsDiff(reference, copyLogits(shifted.decode(ids[6]), vocab)),
            1e-3f);
}

TEST_F(SessionTest, DecodeLoopDoesNotAllocate) {
  LoadedModel model(KILN_TEST_ARTIFACT, weightsDir());
  Session session(model, 64);
  uint64_t blocksAfterSizing = session.workspace().numBlocks();
  session.prefill({1, 2, 3, 4, 5, 6, 7, 8});
  int32_t next = 9;
  for (int step = 0; step < 50; ++step) {
    const float *l = session.decode(next);
    next =
        static_cast<int32_t>(std::max_element(l, l + session.vocabSize()) - l);
    EXPECT_EQ(session.workspace().blocksInUse(), 0u) << "leaked at " << step;
  }
  EXPECT_EQ(session.decodeAllocations(), 0u);
  EXPECT_EQ(session.workspace().errorCount(), 0u);
  EXPECT_GE(session.workspace().numBlocks(), blocksAfterSizing);
}

TEST_F(SessionTest, GreedyTokenIsTheModelsArgmax) {
  // The compiled entries write llm.argmax of the logits into
  // output:argmax: it must be the host's argmax (lowest id on ties) after
  // the prefill and every decode step.
  LoadedModel model(KILN_TEST_ARTIFACT, weightsDir());
  Session session(model, 32);
  EXPECT_TRUE(session.argmaxOnTarget());
  session.prefillStep({1, 2, 3, 4});
  std::set<int32_t> seen;
  for (int step = 0; step < 12; ++step) {
    int32_t host =
        static_cast<int32_t>(argmaxOf(session.logits(), session.vocabSize()));
    int32_t target = session.greedyToken();
    EXPECT_EQ(target, host) << "step " << step;
    seen.insert(target);
    session.decodeStep(target);
  }
  // Not a constant: the tokens move with the context.
  EXPECT_GT(seen.size(), 1u);
  // A reset or rewind forgets the last step's results: nothing stale.
  session.reset();
  EXPECT_HAS_SUBSTR(errorOf([&] { session.greedyToken(); }),
                    "no greedy token: no step ran");
  EXPECT_HAS_SUBSTR(errorOf([&] { session.logits(); }), "no logits");
  session.prefillStep({1, 2, 3});
  session.rewind(2);
  EXPECT_HAS_SUBSTR(errorOf([&] { session.logits(); }), "no logits");
}

TEST_F(SessionTest, ResetRestartsTheSequence) {
  LoadedModel model(KILN_TEST_ARTIFACT, weightsDir());
  Session session(model, 8);
  std::vector<float> first = copyLogits(session.prefill({5, 6}), 256);
  session.decode(7);
  session.reset();
  EXPECT_EQ(maxAbsDiff(first, copyLogits(session.prefill({5, 6}), 256)), 0.0f);
}

TEST_F(SessionTest, RewindKeepsThePrefixAndForgetsTheRest) {
  // A chat turn: the cache holds A + B, the next prompt is A + C.
  LoadedModel model(KILN_TEST_ARTIFACT, weightsDir());
  Session fresh(model, 16);
  std::vector<float> reference =
      copyLogits(fresh.prefill({11, 12, 13, 40, 41}), 256);
  Session session(model, 16);
  session.prefill({11, 12, 13, 20, 21, 22});
  session.decode(23);
  session.rewind(3);
  EXPECT_EQ(session.position(), 3);
  // f32 with another split of the same sequence: a few ulps.
  EXPECT_LT(maxAbsDiff(reference, copyLogits(session.prefill({40, 41}), 256)),
            1e-4f);
  EXPECT_HAS_SUBSTR(errorOf([&] { session.rewind(6); }),
                    "cannot rewind the sequence to position 6: it holds 5");
  EXPECT_HAS_SUBSTR(errorOf([&] { session.rewind(-1); }), "position -1");
}

TEST_F(SessionTest, HalfPrecisionWeightsAreConverted) {
  LoadedModel model(KILN_TEST_ARTIFACT, weightsDir(DType::BF16));
  EXPECT_EQ(model.weightsMappedInPlace(), 0u);
  Session session(model, 8);
  const float *l = session.prefill({1, 2, 3});
  for (int64_t i = 0; i < session.vocabSize(); ++i)
    ASSERT_TRUE(std::isfinite(l[i]));
}

TEST_F(SessionTest, MissingTensorIsNamed) {
  std::string d = weightsDir(DType::F32, "model.layers.1.mlp.up_proj.weight");
  EXPECT_HAS_SUBSTR(errorOf([&] { LoadedModel m(KILN_TEST_ARTIFACT, d); }),
                    "missing tensor 'model.layers.1.mlp.up_proj.weight'");
}

TEST_F(SessionTest, WrongShapeIsNamed) {
  std::string d = weightsDir(DType::F32, "", "model.norm.weight");
  std::string msg = errorOf([&] { LoadedModel m(KILN_TEST_ARTIFACT, d); });
  EXPECT_HAS_SUBSTR(msg, "model.norm.weight");
  EXPECT_HAS_SUBSTR(msg, "[65]");
  EXPECT_HAS_SUBSTR(msg, "[64]");
}

TEST_F(SessionTest, NoWeightsInDirectory) {
  EXPECT_HAS_SUBSTR(
      errorOf([&] { LoadedModel m(KILN_TEST_ARTIFACT, dir.path()); }),
      "no model.safetensors");
}

TEST_F(SessionTest, ContextAndVocabularyLimits) {
  LoadedModel model(KILN_TEST_ARTIFACT, weightsDir());
  EXPECT_HAS_SUBSTR(errorOf([&] { Session s(model, 0); }), "--max-context");
  EXPECT_HAS_SUBSTR(errorOf([&] { Session s(model, 100000); }),
                    "max_position_embeddings");
  Session session(model, 4);
  EXPECT_HAS_SUBSTR(errorOf([&] { session.prefill({1, 2, 3, 4, 5}); }),
                    "does not fit in the context of 4");
  EXPECT_HAS_SUBSTR(errorOf([&] { session.prefill({}); }), "empty");
  EXPECT_HAS_SUBSTR(errorOf([&] { session.prefill({1, 256}); }),
                    "token id 256");
  EXPECT_HAS_SUBSTR(errorOf([&] { session.prefill({-1}); }), "token id -1");
  session.prefill({1, 2, 3});
  session.decode(4);
  EXPECT_HAS_SUBSTR(errorOf([&] { session.decode(5); }), "is full");
}

} // namespace
