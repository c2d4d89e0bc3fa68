//===- Tokenizer.h - Hugging Face tokenizer.json tokenizers -----*- C++ -*-===//
//
// Loads a Hugging Face `tokenizer.json` and encodes/decodes text with it.
// Two families are supported (see docs/tokenizers.md):
//
//  * byte-level BPE (GPT-2, Llama 3, Qwen2): ByteLevel and/or Split(regex)
//    pre-tokenizers, the regex run by PCRE2 (UTF + UCP);
//  * SentencePiece-style BPE (Llama 2, TinyLlama): Prepend/Replace
//    normalizers or a Metaspace pre-tokenizer, byte_fallback, fuse_unk.
//
// Special tokens from "added_tokens" are split out of the input before the
// model runs; the post-processor's TemplateProcessing supplies the tokens
// added around a single sequence when encode(..., addSpecial = true).
// Anything else (Unigram/WordPiece models, unknown normalizers, ...) is
// rejected at load time with a kiln::rt::Error naming the file and field.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_TOKENIZER_H
#define KILN_RUNTIME_TOKENIZER_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kiln::rt {

class Tokenizer {
public:
  /// Parses `tokenizerJsonPath`; throws kiln::rt::Error on a missing or
  /// malformed file or on anything this implementation does not support.
  static Tokenizer load(const std::string &tokenizerJsonPath);
  /// Parses tokenizer.json text; `origin` names it in error messages.
  static Tokenizer fromJson(const std::string &jsonText,
                            const std::string &origin = "<tokenizer.json>");

  Tokenizer(Tokenizer &&) noexcept;
  Tokenizer &operator=(Tokenizer &&) noexcept;
  ~Tokenizer();

  /// Token ids of `utf8`. With `addSpecial`, the post-processor's template
  /// tokens for a single sequence (e.g. BOS) are added.
  std::vector<int32_t> encode(const std::string &utf8,
                              bool addSpecial = false) const;
  /// The text of `ids`; with `skipSpecial`, special added tokens are
  /// dropped. Throws on an id outside the vocabulary.
  std::string decode(const std::vector<int32_t> &ids,
                     bool skipSpecial = false) const;
  /// The id of token `token` (added tokens included), -1 if absent.
  int32_t tokenId(const std::string &token) const;
  /// The string of token `id` ("" if absent).
  std::string tokenString(int32_t id) const;
  /// One past the largest id (model vocabulary and added tokens).
  int64_t vocabSize() const;
  /// Whether `id` is a special added token.
  bool isSpecial(int32_t id) const;

  struct Impl;

private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace kiln::rt

#endif // KILN_RUNTIME_TOKENIZER_H
