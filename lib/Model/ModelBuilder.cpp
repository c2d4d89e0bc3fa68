//===- ModelBuilder.cpp - emit the llm graph of a decoder -----------------===//
#include "kiln/Model/ModelBuilder.h"
#include "kiln/Dialect/LLM/IR/LLMOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

#include <cmath>

using namespace mlir;
using namespace kiln;

namespace {
constexpr int64_t kDyn = ShapedType::kDynamic;

/// One weight of a layer: its Hugging Face name suffix and shape.
struct WeightSpec {
  std::string name;
  SmallVector<int64_t> shape;
};

class DecoderBuilder {
public:
  DecoderBuilder(MLIRContext &ctx, const ModelConfig &cfg)
      : cfg(cfg), b(&ctx), loc(UnknownLoc::get(&ctx)) {
    switch (cfg.dtype) {
    case DType::F32:
      elem = b.getF32Type();
      break;
    case DType::F16:
      elem = b.getF16Type();
      break;
    case DType::BF16:
      elem = b.getBF16Type();
      break;
    }
  }

  OwningOpRef<ModuleOp> build() {
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
    module->setSymNameAttr(b.getStringAttr(cfg.name));
    b.setInsertionPointToEnd(module->getBody());
    func::FuncOp prefillLayer = buildLayer("kiln_layer_prefill", kDyn);
    func::FuncOp decodeLayer = buildLayer("kiln_layer_decode", 1);
    b.setInsertionPointToEnd(module->getBody());
    buildEntry(kPrefillFuncName, kDyn, prefillLayer);
    buildEntry(kDecodeStepFuncName, 1, decodeLayer);
    return module;
  }

private:
  RankedTensorType tensor(ArrayRef<int64_t> shape, Type t = {}) {
    return RankedTensorType::get(shape, t ? t : elem);
  }
  RankedTensorType cacheType() {
    return tensor({kDyn, kDyn, cfg.numKvHeads, cfg.headDim});
  }

  SmallVector<WeightSpec> layerWeights() {
    int64_t h = cfg.hiddenSize, qDim = cfg.numHeads * cfg.headDim,
            kvDim = cfg.numKvHeads * cfg.headDim, inter = cfg.intermediateSize;
    SmallVector<WeightSpec> w = {{"input_layernorm.weight", {h}},
                                 {"self_attn.q_proj.weight", {qDim, h}},
                                 {"self_attn.k_proj.weight", {kvDim, h}},
                                 {"self_attn.v_proj.weight", {kvDim, h}}};
    if (cfg.attentionBias) {
      w.push_back({"self_attn.q_proj.bias", {qDim}});
      w.push_back({"self_attn.k_proj.bias", {kvDim}});
      w.push_back({"self_attn.v_proj.bias", {kvDim}});
    }
    if (cfg.qkNorm) {
      w.push_back({"self_attn.q_norm.weight", {cfg.headDim}});
      w.push_back({"self_attn.k_norm.weight", {cfg.headDim}});
    }
    w.append({{"self_attn.o_proj.weight", {h, qDim}},
              {"post_attention_layernorm.weight", {h}},
              {"mlp.gate_proj.weight", {inter, h}},
              {"mlp.up_proj.weight", {inter, h}},
              {"mlp.down_proj.weight", {h, inter}}});
    return w;
  }

  Value linear(Value x, Value w, Value bias, int64_t seq, int64_t out) {
    return llm::LinearOp::create(b, loc, tensor({kDyn, seq, out}), x, w, bias);
  }

  /// [b, s, heads * head_dim] -> [b, s, heads, head_dim]
  Value splitHeads(Value x, int64_t seq, int64_t heads) {
    OpFoldResult batch = tensor::getMixedSize(b, loc, x, 0);
    OpFoldResult seqLen = tensor::getMixedSize(b, loc, x, 1);
    return tensor::ExpandShapeOp::create(
        b, loc, tensor({kDyn, seq, heads, cfg.headDim}), x,
        ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}},
        ArrayRef<OpFoldResult>{batch, seqLen, b.getIndexAttr(heads),
                               b.getIndexAttr(cfg.headDim)});
  }

  /// The transformer block, emitted once and called for every layer:
  ///   (hidden, positions, kv_len, weights..., k_cache, v_cache)
  ///     -> (hidden, k_cache, v_cache)
  func::FuncOp buildLayer(StringRef name, int64_t seq) {
    int64_t h = cfg.hiddenSize;
    auto hiddenType = tensor({kDyn, seq, h});
    auto posType = tensor({kDyn, seq}, b.getI32Type());
    SmallVector<Type> inputs = {hiddenType, posType, b.getIndexType()};
    for (const WeightSpec &w : layerWeights())
      inputs.push_back(tensor(w.shape));
    inputs.append({cacheType(), cacheType()});
    auto type =
        b.getFunctionType(inputs, {hiddenType, cacheType(), cacheType()});
    auto fn = func::FuncOp::create(b, loc, name, type);
    fn.setPrivate();
    Block *body = fn.addEntryBlock();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(body);

    ArrayRef<BlockArgument> args = body->getArguments();
    Value hidden = args[0], positions = args[1], kvLen = args[2];
    unsigned i = 3;
    Value inNorm = args[i++], wq = args[i++], wk = args[i++], wv = args[i++];
    Value bq, bk, bv;
    if (cfg.attentionBias) {
      bq = args[i++];
      bk = args[i++];
      bv = args[i++];
    }
    Value qNorm, kNorm;
    if (cfg.qkNorm) {
      qNorm = args[i++];
      kNorm = args[i++];
    }
    Value wo = args[i++], postNorm = args[i++], wGate = args[i++],
          wUp = args[i++], wDown = args[i++];
    Value kCache = args[i++], vCache = args[i++];

    auto eps = b.getF32FloatAttr(cfg.rmsNormEps);
    auto theta = b.getF64FloatAttr(cfg.ropeTheta);
    int64_t qDim = cfg.numHeads * cfg.headDim,
            kvDim = cfg.numKvHeads * cfg.headDim;

    // Attention block.
    Value x = llm::RMSNormOp::create(b, loc, hiddenType, hidden, inNorm, eps);
    Value q = splitHeads(linear(x, wq, bq, seq, qDim), seq, cfg.numHeads);
    Value k = splitHeads(linear(x, wk, bk, seq, kvDim), seq, cfg.numKvHeads);
    Value v = splitHeads(linear(x, wv, bv, seq, kvDim), seq, cfg.numKvHeads);
    if (cfg.qkNorm) {
      // Qwen3: RMSNorm over head_dim of every query and key head.
      q = llm::RMSNormOp::create(b, loc, q.getType(), q, qNorm, eps);
      k = llm::RMSNormOp::create(b, loc, k.getType(), k, kNorm, eps);
    }
    std::vector<double> freqs = cfg.ropeInverseFrequencies();
    DenseF64ArrayAttr invFreq =
        freqs.empty() ? DenseF64ArrayAttr() : b.getDenseF64ArrayAttr(freqs);
    q = llm::RopeOp::create(b, loc, q.getType(), q, positions, theta, invFreq);
    k = llm::RopeOp::create(b, loc, k.getType(), k, positions, theta, invFreq);
    Value newK =
        llm::KVCacheWriteOp::create(b, loc, cacheType(), kCache, k, positions);
    Value newV =
        llm::KVCacheWriteOp::create(b, loc, cacheType(), vCache, v, positions);
    // Attention reads the first kv_len entries of the updated cache.
    Value batch = tensor::DimOp::create(b, loc, hidden, 0);
    auto sliceType = tensor({kDyn, kDyn, cfg.numKvHeads, cfg.headDim});
    auto cacheSlice = [&](Value cache) {
      OpFoldResult c0 = b.getIndexAttr(0), c1 = b.getIndexAttr(1);
      return tensor::ExtractSliceOp::create(
          b, loc, sliceType, cache, ArrayRef<OpFoldResult>{c0, c0, c0, c0},
          ArrayRef<OpFoldResult>{batch, kvLen, b.getIndexAttr(cfg.numKvHeads),
                                 b.getIndexAttr(cfg.headDim)},
          ArrayRef<OpFoldResult>{c1, c1, c1, c1});
    };
    IntegerAttr window;
    if (cfg.slidingWindow)
      window = b.getI64IntegerAttr(*cfg.slidingWindow);
    Value attn = llm::AttentionOp::create(
        b, loc, q.getType(), q, cacheSlice(newK), cacheSlice(newV), positions,
        b.getF32FloatAttr(1.0 / std::sqrt(double(cfg.headDim))), window);
    Value merged = tensor::CollapseShapeOp::create(
        b, loc, tensor({kDyn, seq, qDim}), attn,
        ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
    Value attnOut = linear(merged, wo, Value(), seq, h);
    Value residual = llm::AddOp::create(b, loc, hiddenType, hidden, attnOut);

    // MLP block (SwiGLU).
    Value y =
        llm::RMSNormOp::create(b, loc, hiddenType, residual, postNorm, eps);
    Value gate = linear(y, wGate, Value(), seq, cfg.intermediateSize);
    Value up = linear(y, wUp, Value(), seq, cfg.intermediateSize);
    Value act = llm::SiluMulOp::create(b, loc, gate.getType(), gate, up);
    Value down = linear(act, wDown, Value(), seq, h);
    Value out = llm::AddOp::create(b, loc, hiddenType, residual, down);
    func::ReturnOp::create(b, loc, ValueRange{out, newK, newV});
    return fn;
  }

  void buildEntry(StringRef name, int64_t seq, func::FuncOp layer) {
    int64_t h = cfg.hiddenSize;
    SmallVector<Type> inputs;
    SmallVector<std::string> bindings;
    auto addArg = [&](Type t, std::string binding) {
      inputs.push_back(t);
      bindings.push_back(std::move(binding));
    };
    addArg(tensor({kDyn, seq}, b.getI32Type()), "input:ids");
    addArg(tensor({kDyn, seq}, b.getI32Type()), "input:positions");
    addArg(b.getIndexType(), "input:kv_len");
    addArg(tensor({cfg.vocabSize, h}), "model.embed_tokens.weight");
    SmallVector<WeightSpec> weights = layerWeights();
    for (int64_t l = 0; l < cfg.numLayers; ++l)
      for (const WeightSpec &w : weights)
        addArg(tensor(w.shape),
               "model.layers." + std::to_string(l) + "." + w.name);
    addArg(tensor({h}), "model.norm.weight");
    if (!cfg.tieWordEmbeddings)
      addArg(tensor({cfg.vocabSize, h}), "lm_head.weight");
    unsigned firstCache = inputs.size();
    for (int64_t l = 0; l < cfg.numLayers; ++l) {
      addArg(cacheType(), "kv_cache:" + std::to_string(l) + ":k");
      addArg(cacheType(), "kv_cache:" + std::to_string(l) + ":v");
    }
    addArg(tensor({kDyn}, b.getI32Type()), "output:argmax");

    SmallVector<Type> results = {tensor({kDyn, cfg.vocabSize}, b.getF32Type())};
    for (int64_t l = 0; l < 2 * cfg.numLayers; ++l)
      results.push_back(cacheType());
    results.push_back(inputs.back());
    auto fn =
        func::FuncOp::create(b, loc, name, b.getFunctionType(inputs, results));
    for (auto [idx, binding] : llvm::enumerate(bindings))
      fn.setArgAttr(idx, kBindingAttrName, b.getStringAttr(binding));
    fn->setAttr(kEntryAttrName, b.getUnitAttr());
    Block *body = fn.addEntryBlock();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(body);

    ArrayRef<BlockArgument> args = body->getArguments();
    Value ids = args[0], positions = args[1], kvLen = args[2];
    Value embed = args[3];
    Value hidden =
        llm::EmbeddingOp::create(b, loc, tensor({kDyn, seq, h}), embed, ids);
    unsigned next = 4;
    SmallVector<Value> caches;
    for (int64_t l = 0; l < cfg.numLayers; ++l) {
      SmallVector<Value> operands = {hidden, positions, kvLen};
      for (size_t w = 0; w < weights.size(); ++w)
        operands.push_back(args[next++]);
      operands.push_back(args[firstCache + 2 * l]);
      operands.push_back(args[firstCache + 2 * l + 1]);
      auto call = func::CallOp::create(b, loc, layer, operands);
      hidden = call.getResult(0);
      caches.push_back(call.getResult(1));
      caches.push_back(call.getResult(2));
    }
    Value finalNorm = args[next++];
    Value lmHead = cfg.tieWordEmbeddings ? embed : Value(args[next++]);
    // Only the last position feeds the logits: normalise just that one.
    Value lastHidden = hidden;
    if (seq != 1) {
      Value batch = tensor::DimOp::create(b, loc, hidden, 0);
      Value seqLen = tensor::DimOp::create(b, loc, hidden, 1);
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      Value lastPos = arith::SubIOp::create(b, loc, seqLen, one);
      lastHidden = tensor::ExtractSliceOp::create(
          b, loc, tensor({kDyn, 1, h}), hidden,
          ArrayRef<OpFoldResult>{b.getIndexAttr(0), lastPos, b.getIndexAttr(0)},
          ArrayRef<OpFoldResult>{batch, b.getIndexAttr(1), b.getIndexAttr(h)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1),
                                 b.getIndexAttr(1)});
    }
    Value normed =
        llm::RMSNormOp::create(b, loc, lastHidden.getType(), lastHidden,
                               finalNorm, b.getF32FloatAttr(cfg.rmsNormEps));
    Value logits = llm::LogitsOp::create(
        b, loc, tensor({kDyn, cfg.vocabSize}, b.getF32Type()), normed, lmHead);
    // The greedy token is written into its argument in place: a GPU then
    // hands back 4 bytes per sequence when decoding greedily.
    Value argmax =
        llm::ArgmaxOp::create(b, loc, tensor({kDyn}, b.getI32Type()), logits);
    Value argmaxOut = bufferization::MaterializeInDestinationOp::create(
                          b, loc, argmax, args.back())
                          .getResult();
    SmallVector<Value> returned = {logits};
    returned.append(caches);
    returned.push_back(argmaxOut);
    func::ReturnOp::create(b, loc, returned);
  }

  const ModelConfig &cfg;
  OpBuilder b;
  Location loc;
  Type elem;
};
} // namespace

llvm::Expected<OwningOpRef<ModuleOp>>
kiln::buildDecoderModule(MLIRContext &context, const ModelConfig &config) {
  if (llvm::Error err = config.validate())
    return std::move(err);
  context.loadDialect<llm::LLMDialect, func::FuncDialect, arith::ArithDialect,
                      tensor::TensorDialect,
                      bufferization::BufferizationDialect>();
  OwningOpRef<ModuleOp> module = DecoderBuilder(context, config).build();
  if (failed(verify(*module)))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "internal error: the decoder graph of '" +
                                       config.name + "' does not verify");
  return std::move(module);
}
