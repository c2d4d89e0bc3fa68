//===- LLMOps.td - llm dialect operations ------------------*- tablegen -*-===//
#ifndef KILN_DIALECT_LLM_IR_LLMOPS_TD
#define KILN_DIALECT_LLM_IR_LLMOPS_TD

include "kiln/Dialect/LLM/IR/LLMDialect.td"
include "kiln/Dialect/LLM/IR/LLMAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// Activations and weights: f32, f16 or bf16. Mixed precision (bf16 storage,
// f32 accumulation) is a lowering decision, not a type in the graph.
def LLM_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;
def LLM_IndexTensor : RankedTensorOf<[I32, I64]>;

class LLM_Op<string mnemonic, list<Trait> traits = []>
    : Op<LLM_Dialect, mnemonic, !listconcat(traits, [Pure])> {
  let hasVerifier = 1;
  let assemblyFormat =
      "operands attr-dict `:` functional-type(operands, results)";
}

def LLM_EmbeddingOp : LLM_Op<"embedding"> {
  let summary = "Token embedding lookup";
  let description = [{
    Gathers rows of `table` (`[vocab, hidden]`) for each token id in `ids`
    (`[batch, seq]`), giving `[batch, seq, hidden]`.
  }];
  let arguments = (ins LLM_FloatTensor:$table, LLM_IndexTensor:$ids);
  let results = (outs LLM_FloatTensor:$result);
}

def LLM_RMSNormOp : LLM_Op<"rms_norm"> {
  let summary = "Root-mean-square layer normalisation";
  let description = [{
    `result = input * rsqrt(mean(input^2, last axis) + epsilon) * weight`,
    with the mean computed in f32. `weight` has the size of the last axis.
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_FloatTensor:$weight,
                       F32Attr:$epsilon);
  let results = (outs LLM_FloatTensor:$result);
}

def LLM_LinearOp : LLM_Op<"linear"> {
  let summary = "Fully connected layer with the Hugging Face weight layout";
  let description = [{
    `result[..., o] = sum_i input[..., i] * weight[o, i] (+ bias[o])`.
    `input` is `[tokens, in]` or `[batch, seq, in]`, `weight` is
    `[out, in]` and the optional `bias` is `[out]`. Accumulation is f32.
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_FloatTensor:$weight,
                       Optional<LLM_FloatTensor>:$bias);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
}

def LLM_RopeOp : LLM_Op<"rope"> {
  let summary = "Rotary position embedding (Hugging Face rotate_half)";
  let description = [{
    Rotates `input` (`[batch, seq, heads, head_dim]`) by the angle
    `position * theta^(-2i/head_dim)` for `i < head_dim/2`, pairing
    element `i` with `i + head_dim/2` as Hugging Face's `rotate_half` does.
    `positions` is `[batch, seq]`. With `inv_freq` (head_dim/2 positive
    values), the angle is `position * inv_freq[i]` instead: RoPE scaling
    schemes (Llama 3's) are frequencies computed ahead of time.
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_IndexTensor:$positions,
                       F64Attr:$theta,
                       OptionalAttr<DenseF64ArrayAttr>:$inv_freq);
  let results = (outs LLM_FloatTensor:$result);
}

def LLM_AttentionOp : LLM_Op<"attention"> {
  let summary = "Causal grouped-query attention over a KV cache";
  let description = [{
    `query` is `[batch, seq, num_heads, head_dim]`; `keys` and `values` are
    `[batch, kv_len, num_kv_heads, head_dim]` (a slice of the KV cache that
    already holds the keys of the current tokens). `num_heads` must be a
    multiple of `num_kv_heads`: query head `h` reads KV head
    `h / (num_heads / num_kv_heads)`. Query token `(b, s)` sits at
    `positions[b, s]` and sees key `j` when `j <= positions[b, s]` and, with
    a `sliding_window` `w`, `j > positions[b, s] - w`. Scores are scaled by
    `scale` and normalised with a softmax in f32.
  }];
  let arguments = (ins LLM_FloatTensor:$query, LLM_FloatTensor:$keys,
                       LLM_FloatTensor:$values, LLM_IndexTensor:$positions,
                       F32Attr:$scale,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:
                           $sliding_window);
  let results = (outs LLM_FloatTensor:$result);
}

def LLM_KVCacheWriteOp : LLM_Op<"kv_cache_write"> {
  let summary = "Write new keys or values into a KV cache at given positions";
  let description = [{
    Returns `cache` (`[batch, max_context, num_kv_heads, head_dim]`) with
    `cache[b, positions[b, s]] = update[b, s]` for every `(b, s)` of
    `update` (`[batch, seq, num_kv_heads, head_dim]`). Bufferization writes
    the cache in place: no copy of the cache is made.
  }];
  let arguments = (ins LLM_FloatTensor:$cache, LLM_FloatTensor:$update,
                       LLM_IndexTensor:$positions);
  let results = (outs LLM_FloatTensor:$result);
}

def LLM_SiluMulOp : LLM_Op<"silu_mul"> {
  let summary = "SwiGLU activation: silu(gate) * up";
  let arguments = (ins LLM_FloatTensor:$gate, LLM_FloatTensor:$up);
  let results = (outs LLM_FloatTensor:$result);
}

def LLM_AddOp : LLM_Op<"add"> {
  let summary = "Elementwise (residual) addition";
  let arguments = (ins LLM_FloatTensor:$lhs, LLM_FloatTensor:$rhs);
  let results = (outs LLM_FloatTensor:$result);
}

def LLM_LogitsOp : LLM_Op<"logits"> {
  let summary = "Final logits of the last token of each sequence";
  let description = [{
    Projects the hidden state of the last position of each sequence
    (`hidden` is `[batch, seq, hidden]`) with the LM head `weight`
    (`[vocab, hidden]`, possibly the tied embedding table), giving f32
    logits `[batch, vocab]`.
  }];
  let arguments = (ins LLM_FloatTensor:$hidden, LLM_FloatTensor:$weight);
  let results = (outs RankedTensorOf<[F32]>:$result);
}

def LLM_ArgmaxOp : LLM_Op<"argmax"> {
  let summary = "Greedy next token: the index of the largest logit per row";
  let description = [{
    For f32 `logits` `[batch, vocab]`, `result[b]` (i32) is the lowest index
    `v` with `logits[b, v]` equal to the row's maximum, so ties go to the
    lowest token id (as the runtime's sampler breaks them). A row holding a
    NaN has no maximum: its result is `vocab`, an id outside the
    vocabulary, which the runtime reports as an error. Computing it with the
    model lets a GPU return 4 bytes per sequence instead of the logits.
  }];
  let arguments = (ins RankedTensorOf<[F32]>:$logits);
  let results = (outs RankedTensorOf<[I32]>:$result);
}

#endif // KILN_DIALECT_LLM_IR_LLMOPS_TD
