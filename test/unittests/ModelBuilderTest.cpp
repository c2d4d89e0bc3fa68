//===- ModelBuilderTest.cpp - tests of the decoder graph builder ----------===//
#include "kiln/Model/ModelBuilder.h"
#include "kiln/Dialect/LLM/IR/LLMOps.h"
#include "kiln/Pipelines/Pipelines.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace kiln;

namespace {

template <typename OpT> int countOps(Operation *root) {
  int n = 0;
  root->walk([&](OpT) { ++n; });
  return n;
}

std::string errorOf(const ModelConfig &cfg) {
  MLIRContext ctx;
  auto module = buildDecoderModule(ctx, cfg);
  if (module)
    return "";
  return llvm::toString(module.takeError());
}

TEST(ModelBuilder, TinyModelHasPrefillAndDecodeEntries) {
  MLIRContext ctx;
  ModelConfig cfg = ModelConfig::tiny();
  auto module = buildDecoderModule(ctx, cfg);
  ASSERT_TRUE(bool(module)) << llvm::toString(module.takeError());
  auto prefill = (*module)->lookupSymbol<func::FuncOp>(kPrefillFuncName);
  auto decode = (*module)->lookupSymbol<func::FuncOp>(kDecodeStepFuncName);
  ASSERT_TRUE(prefill);
  ASSERT_TRUE(decode);
  // ids, positions, kv_len, embedding, 9 weights per layer, final norm,
  // lm_head, two caches per layer, the argmax output.
  unsigned expectedArgs =
      3 + 1 + 9 * cfg.numLayers + 1 + 1 + 2 * cfg.numLayers + 1;
  EXPECT_EQ(prefill.getNumArguments(), expectedArgs);
  EXPECT_EQ(prefill.getNumResults(), 1u + 2 * cfg.numLayers + 1);
  // The greedy token is written into the last argument, [batch] i32.
  EXPECT_EQ(
      prefill.getArgAttrOfType<StringAttr>(expectedArgs - 1, kBindingAttrName)
          .getValue(),
      "output:argmax");
  EXPECT_EQ(prefill.getArgumentTypes().back(),
            RankedTensorType::get({ShapedType::kDynamic},
                                  IntegerType::get(&ctx, 32)));
  // The decode step has a static sequence length of 1.
  auto ids = cast<RankedTensorType>(decode.getArgumentTypes()[0]);
  EXPECT_EQ(ids.getDimSize(1), 1);
  EXPECT_TRUE(ids.isDynamicDim(0));
  EXPECT_EQ(
      prefill.getArgAttrOfType<StringAttr>(3, kBindingAttrName).getValue(),
      "model.embed_tokens.weight");
}

TEST(ModelBuilder, LayerBodyIsEmittedOnceAndCalledPerLayer) {
  MLIRContext ctx;
  ModelConfig cfg = ModelConfig::tiny();
  cfg.numLayers = 7;
  auto module = buildDecoderModule(ctx, cfg);
  ASSERT_TRUE(bool(module)) << llvm::toString(module.takeError());
  // Two layer functions (prefill and decode shapes), each with one
  // attention op; the entries only call them.
  EXPECT_EQ(countOps<llm::AttentionOp>(module->get()), 2);
  EXPECT_EQ(countOps<func::CallOp>(module->get()), 2 * 7);
  EXPECT_EQ(countOps<llm::LinearOp>(module->get()), 2 * 7);
}

TEST(ModelBuilder, TiedEmbeddingsAndBiasChangeTheSignature) {
  MLIRContext ctx;
  ModelConfig cfg = ModelConfig::tiny();
  cfg.tieWordEmbeddings = true;
  cfg.attentionBias = true;
  cfg.slidingWindow = 32;
  auto module = buildDecoderModule(ctx, cfg);
  ASSERT_TRUE(bool(module)) << llvm::toString(module.takeError());
  auto prefill = (*module)->lookupSymbol<func::FuncOp>(kPrefillFuncName);
  unsigned expectedArgs =
      3 + 1 + 12 * cfg.numLayers + 1 + 2 * cfg.numLayers + 1;
  EXPECT_EQ(prefill.getNumArguments(), expectedArgs);
  bool sawWindow = false;
  module->get()->walk([&](llm::AttentionOp op) {
    sawWindow = op.getSlidingWindow() == std::optional<uint64_t>(32);
  });
  EXPECT_TRUE(sawWindow);
}

TEST(ModelBuilder, InvalidConfigsNameTheField) {
  ModelConfig cfg = ModelConfig::tiny();
  cfg.numKvHeads = 3;
  EXPECT_NE(errorOf(cfg).find("num_key_value_heads"), std::string::npos);
  cfg = ModelConfig::tiny();
  cfg.headDim = 15;
  EXPECT_NE(errorOf(cfg).find("head_dim"), std::string::npos);
  cfg = ModelConfig::tiny();
  cfg.vocabSize = 0;
  EXPECT_NE(errorOf(cfg).find("vocab_size"), std::string::npos);
  cfg = ModelConfig::tiny();
  cfg.rmsNormEps = 0;
  EXPECT_NE(errorOf(cfg).find("rms_norm_eps"), std::string::npos);
  cfg = ModelConfig::tiny();
  cfg.slidingWindow = 0;
  EXPECT_NE(errorOf(cfg).find("sliding_window"), std::string::npos);
}

TEST(ModelBuilder, BuiltinNames) {
  EXPECT_TRUE(bool(ModelConfig::builtin("tiny")));
  auto bad = ModelConfig::builtin("gpt-17");
  ASSERT_FALSE(bool(bad));
  EXPECT_NE(llvm::toString(bad.takeError()).find("gpt-17"), std::string::npos);
  ModelConfig big = ModelConfig::llama3_8b();
  EXPECT_NEAR(double(big.numParameters()), 8.03e9, 0.01e9);
}

TEST(ModelBuilder, TinyModelLowersThroughTheCpuPipeline) {
  registerKilnPassesAndPipelines();
  DialectRegistry registry;
  registerKilnDialects(registry);
  MLIRContext ctx(registry);
  for (DType dtype : {DType::F32, DType::BF16}) {
    ModelConfig cfg = ModelConfig::tiny();
    cfg.dtype = dtype;
    auto module = buildDecoderModule(ctx, cfg);
    ASSERT_TRUE(bool(module)) << llvm::toString(module.takeError());
    PassManager pm(&ctx);
    buildCpuPipeline(pm);
    ASSERT_TRUE(succeeded(pm.run(**module))) << dtypeName(dtype);
    // Only LLVM dialect ops remain.
    bool onlyLLVM = true;
    (*module)->walk([&](Operation *op) {
      if (op == module->get().getOperation())
        return;
      if (op->getDialect()->getNamespace() != "llvm")
        onlyLLVM = false;
    });
    EXPECT_TRUE(onlyLLVM) << dtypeName(dtype);
  }
}

} // namespace
