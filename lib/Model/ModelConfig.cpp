//===- ModelConfig.cpp - decoder model hyper-parameters -------------------===//
#include "kiln/Model/ModelConfig.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace kiln;

const char *kiln::dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "f32";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  }
  return "?";
}

std::optional<DType> kiln::parseDType(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<DType>>(name)
      .Case("f32", DType::F32)
      .Case("f16", DType::F16)
      .Case("bf16", DType::BF16)
      .Default(std::nullopt);
}

static llvm::Error fieldError(llvm::StringRef field, const llvm::Twine &msg) {
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      llvm::formatv("model config field '{0}': {1}", field, msg.str()).str());
}

llvm::Error ModelConfig::validate() const {
  struct Positive {
    const char *field;
    int64_t value;
  } positives[] = {{"hidden_size", hiddenSize},
                   {"intermediate_size", intermediateSize},
                   {"num_hidden_layers", numLayers},
                   {"num_attention_heads", numHeads},
                   {"num_key_value_heads", numKvHeads},
                   {"head_dim", headDim},
                   {"vocab_size", vocabSize},
                   {"max_position_embeddings", maxPositionEmbeddings}};
  for (const Positive &p : positives)
    if (p.value <= 0)
      return fieldError(p.field,
                        llvm::formatv("must be positive, got {0}", p.value));
  if (numHeads % numKvHeads != 0)
    return fieldError("num_key_value_heads",
                      llvm::formatv("num_attention_heads ({0}) must be a "
                                    "multiple of it ({1})",
                                    numHeads, numKvHeads));
  if (headDim % 2 != 0)
    return fieldError("head_dim",
                      llvm::formatv("must be even for rotary embeddings, "
                                    "got {0}",
                                    headDim));
  if (!(rmsNormEps > 0))
    return fieldError("rms_norm_eps", "must be positive");
  if (!(ropeTheta > 0))
    return fieldError("rope_theta", "must be positive");
  if (ropeScaling) {
    const Llama3RopeScaling &rs = *ropeScaling;
    if (!(rs.factor > 0))
      return fieldError("rope_scaling.factor", "must be positive");
    if (!(rs.lowFreqFactor > 0) || !(rs.highFreqFactor > rs.lowFreqFactor))
      return fieldError("rope_scaling.high_freq_factor",
                        "must be greater than low_freq_factor (> 0)");
    if (rs.originalMaxPositionEmbeddings <= 0)
      return fieldError("rope_scaling.original_max_position_embeddings",
                        "must be positive");
  }
  if (slidingWindow && *slidingWindow <= 0)
    return fieldError(
        "sliding_window",
        llvm::formatv("must be positive, got {0}", *slidingWindow));
  return llvm::Error::success();
}

std::vector<double> ModelConfig::ropeInverseFrequencies() const {
  if (!ropeScaling)
    return {};
  // transformers' _compute_llama3_parameters.
  const Llama3RopeScaling &s = *ropeScaling;
  double oldContext = static_cast<double>(s.originalMaxPositionEmbeddings);
  double lowFreqWavelen = oldContext / s.lowFreqFactor;
  double highFreqWavelen = oldContext / s.highFreqFactor;
  std::vector<double> invFreq;
  for (int64_t i = 0; i < headDim / 2; ++i) {
    double f = std::pow(ropeTheta, -2.0 * i / static_cast<double>(headDim));
    double wavelen = 2.0 * M_PI / f;
    if (wavelen > lowFreqWavelen) {
      f /= s.factor;
    } else if (wavelen >= highFreqWavelen) {
      double smooth = (oldContext / wavelen - s.lowFreqFactor) /
                      (s.highFreqFactor - s.lowFreqFactor);
      f = (1.0 - smooth) * f / s.factor + smooth * f;
    }
    invFreq.push_back(f);
  }
  return invFreq;
}

int64_t ModelConfig::numParameters() const {
  int64_t qDim = numHeads * headDim, kvDim = numKvHeads * headDim;
  int64_t attention =
      hiddenSize * qDim + 2 * hiddenSize * kvDim + qDim * hiddenSize +
      (attentionBias ? qDim + 2 * kvDim : 0) + (qkNorm ? 2 * headDim : 0);
  int64_t mlp = 3 * hiddenSize * intermediateSize;
  int64_t perLayer = attention + mlp + 2 * hiddenSize;
  int64_t embeddings = vocabSize * hiddenSize * (tieWordEmbeddings ? 1 : 2);
  return numLayers * perLayer + embeddings + hiddenSize;
}

ModelConfig ModelConfig::tiny() {
  ModelConfig c;
  c.name = "tiny";
  c.hiddenSize = 64;
  c.intermediateSize = 176;
  c.numLayers = 2;
  c.numHeads = 4;
  c.numKvHeads = 2;
  c.headDim = 16;
  c.vocabSize = 256;
  c.maxPositionEmbeddings = 256;
  c.rmsNormEps = 1e-5;
  c.ropeTheta = 10000.0;
  c.tieWordEmbeddings = false;
  c.dtype = DType::F32;
  return c;
}

ModelConfig ModelConfig::llama3_8b() {
  ModelConfig c;
  c.name = "llama3-8b";
  c.hiddenSize = 4096;
  c.intermediateSize = 14336;
  c.numLayers = 32;
  c.numHeads = 32;
  c.numKvHeads = 8;
  c.headDim = 128;
  c.vocabSize = 128256;
  c.maxPositionEmbeddings = 8192;
  c.rmsNormEps = 1e-5;
  c.ropeTheta = 500000.0;
  c.tieWordEmbeddings = false;
  c.dtype = DType::BF16;
  return c;
}

std::vector<std::string> ModelConfig::builtinNames() {
  return {"tiny", "llama3-8b"};
}

llvm::Expected<ModelConfig> ModelConfig::builtin(llvm::StringRef name) {
  if (name == "tiny")
    return tiny();
  if (name == "llama3-8b")
    return llama3_8b();
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      llvm::formatv("unknown built-in model '{0}' (known: tiny, llama3-8b)",
                    name)
          .str());
}
