//===- RunOptions.cpp - the command line of kiln-run ----------------------===//
#include "kiln/runtime/RunOptions.h"

#include "kiln/runtime/Error.h"

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>

using namespace kiln::rt;

namespace {
const char *const kUsage =
    R"(usage: kiln-run ARTIFACT --weights MODEL_DIR (--prompt TEXT | --prompt-ids IDS | --chat) [options]

  ARTIFACT               from kiln-compile: --target cpu runs here, --target
                         cuda on an NVIDIA GPU (the driver is loaded at run
                         time; $KILN_LIBCUDA overrides libcuda.so.1)
  --weights DIR          model directory with *.safetensors (required)
  --prompt TEXT          prompt text (needs MODEL_DIR/tokenizer.json); the
                         generated text is streamed to stdout and generation
                         stops at an end-of-sequence token
  --prompt-ids 1,2,3     prompt token ids, comma-separated
  --chat                 interactive conversation: reads your messages from
                         stdin (one per line; /reset starts over, /exit or
                         end of input quits), renders the conversation with
                         tokenizer_config.json's chat template and streams
                         each reply
  --system TEXT          with --chat: the system message
  --ignore-eos           with --prompt: do not stop at end-of-sequence
  --max-new-tokens N     tokens to generate (default 16; with --chat, per
                         reply, default 512)
  --max-context N        KV-cache length (default: prompt + new tokens; with
                         --chat, max_position_embeddings up to 4096)
  --greedy               argmax decoding (default: generation_config.json's
                         settings, else sampling at temperature 1)
  --temperature T        sampling temperature (default 1.0)
  --top-k K              keep the K most likely tokens (default 0: off)
  --top-p P              nucleus sampling mass (default 1.0: off)
  --seed S               sampling seed (default 0)
  --print-ids            print the generated ids on one line
  --logits-out FILE.npy  float32 [steps, vocab]: the logits each generated
                         token was chosen from
  --stats-json FILE      write the timing report as JSON
  --cuda-graph           CUDA target: replay each decode step as a CUDA
                         graph (default; falls back to single launches,
                         saying why, where a graph cannot be built)
  --no-cuda-graph        CUDA target: launch the kernels one by one
  --profile-kernels      CUDA target: time every kernel launch (cuEvents,
                         graphs off) and print a table per entry and kernel
  --quiet                no progress or report on stderr
  --help                 this message
)";

[[noreturn]] void usageError(const std::string &msg) {
  throw Error(msg + "\n(see kiln-run --help)");
}

int64_t parseInt(const std::string &flag, const std::string &text, int64_t min,
                 int64_t max) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || v < min || v > max)
    usageError(flag + ": expected an integer in [" + std::to_string(min) +
               ", " + std::to_string(max) + "], got '" + text + "'");
  return v;
}

float parseFloat(const std::string &flag, const std::string &text) {
  char *end = nullptr;
  float v = std::strtof(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v))
    usageError(flag + ": expected a number, got '" + text + "'");
  return v;
}

std::vector<int32_t> parseIds(const std::string &text) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos)
      end = text.size();
    ids.push_back(static_cast<int32_t>(
        parseInt("--prompt-ids", text.substr(pos, end - pos), 0, INT32_MAX)));
    pos = end + 1;
  }
  return ids;
}

} // namespace

const char *kiln::rt::runUsage() { return kUsage; }

RunOptions kiln::rt::parseRunOptions(int argc, const char *const *argv) {
  RunOptions o;
  bool havePrompt = false;
  o.sampling.greedy = false; // Sampling unless --greedy.
  bool sawSamplingFlag = false;
  bool hasSystem = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool hasInlineValue = false;
    if (arg.rfind("--", 0) == 0) {
      size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        hasInlineValue = true;
      }
    }
    auto next = [&]() -> std::string {
      if (hasInlineValue)
        return value;
      if (i + 1 >= argc)
        usageError(arg + ": missing value");
      return argv[++i];
    };
    auto noValue = [&]() {
      if (hasInlineValue)
        usageError(arg + " takes no value");
    };
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      return o;
    } else if (arg == "--weights") {
      o.weights = next();
    } else if (arg == "--prompt-ids") {
      if (havePrompt)
        usageError("give one of --prompt and --prompt-ids");
      o.promptIds = parseIds(next());
      havePrompt = true;
    } else if (arg == "--prompt") {
      if (havePrompt)
        usageError("give one of --prompt and --prompt-ids");
      o.prompt = next();
      o.textPrompt = true;
      havePrompt = true;
    } else if (arg == "--chat") {
      noValue();
      o.chat = true;
    } else if (arg == "--system") {
      o.system = next();
      hasSystem = true;
    } else if (arg == "--ignore-eos") {
      noValue();
      o.ignoreEos = true;
    } else if (arg == "--max-new-tokens") {
      o.maxNewTokens = parseInt(arg, next(), 1, 1 << 24);
      o.maxNewTokensGiven = true;
    } else if (arg == "--max-context") {
      o.maxContext = parseInt(arg, next(), 1, 1 << 24);
    } else if (arg == "--greedy") {
      noValue();
      o.sampling.greedy = true;
    } else if (arg == "--temperature") {
      o.sampling.temperature = parseFloat(arg, next());
      sawSamplingFlag = true;
    } else if (arg == "--top-k") {
      o.sampling.topK = parseInt(arg, next(), 0, INT32_MAX);
      sawSamplingFlag = true;
    } else if (arg == "--top-p") {
      o.sampling.topP = parseFloat(arg, next());
      sawSamplingFlag = true;
    } else if (arg == "--seed") {
      o.sampling.seed = parseInt(arg, next(), 0, INT64_MAX);
    } else if (arg == "--print-ids") {
      noValue();
      o.printIds = true;
    } else if (arg == "--logits-out") {
      o.logitsOut = next();
    } else if (arg == "--stats-json") {
      o.statsJson = next();
    } else if (arg == "--cuda-graph" || arg == "--no-cuda-graph") {
      noValue();
      o.cudaGraph = arg == "--cuda-graph";
    } else if (arg == "--profile-kernels") {
      noValue();
      o.profileKernels = true;
    } else if (arg == "--quiet") {
      noValue();
      o.quiet = true;
    } else if (arg.rfind("-", 0) == 0 && arg.size() > 1) {
      usageError("unknown flag '" + arg + "'");
    } else if (o.artifact.empty()) {
      o.artifact = arg;
    } else {
      usageError("unexpected argument '" + arg + "'");
    }
  }
  if (o.artifact.empty())
    usageError("missing the ARTIFACT argument");
  if (o.weights.empty())
    usageError("missing --weights MODEL_DIR");
  if (o.chat) {
    if (havePrompt)
      usageError("--chat reads its messages from stdin: drop --prompt and "
                 "--prompt-ids");
    if (o.printIds || !o.logitsOut.empty())
      usageError("--print-ids and --logits-out do not apply to --chat");
    if (!o.maxNewTokensGiven)
      o.maxNewTokens = 512;
  } else {
    if (hasSystem)
      usageError("--system needs --chat");
    if (!havePrompt)
      usageError("missing --prompt TEXT, --prompt-ids IDS or --chat");
  }
  if (o.sampling.greedy && sawSamplingFlag)
    usageError("--greedy cannot be combined with --temperature, --top-k or "
               "--top-p");
  o.samplingFromFlags = o.sampling.greedy || sawSamplingFlag;
  o.sampling.validate();
  return o;
}
