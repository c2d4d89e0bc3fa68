//===- Sampler.h - next-token selection from logits -------------*- C++ -*-===//
//
// Picks the next token from a row of logits: greedy argmax, or temperature
// sampling restricted by top-k and nucleus (top-p) filtering. A Sampler is
// created once per generation and sample() runs once per decoded token, so
// it preallocates all scratch space and never allocates while sampling.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_SAMPLER_H
#define KILN_RUNTIME_SAMPLER_H

#include <cstdint>
#include <random>
#include <vector>

namespace kiln::rt {

struct SamplingOptions {
  /// Argmax decoding; the other fields are then ignored (but validated).
  bool greedy = true;
  float temperature = 1.0f;
  /// Keep only the k most likely tokens; 0 disables the filter.
  int64_t topK = 0;
  /// Keep the smallest set of most likely tokens whose probability mass
  /// reaches topP; 1 disables the filter.
  float topP = 1.0f;
  uint64_t seed = 0;

  /// Throws Error naming the offending flag (--temperature, --top-k,
  /// --top-p) if a value is out of range.
  void validate() const;
};

/// The lowest index of the largest of `n` logits (what greedy decoding
/// picks). Throws Error if a logit is NaN.
int64_t argmaxOf(const float *logits, int64_t n);

class Sampler {
public:
  /// Validates `options` and allocates scratch space for `vocabSize` logits.
  Sampler(const SamplingOptions &options, int64_t vocabSize);

  /// Returns the chosen token id in [0, vocabSize). `logits` holds
  /// vocabSize floats. Throws Error if a logit is NaN or, when sampling,
  /// every logit is -inf. Deterministic for a given seed and call sequence.
  int64_t sample(const float *logits);

  const SamplingOptions &options() const { return opts; }
  int64_t vocabSize() const { return vocab; }

private:
  SamplingOptions opts;
  int64_t vocab;
  std::mt19937_64 rng;
  // Scratch, sized vocab once: candidate token ids and their weights.
  std::vector<int32_t> candidates;
  std::vector<float> weights;
};

} // namespace kiln::rt

#endif // KILN_RUNTIME_SAMPLER_H
