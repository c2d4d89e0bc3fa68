//===- HuggingFaceConfig.cpp - read a model directory's config.json -------===//
#include "kiln/Model/HuggingFaceConfig.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace kiln;

namespace {
/// Keys Kiln knows: the ones it reads, and the ones that never change the
/// graph (tokenizer ids, training settings, bookkeeping). Any other key
/// gets a warning.
const char *const kKnownKeys[] = {"_name_or_path",
                                  "transformers_version",
                                  "torch_dtype",
                                  "dtype",
                                  "bos_token_id",
                                  "eos_token_id",
                                  "pad_token_id",
                                  "initializer_range",
                                  "use_cache",
                                  "attention_dropout",
                                  "model_type",
                                  "pretraining_tp",
                                  "hidden_act",
                                  "attention_bias",
                                  "mlp_bias",
                                  "rope_scaling",
                                  "architectures",
                                  "max_window_layers",
                                  "use_sliding_window",
                                  "sliding_window",
                                  "output_attentions",
                                  "output_hidden_states",
                                  "return_dict",
                                  "tokenizer_class",
                                  "auto_map",
                                  "quantization_config",
                                  "head_dim",
                                  "num_key_value_heads",
                                  "tie_word_embeddings",
                                  "rope_theta",
                                  "rms_norm_eps",
                                  "hidden_size",
                                  "intermediate_size",
                                  "num_hidden_layers",
                                  "num_attention_heads",
                                  "vocab_size",
                                  "max_position_embeddings",
                                  "bad_words_ids",
                                  "decoder_start_token_id",
                                  "task_specific_params",
                                  "id2label",
                                  "label2id",
                                  "problem_type",
                                  "is_decoder",
                                  "is_encoder_decoder",
                                  "tie_encoder_decoder",
                                  "chunk_size_feed_forward",
                                  "finetuning_task",
                                  "prefix",
                                  "sep_token_id",
                                  "cross_attention_hidden_size",
                                  "add_cross_attention",
                                  "return_dict_in_generate",
                                  "torchscript",
                                  "use_bfloat16",
                                  "pruned_heads"};

class ConfigReader {
public:
  ConfigReader(const llvm::json::Object &obj, llvm::StringRef source)
      : obj(obj), source(source) {}

  llvm::Error error(llvm::StringRef field, const llvm::Twine &msg) const {
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("{0}: field '{1}': {2}", source, field, msg.str()).str());
  }

  /// A required (or defaulted) integer field.
  llvm::Error getInt(llvm::StringRef field, int64_t &out,
                     std::optional<int64_t> fallback = std::nullopt) const {
    const llvm::json::Value *v = obj.get(field);
    if (!v || v->kind() == llvm::json::Value::Null) {
      if (fallback) {
        out = *fallback;
        return llvm::Error::success();
      }
      return error(field, "missing (required)");
    }
    std::optional<int64_t> i = v->getAsInteger();
    if (!i)
      return error(field, "expected an integer");
    out = *i;
    return llvm::Error::success();
  }

  llvm::Error getNumber(llvm::StringRef field, double &out,
                        double fallback) const {
    const llvm::json::Value *v = obj.get(field);
    if (!v || v->kind() == llvm::json::Value::Null) {
      out = fallback;
      return llvm::Error::success();
    }
    std::optional<double> d = v->getAsNumber();
    if (!d)
      return error(field, "expected a number");
    out = *d;
    return llvm::Error::success();
  }

  llvm::Error getBool(llvm::StringRef field, bool &out, bool fallback) const {
    const llvm::json::Value *v = obj.get(field);
    if (!v || v->kind() == llvm::json::Value::Null) {
      out = fallback;
      return llvm::Error::success();
    }
    std::optional<bool> b = v->getAsBoolean();
    if (!b)
      return error(field, "expected true or false");
    out = *b;
    return llvm::Error::success();
  }

private:
  const llvm::json::Object &obj;
  llvm::StringRef source;
};
} // namespace

/// "rope_scaling": {"rope_type" (or "type"): "llama3", "factor",
/// "low_freq_factor", "high_freq_factor",
/// "original_max_position_embeddings"}. Other types are refused.
static llvm::Error parseRopeScaling(const llvm::json::Value &value,
                                    llvm::StringRef source, ModelConfig &c) {
  std::string where = (source + ": rope_scaling").str();
  auto error = [&](llvm::StringRef field, const llvm::Twine &msg) {
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("{0}: field 'rope_scaling{1}': {2}", source, field,
                      msg.str())
            .str());
  };
  const llvm::json::Object *obj = value.getAsObject();
  if (!obj)
    return error("", "expected an object or null");
  std::optional<llvm::StringRef> type = obj->getString("rope_type");
  if (!type)
    type = obj->getString("type");
  if (!type)
    return error(".rope_type", "missing");
  if (*type != "llama3")
    return error(".rope_type",
                 llvm::formatv("unsupported RoPE scaling type '{0}' "
                               "(supported: llama3)",
                               *type));
  ConfigReader r(*obj, where);
  Llama3RopeScaling scaling;
  if (llvm::Error e = r.getNumber("factor", scaling.factor, 8.0))
    return e;
  if (llvm::Error e =
          r.getNumber("low_freq_factor", scaling.lowFreqFactor, 1.0))
    return e;
  if (llvm::Error e =
          r.getNumber("high_freq_factor", scaling.highFreqFactor, 4.0))
    return e;
  if (llvm::Error e = r.getInt("original_max_position_embeddings",
                               scaling.originalMaxPositionEmbeddings, 8192))
    return e;
  c.ropeScaling = scaling;
  return llvm::Error::success();
}

llvm::Expected<ModelConfig> kiln::parseHuggingFaceConfig(
    llvm::StringRef json, llvm::StringRef source,
    llvm::function_ref<void(const llvm::Twine &)> warn) {
  llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(json);
  if (!parsed)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("{0}: not valid JSON: {1}", source,
                      llvm::toString(parsed.takeError()))
            .str());
  const llvm::json::Object *obj = parsed->getAsObject();
  if (!obj)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("{0}: expected a JSON object", source).str());
  ConfigReader r(*obj, source);

  // The architecture decides the graph. Each supported one is a LLaMA
  // decoder with its own extras: Qwen2 has q/k/v biases, Mistral a sliding
  // attention window.
  struct Architecture {
    llvm::StringLiteral name, modelType;
  };
  static const Architecture kArchitectures[] = {
      {"LlamaForCausalLM", "llama"},
      {"Qwen2ForCausalLM", "qwen2"},
      {"MistralForCausalLM", "mistral"},
      {"Qwen3ForCausalLM", "qwen3"}};
  const llvm::json::Array *archs = obj->getArray("architectures");
  if (!archs || archs->empty() || !(*archs)[0].getAsString())
    return r.error("architectures",
                   "missing: expected e.g. [\"LlamaForCausalLM\"]");
  llvm::StringRef archName = *(*archs)[0].getAsString();
  const Architecture *arch = nullptr;
  for (const Architecture &a : kArchitectures)
    if (a.name == archName)
      arch = &a;
  if (!arch)
    return r.error("architectures",
                   llvm::formatv("unsupported architecture '{0}' (supported: "
                                 "LlamaForCausalLM, Qwen2ForCausalLM, "
                                 "MistralForCausalLM, Qwen3ForCausalLM)",
                                 archName));
  if (std::optional<llvm::StringRef> type = obj->getString("model_type"))
    if (*type != arch->modelType)
      return r.error("model_type",
                     llvm::formatv("'{0}' does not match {1} (expected "
                                   "'{2}')",
                                   *type, arch->name, arch->modelType));

  ModelConfig c;
  c.architecture = arch->name.str();
  c.name =
      llvm::sys::path::filename(llvm::sys::path::parent_path(source)).str();
  if (c.name.empty())
    c.name = "model";
  if (llvm::Error e = r.getInt("hidden_size", c.hiddenSize))
    return std::move(e);
  if (llvm::Error e = r.getInt("intermediate_size", c.intermediateSize))
    return std::move(e);
  if (llvm::Error e = r.getInt("num_hidden_layers", c.numLayers))
    return std::move(e);
  if (llvm::Error e = r.getInt("num_attention_heads", c.numHeads))
    return std::move(e);
  if (llvm::Error e = r.getInt("num_key_value_heads", c.numKvHeads, c.numHeads))
    return std::move(e);
  if (c.numHeads > 0 && c.hiddenSize % c.numHeads != 0 && !obj->get("head_dim"))
    return r.error("head_dim", "missing, and hidden_size is not a multiple of "
                               "num_attention_heads");
  if (llvm::Error e = r.getInt("head_dim", c.headDim,
                               c.numHeads > 0 ? c.hiddenSize / c.numHeads : 0))
    return std::move(e);
  if (llvm::Error e = r.getInt("vocab_size", c.vocabSize))
    return std::move(e);
  if (llvm::Error e =
          r.getInt("max_position_embeddings", c.maxPositionEmbeddings))
    return std::move(e);
  if (llvm::Error e = r.getNumber("rms_norm_eps", c.rmsNormEps, 1e-6))
    return std::move(e);
  if (llvm::Error e = r.getNumber("rope_theta", c.ropeTheta, 10000.0))
    return std::move(e);
  if (llvm::Error e =
          r.getBool("tie_word_embeddings", c.tieWordEmbeddings, false))
    return std::move(e);

  // Graph-changing fields Kiln does not implement yet: refuse, never ignore.
  if (std::optional<llvm::StringRef> act = obj->getString("hidden_act")) {
    if (*act != "silu")
      return r.error("hidden_act",
                     llvm::formatv("unsupported activation '{0}' (supported: "
                                   "silu)",
                                   *act));
  } else if (obj->get("hidden_act")) {
    return r.error("hidden_act", "expected a string");
  }
  // Llama's attention_bias also adds an o_proj bias, which the graph lacks.
  for (const char *field : {"attention_bias", "mlp_bias"}) {
    bool on = false;
    if (llvm::Error e = r.getBool(field, on, false))
      return std::move(e);
    if (on)
      return r.error(
          field, llvm::formatv("biases are not supported for {0}", arch->name));
  }
  if (arch->modelType == "qwen3") {
    c.qkNorm = true;
    // Qwen3Config's default head_dim (128) is not hidden/heads: require it.
    if (!obj->get("head_dim"))
      return r.error("head_dim", "missing (required for Qwen3ForCausalLM)");
  }
  if (arch->modelType == "qwen2" || arch->modelType == "qwen3") {
    c.attentionBias = arch->modelType == "qwen2";
    bool perLayerWindows = false;
    if (llvm::Error e = r.getBool("use_sliding_window", perLayerWindows, false))
      return std::move(e);
    if (perLayerWindows)
      return r.error("use_sliding_window",
                     llvm::formatv("{0}'s per-layer sliding windows are not "
                                   "supported",
                                   arch->name));
  }
  if (arch->modelType == "mistral") {
    const llvm::json::Value *window = obj->get("sliding_window");
    if (window && window->kind() != llvm::json::Value::Null) {
      std::optional<int64_t> w = window->getAsInteger();
      if (!w)
        return r.error("sliding_window", "expected an integer or null");
      c.slidingWindow = *w;
    }
  }
  if (arch->modelType == "llama")
    if (const llvm::json::Value *window = obj->get("sliding_window");
        window && window->kind() != llvm::json::Value::Null)
      warn(llvm::formatv("{0}: ignoring 'sliding_window': {1} attends to "
                         "every earlier position (as in transformers)",
                         source, arch->name));
  if (const llvm::json::Value *scaling = obj->get("rope_scaling");
      scaling && scaling->kind() != llvm::json::Value::Null) {
    if (llvm::Error e = parseRopeScaling(*scaling, source, c))
      return std::move(e);
  }
  int64_t tp = 1;
  if (llvm::Error e = r.getInt("pretraining_tp", tp, 1))
    return std::move(e);
  if (tp != 1)
    return r.error("pretraining_tp", "only 1 is supported");
  if (const llvm::json::Value *q = obj->get("quantization_config"))
    if (q->kind() != llvm::json::Value::Null)
      return r.error("quantization_config",
                     "quantized checkpoints are not supported");

  llvm::StringSet<> known;
  for (const char *key : kKnownKeys)
    known.insert(key);
  for (const auto &kv : *obj)
    if (!known.contains(kv.first))
      warn(llvm::formatv("{0}: ignoring unknown field '{1}'", source,
                         kv.first.str()));

  if (llvm::Error e = c.validate())
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("{0}: {1}", source, llvm::toString(std::move(e))).str());
  return c;
}

llvm::Expected<ModelConfig> kiln::loadHuggingFaceConfig(
    llvm::StringRef modelDir,
    llvm::function_ref<void(const llvm::Twine &)> warn) {
  llvm::SmallString<256> path(modelDir);
  llvm::sys::path::append(path, "config.json");
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return llvm::createStringError(
        buffer.getError(), llvm::formatv("{0}: cannot read: {1}", path.str(),
                                         buffer.getError().message())
                               .str());
  return parseHuggingFaceConfig((*buffer)->getBuffer(), path, warn);
}
