//===- ChatTemplate.h - tokenizer_config.json chat templates ----*- C++ -*-===//
//
// Renders a Hugging Face chat template (tokenizer_config.json's
// "chat_template", a Jinja2 template) for a conversation, the way
// transformers' apply_chat_template does: Jinja2 with trim_blocks and
// lstrip_blocks, the variables `messages`, `add_generation_prompt`,
// `bos_token`, `eos_token`, and the function `raise_exception`.
//
// A subset of Jinja2 is implemented: the one the common templates (Llama 2,
// Llama 3, Mistral, ChatML / Qwen2 / Qwen2.5 / Qwen3, Zephyr / TinyLlama)
// use. Anything outside it is a kiln::rt::Error naming the template's
// origin, line and column and the construct: at parse time for statements
// and syntax, at render time for a filter, test, method or function that
// is actually called (so a template's unused tool-calling branches do not
// stop a plain chat). See docs/chat.md.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CHATTEMPLATE_H
#define KILN_RUNTIME_CHATTEMPLATE_H

#include <memory>
#include <string>
#include <vector>

namespace kiln::rt {

struct ChatMessage {
  std::string role; ///< "system", "user" or "assistant"
  std::string content;
};

class ChatTemplate {
public:
  /// Parses template `source`; `origin` names it in error messages (e.g.
  /// "MODEL/tokenizer_config.json: chat_template").
  static ChatTemplate parse(const std::string &source,
                            const std::string &origin = "<chat template>");
  /// Reads `tokenizerConfigPath` (tokenizer_config.json): "chat_template"
  /// (a string, or a list of {"name", "template"} from which "default" is
  /// taken), "bos_token" and "eos_token" (a string or an {"content": ...}
  /// object; absent means ""). Throws Error naming the file and field when
  /// the file is missing or malformed or has no chat template.
  static ChatTemplate load(const std::string &tokenizerConfigPath);

  ChatTemplate(ChatTemplate &&) noexcept;
  ChatTemplate &operator=(ChatTemplate &&) noexcept;
  ~ChatTemplate();

  /// The values of `bos_token` and `eos_token` while rendering.
  void setSpecialTokens(const std::string &bos, const std::string &eos);

  /// Renders `messages`; with `addGenerationPrompt` the template appends the
  /// header of the assistant's next turn. Throws Error (origin, line,
  /// column) on raise_exception() or on an unsupported construct.
  std::string render(const std::vector<ChatMessage> &messages,
                     bool addGenerationPrompt) const;

  struct Impl;

private:
  explicit ChatTemplate(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace kiln::rt

#endif // KILN_RUNTIME_CHATTEMPLATE_H
