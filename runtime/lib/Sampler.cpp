//===- Sampler.cpp - next-token selection from logits -----------*- C++ -*-===//
//
// Ties between equal logits always go to the lowest token id, both in argmax
// and when ordering candidates, so greedy, top-k=1 and a tiny top-p agree.
// Random numbers are derived from the raw mt19937_64 output rather than a
// std:: distribution, whose algorithm differs between standard libraries.
//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/Sampler.h"

#include "kiln/runtime/Error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <string>

namespace kiln::rt {

namespace {

std::string formatFloat(float value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", static_cast<double>(value));
  return buffer;
}

} // namespace

void SamplingOptions::validate() const {
  if (!(temperature > 0.0f) || std::isinf(temperature))
    throw Error("--temperature must be a finite value > 0, got " +
                formatFloat(temperature));
  if (topK < 0)
    throw Error("--top-k must be >= 0 (0 disables it), got " +
                std::to_string(topK));
  if (!(topP > 0.0f && topP <= 1.0f))
    throw Error("--top-p must be in (0, 1], got " + formatFloat(topP));
}

Sampler::Sampler(const SamplingOptions &options, int64_t vocabSize)
    : opts(options), vocab(vocabSize), rng(options.seed) {
  options.validate();
  if (vocabSize <= 0 || vocabSize > std::numeric_limits<int32_t>::max())
    throw Error("sampler: invalid vocabulary size " +
                std::to_string(vocabSize));
  if (!opts.greedy) {
    candidates.resize(static_cast<size_t>(vocabSize));
    weights.resize(static_cast<size_t>(vocabSize));
  }
}

int64_t argmaxOf(const float *logits, int64_t n) {
  int64_t best = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(logits[i]))
      throw Error("sampler: logit " + std::to_string(i) + " is NaN");
    // Strictly greater keeps the lowest index on ties.
    if (best < 0 || logits[i] > logits[best])
      best = i;
  }
  return best;
}

int64_t Sampler::sample(const float *logits) {
  if (!logits)
    throw Error("sampler: null logits");
  if (opts.greedy)
    return argmaxOf(logits, vocab);

  // argmax also rejects NaN, which would poison every comparison below.
  float maxLogit = logits[argmaxOf(logits, vocab)];
  if (maxLogit == -std::numeric_limits<float>::infinity())
    throw Error("sampler: every logit is -inf");

  auto better = [logits](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::iota(candidates.begin(), candidates.end(), 0);
  size_t count = candidates.size();
  if (opts.topK > 0 && static_cast<uint64_t>(opts.topK) < count) {
    count = static_cast<size_t>(opts.topK);
    std::nth_element(candidates.begin(), candidates.begin() + count,
                     candidates.end(), better);
  }
  bool nucleus = opts.topP < 1.0f;
  // Only the nucleus needs candidates in descending order.
  if (nucleus)
    std::sort(candidates.begin(), candidates.begin() + count, better);

  // Unnormalized softmax(logits / T). If some logits are +inf they share
  // all the probability mass.
  bool infinite = std::isinf(maxLogit);
  double total = 0.0;
  for (size_t i = 0; i < count; ++i) {
    float logit = logits[candidates[i]];
    float weight = infinite ? (logit == maxLogit ? 1.0f : 0.0f)
                            : std::exp((logit - maxLogit) / opts.temperature);
    weights[i] = weight;
    total += weight;
  }

  if (nucleus) {
    double threshold = static_cast<double>(opts.topP) * total;
    double cumulative = 0.0;
    size_t kept = 0;
    while (kept < count) {
      cumulative += weights[kept++];
      if (cumulative >= threshold)
        break;
    }
    count = kept;
    total = cumulative;
  }

  // 53 random bits give a double uniform in [0, 1).
  double u = static_cast<double>(rng() >> 11) * 0x1p-53 * total;
  double cumulative = 0.0;
  size_t lastPositive = 0;
  for (size_t i = 0; i < count; ++i) {
    if (weights[i] <= 0.0f)
      continue;
    cumulative += weights[i];
    lastPositive = i;
    if (u < cumulative)
      return candidates[i];
  }
  // Rounding can leave u just above the final cumulative sum.
  return candidates[lastPositive];
}

} // namespace kiln::rt
