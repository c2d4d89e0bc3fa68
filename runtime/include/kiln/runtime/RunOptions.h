//===- RunOptions.h - the command line of kiln-run --------------*- C++ -*-===//
//
// Parsed in the library (not in the tool) so that the unit tests can check
// every flag error; kiln-run only prints the message and exits.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_RUNOPTIONS_H
#define KILN_RUNTIME_RUNOPTIONS_H

#include "kiln/runtime/Sampler.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::rt {

struct RunOptions {
  std::string artifact, weights, logitsOut, statsJson;
  std::vector<int32_t> promptIds;
  /// --prompt: text to tokenize with MODEL_DIR/tokenizer.json.
  std::string prompt;
  bool textPrompt = false;
  /// --chat: an interactive conversation on stdin/stdout through the
  /// model's chat template; --system: its system message.
  bool chat = false;
  std::string system;
  bool ignoreEos = false;
  /// Whether --greedy or a sampling flag was given (else the model's
  /// generation_config.json decides).
  bool samplingFromFlags = false;
  int64_t maxNewTokens = 16;
  bool maxNewTokensGiven = false;
  /// 0: prompt + new tokens - 1 (at most max_position_embeddings).
  int64_t maxContext = 0;
  bool printIds = false, quiet = false, help = false;
  /// CUDA target: replay the decode step as a CUDA graph (--no-cuda-graph
  /// launches its kernels one by one).
  bool cudaGraph = true;
  /// CUDA target: time each kernel launch and report per kernel.
  bool profileKernels = false;
  SamplingOptions sampling;
};

/// The usage text of kiln-run.
const char *runUsage();

/// Parses kiln-run's arguments (argv[0] is skipped). Throws Error naming
/// the flag for an unknown flag, a missing or malformed value, a missing
/// required argument or conflicting flags. With --help, returns at once
/// with `help` set.
RunOptions parseRunOptions(int argc, const char *const *argv);

} // namespace kiln::rt

#endif // KILN_RUNTIME_RUNOPTIONS_H
