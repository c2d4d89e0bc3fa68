//===- HuggingFaceConfig.h - read a model directory's config.json -*- C++
//-*-===//
#ifndef KILN_MODEL_HUGGINGFACECONFIG_H
#define KILN_MODEL_HUGGINGFACECONFIG_H

#include "kiln/Model/ModelConfig.h"

#include "llvm/ADT/StringRef.h"

namespace kiln {

/// Parses a Hugging Face `config.json` (text) into a ModelConfig. Every field
/// that changes the graph is read and checked; an unsupported architecture
/// or graph-changing field is an error naming it. Fields Kiln does not know
/// are reported through `warn` (they might change the graph). `source`
/// names the file in messages.
llvm::Expected<ModelConfig>
parseHuggingFaceConfig(llvm::StringRef json, llvm::StringRef source,
                       llvm::function_ref<void(const llvm::Twine &)> warn);

/// Reads MODEL_DIR/config.json.
llvm::Expected<ModelConfig>
loadHuggingFaceConfig(llvm::StringRef modelDir,
                      llvm::function_ref<void(const llvm::Twine &)> warn);

} // namespace kiln

#endif // KILN_MODEL_HUGGINGFACECONFIG_H
