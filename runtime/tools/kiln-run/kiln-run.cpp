//===- kiln-run.cpp - generate tokens with a compiled Kiln artifact ------===//
//
//   kiln-run model.kiln --weights MODEL_DIR --prompt-ids 1,2,3 \
//            --max-new-tokens 16 [--greedy] [--print-ids]
//
// Loads the artifact and the weights, prefills the prompt, then decodes one
// token at a time on the KV cache, and reports prompt and decode speed and
// the time to the first token on stderr.
//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Npy.h"
#include "kiln/runtime/Sampler.h"
#include "kiln/runtime/Session.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <sys/resource.h>
#include <vector>

using namespace kiln::rt;

namespace {
const char *const kUsage =
    R"(usage: kiln-run ARTIFACT --weights MODEL_DIR --prompt-ids IDS [options]

  --weights DIR          model directory with *.safetensors (required)
  --prompt-ids 1,2,3     prompt token ids, comma-separated (required)
  --max-new-tokens N     tokens to generate (default 16)
  --max-context N        KV-cache length (default: prompt + new tokens)
  --greedy               argmax decoding (default: sampling)
  --temperature T        sampling temperature (default 1.0)
  --top-k K              keep the K most likely tokens (default 0: off)
  --top-p P              nucleus sampling mass (default 1.0: off)
  --seed S               sampling seed (default 0)
  --print-ids            print the generated ids on one line
  --logits-out FILE.npy  float32 [steps, vocab]: the logits each generated
                         token was chosen from
  --stats-json FILE      write the timing report as JSON
  --quiet                no progress or report on stderr
  --help                 this message
)";

struct Options {
  std::string artifact, weights, logitsOut, statsJson;
  std::vector<int32_t> promptIds;
  int64_t maxNewTokens = 16;
  int64_t maxContext = 0;
  bool printIds = false, quiet = false, havePrompt = false;
  SamplingOptions sampling;
};

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

Options parseArgs(int argc, char **argv) {
  Options o;
  o.sampling.greedy = false; // Sampling unless --greedy.
  bool sawSamplingFlag = false;
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
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--weights") {
      o.weights = next();
    } else if (arg == "--prompt-ids") {
      o.promptIds = parseIds(next());
      o.havePrompt = true;
    } else if (arg == "--max-new-tokens") {
      o.maxNewTokens = parseInt(arg, next(), 1, 1 << 24);
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
  if (!o.havePrompt)
    usageError("missing --prompt-ids");
  if (o.sampling.greedy && sawSamplingFlag)
    usageError("--greedy cannot be combined with --temperature, --top-k or "
               "--top-p");
  o.sampling.validate();
  return o;
}

/// Peak resident memory of this process in bytes. VmHWM (unlike
/// getrusage's ru_maxrss) starts afresh at exec, so a large parent process
/// does not inflate it.
long peakResidentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0)
      return std::atol(line.c_str() + 6) * 1024L;
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss * 1024L;
}

using Clock = std::chrono::steady_clock;
double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

int run(int argc, char **argv) {
  Options o = parseArgs(argc, argv);
  auto progress = [&](const std::string &msg) {
    if (!o.quiet)
      std::fprintf(stderr, "[kiln-run] %s\n", msg.c_str());
  };
  Clock::time_point t0 = Clock::now();
  LoadedModel model(o.artifact, o.weights, progress);
  const Manifest &m = model.manifest();
  int64_t prompt = o.promptIds.size();
  int64_t needed = prompt + o.maxNewTokens - 1;
  int64_t maxContext = o.maxContext;
  if (maxContext == 0)
    maxContext = std::min(needed, m.model.maxPositionEmbeddings);
  if (prompt > maxContext)
    throw Error("the prompt has " + std::to_string(prompt) +
                " tokens, more than the context of " +
                std::to_string(maxContext) +
                " (--max-context, max_position_embeddings " +
                std::to_string(m.model.maxPositionEmbeddings) + ")");
  if (needed > maxContext)
    throw Error("the prompt (" + std::to_string(prompt) + " tokens) and " +
                std::to_string(o.maxNewTokens) +
                " new tokens need a context of " + std::to_string(needed) +
                ", more than " + std::to_string(maxContext) +
                " (--max-context, max_position_embeddings " +
                std::to_string(m.model.maxPositionEmbeddings) + ")");
  Session session(model, maxContext);
  Clock::time_point tLoaded = Clock::now();
  if (!o.quiet)
    std::fprintf(stderr,
                 "[kiln-run] ready in %.2f s: %.1f MiB of weights (%zu/%zu "
                 "used in place), KV cache %.1f MiB for %lld positions\n",
                 seconds(t0, tLoaded), model.weightBytes() / 1048576.0,
                 model.weightsMappedInPlace(), m.weights.size(),
                 session.kvCacheBytes() / 1048576.0,
                 static_cast<long long>(maxContext));

  Sampler sampler(o.sampling, m.model.vocabSize);
  std::vector<int32_t> generated;
  generated.reserve(o.maxNewTokens);
  std::vector<float> logitsLog;
  if (!o.logitsOut.empty())
    logitsLog.reserve(o.maxNewTokens * m.model.vocabSize);

  Clock::time_point tStart = Clock::now();
  const float *logits = session.prefill(o.promptIds);
  Clock::time_point tPrefill = Clock::now();
  auto take = [&](const float *l) {
    if (!o.logitsOut.empty())
      logitsLog.insert(logitsLog.end(), l, l + m.model.vocabSize);
    int32_t id = static_cast<int32_t>(sampler.sample(l));
    generated.push_back(id);
    return id;
  };
  int32_t id = take(logits);
  Clock::time_point tFirst = Clock::now();
  for (int64_t step = 1; step < o.maxNewTokens; ++step)
    id = take(session.decode(id));
  Clock::time_point tEnd = Clock::now();

  if (o.printIds) {
    for (size_t i = 0; i < generated.size(); ++i)
      std::printf("%s%d", i ? " " : "", generated[i]);
    std::printf("\n");
  } else {
    std::printf("generated %zu tokens:", generated.size());
    for (int32_t g : generated)
      std::printf(" %d", g);
    std::printf("\n");
  }
  std::fflush(stdout);
  if (!o.logitsOut.empty())
    writeNpyF32(o.logitsOut, logitsLog.data(),
                {static_cast<int64_t>(generated.size()), m.model.vocabSize});

  double prefillS = seconds(tStart, tPrefill);
  double ttft = seconds(tStart, tFirst);
  double decodeS = seconds(tFirst, tEnd);
  int64_t decodeSteps = o.maxNewTokens - 1;
  long peakBytes = peakResidentBytes();
  double peakMiB = peakBytes / 1048576.0;
  if (!o.quiet) {
    std::fprintf(stderr,
                 "kiln-run: prompt %lld tokens in %.2f ms (%.1f tokens/s), "
                 "time to first token %.2f ms\n",
                 static_cast<long long>(prompt), prefillS * 1e3,
                 prompt / prefillS, ttft * 1e3);
    if (decodeSteps > 0)
      std::fprintf(stderr,
                   "kiln-run: decode %lld tokens in %.2f ms (%.1f tokens/s)\n",
                   static_cast<long long>(decodeSteps), decodeS * 1e3,
                   decodeSteps / decodeS);
    std::fprintf(stderr,
                 "kiln-run: workspace %zu blocks, %.1f MiB, %llu allocations "
                 "during decode; peak resident %.1f MiB\n",
                 session.workspace().numBlocks(),
                 session.workspace().reservedBytes() / 1048576.0,
                 static_cast<unsigned long long>(session.decodeAllocations()),
                 peakMiB);
  }
  if (!o.statsJson.empty()) {
    std::ofstream js(o.statsJson);
    if (!js)
      throw Error(o.statsJson + ": cannot write");
    js << "{\"prompt_tokens\": " << prompt
       << ", \"new_tokens\": " << generated.size()
       << ", \"prefill_s\": " << prefillS << ", \"ttft_s\": " << ttft
       << ", \"decode_s\": " << decodeS << ", \"decode_steps\": " << decodeSteps
       << ", \"decode_tok_s\": "
       << (decodeSteps > 0 ? decodeSteps / decodeS : 0.0)
       << ", \"weight_bytes\": " << model.weightBytes()
       << ", \"kv_cache_bytes\": " << session.kvCacheBytes()
       << ", \"workspace_bytes\": " << session.workspace().reservedBytes()
       << ", \"decode_allocations\": " << session.decodeAllocations()
       << ", \"peak_rss_bytes\": " << peakBytes << "}\n";
  }
  return 0;
}
} // namespace

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const Error &e) {
    std::fprintf(stderr, "kiln-run: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc &) {
    std::fprintf(stderr, "kiln-run: error: out of memory\n");
    return 1;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "kiln-run: internal error: %s\n", e.what());
    return 2;
  }
}
