//===- SamplerTest.cpp - tests for token sampling ---------------*- C++ -*-===//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/Sampler.h"
#include "kiln/runtime/Error.h"

#include <gtest/gtest.h>

#include "TestUtil.h"
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace kiln::rt;
using namespace kiln::rt::test;

namespace {

SamplingOptions sampling(float temperature, int64_t topK, float topP,
                         uint64_t seed) {
  SamplingOptions o;
  o.greedy = false;
  o.temperature = temperature;
  o.topK = topK;
  o.topP = topP;
  o.seed = seed;
  return o;
}

std::vector<float> randomLogits(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<float> logits(n);
  for (float &l : logits)
    l = static_cast<float>(static_cast<double>(rng() >> 11) * 0x1p-53 * 8 - 4);
  return logits;
}

TEST(SamplerTest, GreedyArgmaxAndTies) {
  Sampler sampler(SamplingOptions(), 5);
  std::vector<float> logits = {0.1f, 3.0f, -1.0f, 2.9f, 0.0f};
  EXPECT_EQ(sampler.sample(logits.data()), 1);
  std::vector<float> ties = {1.0f, 7.0f, 7.0f, -2.0f, 7.0f};
  EXPECT_EQ(sampler.sample(ties.data()), 1);
  float inf = std::numeric_limits<float>::infinity();
  std::vector<float> infs = {-inf, -inf, inf, inf, 0.0f};
  EXPECT_EQ(sampler.sample(infs.data()), 2);
  std::vector<float> allNegInf(5, -inf);
  EXPECT_EQ(sampler.sample(allNegInf.data()), 0);
}

TEST(SamplerTest, NaNIsAnError) {
  std::vector<float> logits = {0.1f, NAN, 1.0f};
  Sampler greedy(SamplingOptions(), 3);
  EXPECT_NE(
      errorOf([&] { greedy.sample(logits.data()); }).find("logit 1 is NaN"),
      std::string::npos);
  Sampler random(sampling(1.0f, 0, 1.0f, 1), 3);
  EXPECT_THROW(random.sample(logits.data()), Error);
  float inf = std::numeric_limits<float>::infinity();
  std::vector<float> allNegInf(3, -inf);
  EXPECT_THROW(random.sample(allNegInf.data()), Error);
}

TEST(SamplerTest, DeterministicForSeed) {
  std::vector<float> logits = randomLogits(1000, 7);
  for (SamplingOptions o :
       {sampling(1.0f, 0, 1.0f, 42), sampling(0.7f, 50, 0.9f, 42),
        sampling(1.3f, 0, 0.5f, 42)}) {
    Sampler a(o, 1000), b(o, 1000);
    std::vector<int64_t> first, second;
    for (int i = 0; i < 200; ++i) {
      first.push_back(a.sample(logits.data()));
      second.push_back(b.sample(logits.data()));
    }
    EXPECT_EQ(first, second);
    o.seed = 43;
    Sampler c(o, 1000);
    std::vector<int64_t> third;
    for (int i = 0; i < 200; ++i)
      third.push_back(c.sample(logits.data()));
    EXPECT_NE(first, third);
    for (int64_t t : first)
      EXPECT_TRUE(t >= 0 && t < 1000);
  }
}

TEST(SamplerTest, TopKOneAndTinyTopPEqualGreedy) {
  Sampler greedy(SamplingOptions(), 500);
  Sampler topK1(sampling(1.5f, 1, 1.0f, 3), 500);
  Sampler tinyTopP(sampling(1.5f, 0, 1e-6f, 4), 500);
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::vector<float> logits = randomLogits(500, seed);
    if (seed % 5 == 0) // Ties for the maximum go to the lowest index.
      logits[400] = logits[17] = 10.0f;
    int64_t expected = greedy.sample(logits.data());
    EXPECT_EQ(topK1.sample(logits.data()), expected);
    EXPECT_EQ(tinyTopP.sample(logits.data()), expected);
  }
}

TEST(SamplerTest, TopKRestrictsCandidates) {
  std::vector<float> logits = randomLogits(300, 11);
  std::vector<float> sorted = logits;
  std::sort(sorted.begin(), sorted.end(), std::greater<float>());
  Sampler sampler(sampling(5.0f, 10, 1.0f, 9), 300);
  for (int i = 0; i < 2000; ++i)
    EXPECT_GE(logits[sampler.sample(logits.data())], sorted[9]);
}

TEST(SamplerTest, MatchesSoftmaxDistribution) {
  std::vector<float> logits = {1.0f, 2.0f, 0.5f};
  for (float temperature : {1.0f, 0.5f, 2.0f}) {
    double z = 0, p[3];
    for (int i = 0; i < 3; ++i)
      z += p[i] = std::exp(logits[i] / temperature);
    Sampler sampler(sampling(temperature, 0, 1.0f, 123), 3);
    int counts[3] = {0, 0, 0};
    const int n = 20000;
    for (int i = 0; i < n; ++i)
      ++counts[sampler.sample(logits.data())];
    for (int i = 0; i < 3; ++i)
      EXPECT_NEAR(static_cast<double>(counts[i]) / n, p[i] / z, 0.02)
          << "token " << i << " temperature " << temperature;
  }
}

TEST(SamplerTest, TopPKeepsNucleus) {
  // Probabilities 0.5, 0.3, 0.2: top-p 0.7 keeps the first two, renormalized.
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  Sampler sampler(sampling(1.0f, 0, 0.7f, 5), 3);
  int counts[3] = {0, 0, 0};
  const int n = 20000;
  for (int i = 0; i < n; ++i)
    ++counts[sampler.sample(logits.data())];
  EXPECT_EQ(counts[2], 0);
  EXPECT_NEAR(counts[0] / double(n), 0.5 / 0.8, 0.02);
}

TEST(SamplerTest, InvalidOptionsThrow) {
  auto messageFor = [](SamplingOptions o) {
    return errorOf([&] { o.validate(); });
  };
  SamplingOptions o = sampling(0.0f, 0, 1.0f, 0);
  EXPECT_NE(messageFor(o).find("--temperature"), std::string::npos);
  o.temperature = -1.0f;
  EXPECT_NE(messageFor(o).find("--temperature"), std::string::npos);
  o.temperature = NAN;
  EXPECT_NE(messageFor(o).find("--temperature"), std::string::npos);
  o = sampling(1.0f, -1, 1.0f, 0);
  EXPECT_NE(messageFor(o).find("--top-k"), std::string::npos);
  o = sampling(1.0f, 0, 0.0f, 0);
  EXPECT_NE(messageFor(o).find("--top-p"), std::string::npos);
  o.topP = 1.5f;
  EXPECT_NE(messageFor(o).find("--top-p"), std::string::npos);
  o.topP = NAN;
  EXPECT_NE(messageFor(o).find("--top-p"), std::string::npos);
  EXPECT_NO_THROW(sampling(0.01f, 5, 1.0f, 0).validate());
  // The constructor validates too, and rejects an empty vocabulary.
  EXPECT_THROW(Sampler(sampling(1.0f, -2, 1.0f, 0), 10), Error);
  EXPECT_THROW(Sampler(SamplingOptions(), 0), Error);
}

} // namespace
