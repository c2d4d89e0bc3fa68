//===- Manifest.cpp - the artifact's manifest ---------------------------===//
#include "kiln/Artifact/Artifact.h"
#include "kiln/Model/ModelBuilder.h"

#include "kiln/runtime/ArtifactFormat.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace kiln;

static llvm::Error makeError(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg.str());
}

static std::optional<std::string> dtypeOf(Type type) {
  if (type.isF32())
    return "f32";
  if (type.isF16())
    return "f16";
  if (type.isBF16())
    return "bf16";
  if (type.isInteger(32))
    return "i32";
  if (type.isInteger(64))
    return "i64";
  return std::nullopt;
}

/// Names of the dynamic dimensions of a binding, outermost first.
static llvm::SmallVector<llvm::StringRef>
dynamicDimNames(llvm::StringRef binding) {
  if (binding.starts_with("input:") || binding.starts_with("output:"))
    return {"batch", "seq"};
  if (binding.starts_with("kv_cache:"))
    return {"batch", "context"};
  return {};
}

static llvm::Expected<llvm::json::Object>
describeValue(Type type, llvm::StringRef binding) {
  llvm::json::Object desc{{"binding", binding}};
  if (type.isIndex()) {
    desc["kind"] = "index";
    return desc;
  }
  auto shaped = dyn_cast<RankedTensorType>(type);
  std::optional<std::string> dtype =
      shaped ? dtypeOf(shaped.getElementType()) : std::nullopt;
  if (!dtype)
    return makeError(llvm::formatv("binding '{0}': unsupported type for the "
                                   "runtime",
                                   binding));
  desc["kind"] = "tensor";
  desc["dtype"] = *dtype;
  llvm::SmallVector<llvm::StringRef> names = dynamicDimNames(binding);
  llvm::json::Array shape;
  size_t nextName = 0;
  for (int64_t dim : shaped.getShape()) {
    if (!ShapedType::isDynamic(dim)) {
      shape.push_back(dim);
      continue;
    }
    if (nextName >= names.size())
      return makeError(llvm::formatv("binding '{0}': unexpected dynamic "
                                     "dimension",
                                     binding));
    shape.push_back(names[nextName++]);
  }
  desc["shape"] = std::move(shape);
  return desc;
}

llvm::Expected<llvm::json::Object>
kiln::buildManifest(ModuleOp llmModule, const ModelConfig &config,
                    llvm::json::Object target) {
  llvm::json::Array entries;
  llvm::json::Array weights;
  llvm::StringSet<> seenWeights;
  for (auto fn : llmModule.getOps<func::FuncOp>()) {
    if (!fn->hasAttr(kEntryAttrName))
      continue;
    llvm::json::Array args;
    for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i) {
      auto binding = fn.getArgAttrOfType<StringAttr>(i, kBindingAttrName);
      if (!binding)
        return makeError(llvm::formatv("entry '{0}': argument {1} has no '{2}'",
                                       fn.getName(), i, kBindingAttrName));
      llvm::Expected<llvm::json::Object> desc =
          describeValue(fn.getArgumentTypes()[i], binding.getValue());
      if (!desc)
        return desc.takeError();
      llvm::StringRef name = binding.getValue();
      if (isWeightBinding(name) && seenWeights.insert(name).second)
        weights.push_back(llvm::json::Object{{"name", name},
                                             {"dtype", (*desc)["dtype"]},
                                             {"shape", (*desc)["shape"]}});
      args.push_back(std::move(*desc));
    }
    if (fn.getNumResults() < 1)
      return makeError("entry '" + fn.getName() + "' returns nothing");
    // Only the logits survive bufferization as a result: the caches and
    // the argmax are written in place (kiln-bufferize drops them).
    llvm::Expected<llvm::json::Object> result =
        describeValue(fn.getResultTypes()[0], "output:logits");
    if (!result)
      return result.takeError();
    entries.push_back(llvm::json::Object{
        {"name", fn.getName()},
        {"symbol", (artifact::kEntrySymbolPrefix + fn.getName()).str()},
        {"args", std::move(args)},
        {"result", std::move(*result)}});
  }
  if (entries.empty())
    return makeError("the module has no entry point");

  llvm::json::Object model{
      {"architecture", config.architecture},
      {"name", config.name},
      {"hidden_size", config.hiddenSize},
      {"intermediate_size", config.intermediateSize},
      {"num_hidden_layers", config.numLayers},
      {"num_attention_heads", config.numHeads},
      {"num_key_value_heads", config.numKvHeads},
      {"head_dim", config.headDim},
      {"vocab_size", config.vocabSize},
      {"max_position_embeddings", config.maxPositionEmbeddings},
      {"rms_norm_eps", config.rmsNormEps},
      {"rope_theta", config.ropeTheta},
      {"tie_word_embeddings", config.tieWordEmbeddings},
      {"num_parameters", config.numParameters()}};
  if (config.slidingWindow)
    model["sliding_window"] = *config.slidingWindow;

  llvm::json::Object kvCache{
      {"layers", config.numLayers},
      {"dtype", dtypeName(config.dtype)},
      {"shape", llvm::json::Array{"batch", "context", config.numKvHeads,
                                  config.headDim}},
      {"binding_format", "kv_cache:<layer>:k|v"}};

  return llvm::json::Object{
      {"format", "kiln-artifact"},
      {"format_version", artifact::kFormatVersion},
      {"producer", "kiln-compile"},
      {"dtype", dtypeName(config.dtype)},
      {"model", std::move(model)},
      {"target", std::move(target)},
      {"entries", std::move(entries)},
      {"weights", std::move(weights)},
      {"kv_cache", std::move(kvCache)},
      // Intermediates are allocated through the kernels' allocation hooks;
      // the runtime serves them from a pool sized by a decode step at the
      // maximum context before generation starts.
      {"workspace",
       llvm::json::Object{{"kind", "pool"},
                          {"sizing", "decode step at max context"}}}};
}

llvm::json::Object kiln::cpuTargetManifest(const CpuTarget &target) {
  return llvm::json::Object{{"kind", "cpu"},
                            {"section", artifact::kCpuSharedObjectSection},
                            {"triple", target.triple},
                            {"cpu", target.cpu},
                            {"features", target.features}};
}
