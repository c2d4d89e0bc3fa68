//===- GenerationConfig.h - a model's generation defaults -------*- C++ -*-===//
//
// What a Hugging Face model directory says about generation:
// generation_config.json (end-of-sequence ids, do_sample, temperature,
// top_k, top_p), falling back to config.json's eos_token_id.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_GENERATIONCONFIG_H
#define KILN_RUNTIME_GENERATIONCONFIG_H

#include "kiln/runtime/Sampler.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln::rt {

struct GenerationDefaults {
  std::vector<int32_t> eosTokenIds;
  std::optional<bool> doSample;
  std::optional<float> temperature;
  std::optional<int64_t> topK;
  std::optional<float> topP;

  /// `options` with the model's sampling settings applied (do_sample false
  /// means greedy); the seed is kept.
  SamplingOptions apply(SamplingOptions options) const;
};

/// Reads MODEL_DIR/generation_config.json and config.json (both optional);
/// malformed files or fields are an Error naming the file and field.
GenerationDefaults loadGenerationDefaults(const std::string &modelDir);

} // namespace kiln::rt

#endif // KILN_RUNTIME_GENERATIONCONFIG_H
