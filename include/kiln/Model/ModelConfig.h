//===- ModelConfig.h - decoder model hyper-parameters -----------*- C++ -*-===//
#ifndef KILN_MODEL_MODELCONFIG_H
#define KILN_MODEL_MODELCONFIG_H

#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

enum class DType { F32, F16, BF16 };

/// "f32", "f16" or "bf16".
const char *dtypeName(DType dtype);
std::optional<DType> parseDType(llvm::StringRef name);

/// Llama 3's RoPE scaling (config.json "rope_scaling" with rope_type
/// "llama3"): low frequencies are divided by `factor`, high ones kept, and
/// the band between blended.
struct Llama3RopeScaling {
  double factor = 8.0;
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  int64_t originalMaxPositionEmbeddings = 8192;
};

/// The hyper-parameters that shape a LLaMA-family decoder graph (the fields
/// of a Hugging Face config.json that change the graph).
struct ModelConfig {
  std::string name = "custom";
  /// The Hugging Face architecture (config.json "architectures"[0]).
  std::string architecture = "LlamaForCausalLM";
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;
  int64_t vocabSize = 0;
  int64_t maxPositionEmbeddings = 0;
  double rmsNormEps = 1e-5;
  double ropeTheta = 10000.0;
  bool tieWordEmbeddings = false;
  /// Bias on the q/k/v projections (Qwen2).
  bool attentionBias = false;
  /// RMSNorm of every query and key head before RoPE (Qwen3).
  bool qkNorm = false;
  /// RoPE scaling; none: plain theta^(-2i/head_dim) frequencies.
  std::optional<Llama3RopeScaling> ropeScaling;
  /// Mistral-style sliding-window attention.
  std::optional<int64_t> slidingWindow;
  DType dtype = DType::F32;

  /// Checks every field; the error names the offending field.
  llvm::Error validate() const;

  /// The RoPE inverse frequencies (head_dim/2 values) when they differ from
  /// theta^(-2i/head_dim), i.e. with RoPE scaling; empty otherwise.
  std::vector<double> ropeInverseFrequencies() const;

  /// Number of parameters (weights) of the model.
  int64_t numParameters() const;

  /// A tiny LLaMA-shaped model (2 layers, hidden 64, GQA 4/2) used as the
  /// embedded default and in tests.
  static ModelConfig tiny();
  /// Llama-3-8B-shaped: 32 layers, hidden 4096, 32/8 heads, 14336, 128256.
  static ModelConfig llama3_8b();
  /// The names accepted by `builtin()`.
  static std::vector<std::string> builtinNames();
  /// One of the built-in configs by name.
  static llvm::Expected<ModelConfig> builtin(llvm::StringRef name);
};

} // namespace kiln

#endif // KILN_MODEL_MODELCONFIG_H
