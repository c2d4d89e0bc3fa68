//===- kiln-run.cpp - generate tokens with a compiled Kiln artifact ------===//
//
//   kiln-run model.kiln --weights MODEL_DIR --prompt-ids 1,2,3 \
//            --max-new-tokens 16 [--greedy] [--print-ids]
//   kiln-run model.kiln --weights MODEL_DIR --prompt "Once upon a time"
//   kiln-run model.kiln --weights MODEL_DIR --chat [--system TEXT]
//
// Loads the artifact and the weights, prefills the prompt, then decodes one
// token at a time on the KV cache, and reports prompt and decode speed and
// the time to the first token on stderr. --chat keeps one KV cache for the
// whole conversation and prefills only what each turn adds.
//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/ChatTemplate.h"
#include "kiln/runtime/CudaSession.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/GenerationConfig.h"
#include "kiln/runtime/Npy.h"
#include "kiln/runtime/RunOptions.h"
#include "kiln/runtime/Sampler.h"
#include "kiln/runtime/Session.h"
#include "kiln/runtime/Tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

using namespace kiln::rt;

namespace {
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

/// The token after the last step. Greedy decoding takes the model's own
/// argmax (llm.argmax: a GPU copies back 4 bytes, not the logits); when the
/// logits are wanted too (--logits-out), they are copied and the model's
/// argmax must equal theirs, a check of the compiled argmax on every token.
/// Sampling draws from the logits.
int32_t nextToken(ModelSession &session, Sampler &sampler,
                  std::vector<float> *logitsLog) {
  bool greedy = sampler.options().greedy && session.argmaxOnTarget();
  const float *logits = logitsLog || !greedy ? session.logits() : nullptr;
  if (logitsLog)
    logitsLog->insert(logitsLog->end(), logits, logits + sampler.vocabSize());
  if (!greedy)
    return static_cast<int32_t>(sampler.sample(logits));
  int32_t id = session.greedyToken();
  if (logits) {
    int64_t host = argmaxOf(logits, sampler.vocabSize());
    if (host != id)
      throw Error("the model's argmax (token " + std::to_string(id) +
                  ") differs from the argmax of its logits (token " +
                  std::to_string(host) + ")");
  }
  return id;
}

/// Streams the text of generated tokens to stdout: prints what is new once
/// the text no longer ends in an incomplete UTF-8 sequence (decoded as
/// U+FFFD), so multi-byte characters split across tokens print whole. With
/// `context` (the prompt), its text is printed first and the tokens are
/// decoded after it, as decoders that strip a leading space (SentencePiece)
/// treat the start of a text differently from its middle.
class TextStream {
public:
  explicit TextStream(const Tokenizer &tokenizer,
                      std::vector<int32_t> context = {})
      : tokenizer(tokenizer), context(std::move(context)) {
    if (this->context.empty())
      return;
    shown = tokenizer.decode(this->context, /*skipSpecial=*/true);
    std::fwrite(shown.data(), 1, shown.size(), stdout);
    std::fflush(stdout);
  }
  void update(const std::vector<int32_t> &ids, bool final) {
    std::vector<int32_t> all = context;
    all.insert(all.end(), ids.begin(), ids.end());
    std::string text = tokenizer.decode(all, /*skipSpecial=*/true);
    bool incomplete = text.size() >= 3 &&
                      text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") == 0;
    if ((incomplete && !final) || text.compare(0, shown.size(), shown) != 0)
      return;
    std::fwrite(text.data() + shown.size(), 1, text.size() - shown.size(),
                stdout);
    std::fflush(stdout);
    shown = std::move(text);
  }

private:
  const Tokenizer &tokenizer;
  std::vector<int32_t> context;
  std::string shown;
};

Tokenizer loadTokenizer(const std::string &modelDir, const char *why) {
  std::string path = modelDir + "/tokenizer.json";
  if (!std::ifstream(path))
    throw Error(path + ": not found: " + why);
  return Tokenizer::load(path);
}

/// The session for the artifact's target: the CPU kernels in this process,
/// or the CUDA backend.
std::unique_ptr<ModelSession> openSession(const LoadedModel &model,
                                          int64_t maxContext,
                                          const LoadedModel::Progress &say,
                                          const RunOptions &o) {
  if (model.manifest().target.kind == "cuda")
    return std::make_unique<CudaSession>(model, maxContext, say, o.cudaGraph,
                                         o.profileKernels);
  if (o.profileKernels)
    throw Error("--profile-kernels is for artifacts compiled with --target "
                "cuda");
  return std::make_unique<Session>(model, maxContext);
}

/// The number of leading ids `a` and `b` share.
size_t commonPrefix(const std::vector<int32_t> &a,
                    const std::vector<int32_t> &b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n])
    ++n;
  return n;
}

/// --chat: reads one user message per line from stdin, renders the whole
/// conversation with the chat template, prefills what the KV cache does not
/// hold yet (the cached prefix is kept) and streams the reply.
int runChat(const RunOptions &o, LoadedModel &model,
            const GenerationDefaults &generation,
            const LoadedModel::Progress &progress) {
  const Manifest &m = model.manifest();
  Tokenizer tokenizer =
      loadTokenizer(o.weights, "--chat needs the model's tokenizer");
  ChatTemplate chatTemplate =
      ChatTemplate::load(o.weights + "/tokenizer_config.json");
  std::vector<int32_t> stopIds = generation.eosTokenIds;
  int64_t maxContext = o.maxContext;
  if (maxContext == 0)
    maxContext = std::min<int64_t>(m.model.maxPositionEmbeddings, 4096);
  std::unique_ptr<ModelSession> session =
      openSession(model, maxContext, progress, o);
  Sampler sampler(o.sampling, m.model.vocabSize);
  bool interactive = isatty(STDIN_FILENO);
  if (!o.quiet)
    std::fprintf(stderr,
                 "[kiln-run] chat: context %lld tokens, up to %lld per "
                 "reply; /reset starts over, /exit or end of input quits\n",
                 static_cast<long long>(maxContext),
                 static_cast<long long>(o.maxNewTokens));

  std::vector<ChatMessage> messages;
  if (!o.system.empty())
    messages.push_back({"system", o.system});
  size_t firstTurn = messages.size();
  std::vector<int32_t> cached; // the ids the KV cache holds, in order
  int64_t turns = 0, newTokens = 0, decodeSteps = 0;
  double decodeSeconds = 0;
  std::string line;
  while (true) {
    if (interactive) {
      std::fputs("> ", stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line))
      break;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.empty())
      continue;
    if (line == "/exit" || line == "/quit")
      break;
    if (line == "/reset") {
      messages.resize(firstTurn);
      cached.clear();
      session->reset();
      std::fputs("[conversation reset]\n", stdout);
      continue;
    }
    messages.push_back({"user", line});
    std::vector<int32_t> ids = tokenizer.encode(
        chatTemplate.render(messages, /*addGenerationPrompt=*/true),
        /*addSpecial=*/false);
    if (static_cast<int64_t>(ids.size()) >= maxContext) {
      messages.pop_back();
      std::fprintf(stderr,
                   "kiln-run: the conversation (%zu tokens) does not fit the "
                   "context of %lld tokens (--max-context); /reset starts "
                   "over\n",
                   ids.size(), static_cast<long long>(maxContext));
      continue;
    }
    // Keep the cached prefix; at least one token is prefilled for logits.
    size_t keep = std::min(commonPrefix(cached, ids), ids.size() - 1);
    session->rewind(static_cast<int64_t>(keep));
    session->prefillStep(std::vector<int32_t>(ids.begin() + keep, ids.end()));
    cached = ids;

    std::vector<int32_t> reply;
    TextStream stream(tokenizer);
    Clock::time_point tFirst = Clock::now();
    while (true) {
      int32_t id = nextToken(*session, sampler, nullptr);
      if (std::find(stopIds.begin(), stopIds.end(), id) != stopIds.end())
        break;
      reply.push_back(id);
      stream.update(reply, /*final=*/false);
      if (static_cast<int64_t>(reply.size()) >= o.maxNewTokens ||
          session->position() >= maxContext)
        break;
      session->decodeStep(id);
      cached.push_back(id);
      ++decodeSteps;
    }
    decodeSeconds += seconds(tFirst, Clock::now());
    stream.update(reply, /*final=*/true);
    std::fputs("\n", stdout);
    std::fflush(stdout);
    newTokens += reply.size();
    ++turns;
    messages.push_back(
        {"assistant", tokenizer.decode(reply, /*skipSpecial=*/true)});
  }
  if (interactive)
    std::fputs("\n", stdout);
  if (!o.quiet && turns > 0)
    std::fprintf(stderr,
                 "kiln-run: %lld turns, %lld tokens generated, decode %.1f "
                 "tokens/s; peak resident %.1f MiB\n",
                 static_cast<long long>(turns),
                 static_cast<long long>(newTokens),
                 decodeSeconds > 0 ? decodeSteps / decodeSeconds : 0.0,
                 peakResidentBytes() / 1048576.0);
  return 0;
}

int run(int argc, char **argv) {
  RunOptions o = parseRunOptions(argc, argv);
  if (o.help) {
    std::fputs(runUsage(), stdout);
    return 0;
  }
  auto progress = [&](const std::string &msg) {
    if (!o.quiet)
      std::fprintf(stderr, "[kiln-run] %s\n", msg.c_str());
  };
  Clock::time_point t0 = Clock::now();
  LoadedModel model(o.artifact, o.weights, progress);
  const Manifest &m = model.manifest();
  GenerationDefaults generation = loadGenerationDefaults(o.weights);
  if (!o.samplingFromFlags) {
    o.sampling = generation.apply(o.sampling);
    o.sampling.validate();
  }
  if (o.chat)
    return runChat(o, model, generation, progress);
  std::optional<Tokenizer> tokenizer;
  if (o.textPrompt) {
    tokenizer = loadTokenizer(o.weights,
                              "--prompt needs the model's tokenizer (or give "
                              "--prompt-ids)");
    o.promptIds = tokenizer->encode(o.prompt, /*addSpecial=*/true);
    progress("prompt: " + std::to_string(o.promptIds.size()) + " tokens");
  }
  // Text generation ends at the model's end-of-sequence token; ids mode
  // always generates --max-new-tokens (tests rely on it).
  bool stopAtEos = o.textPrompt && !o.ignoreEos;
  auto isEos = [&](int32_t id) {
    return std::find(generation.eosTokenIds.begin(),
                     generation.eosTokenIds.end(),
                     id) != generation.eosTokenIds.end();
  };
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
  std::unique_ptr<ModelSession> session =
      openSession(model, maxContext, progress, o);
  Clock::time_point tLoaded = Clock::now();
  if (!o.quiet)
    std::fprintf(stderr,
                 "[kiln-run] ready in %.2f s: %.1f MiB of weights (%zu/%zu "
                 "used in place), KV cache %.1f MiB for %lld positions\n",
                 seconds(t0, tLoaded), model.weightBytes() / 1048576.0,
                 model.weightsMappedInPlace(), m.weights.size(),
                 session->kvCacheBytes() / 1048576.0,
                 static_cast<long long>(maxContext));

  Sampler sampler(o.sampling, m.model.vocabSize);
  std::vector<int32_t> generated;
  generated.reserve(o.maxNewTokens);
  std::vector<float> logitsLog;
  if (!o.logitsOut.empty())
    logitsLog.reserve(o.maxNewTokens * m.model.vocabSize);

  Clock::time_point tStart = Clock::now();
  session->prefillStep(o.promptIds);
  Clock::time_point tPrefill = Clock::now();
  auto take = [&] {
    int32_t id = nextToken(*session, sampler,
                           o.logitsOut.empty() ? nullptr : &logitsLog);
    generated.push_back(id);
    return id;
  };
  // Text mode echoes the prompt, so that the output reads as one text.
  std::optional<TextStream> stream;
  if (tokenizer)
    stream.emplace(*tokenizer, o.promptIds);
  int32_t id = take();
  if (stream)
    stream->update(generated, /*final=*/false);
  Clock::time_point tFirst = Clock::now();
  for (int64_t step = 1; step < o.maxNewTokens; ++step) {
    if (stopAtEos && isEos(id))
      break;
    session->decodeStep(id);
    id = take();
    if (stream)
      stream->update(generated, /*final=*/false);
  }
  Clock::time_point tEnd = Clock::now();
  if (stream) {
    stream->update(generated, /*final=*/true);
    std::printf("\n");
  }

  if (o.printIds) {
    for (size_t i = 0; i < generated.size(); ++i)
      std::printf("%s%d", i ? " " : "", generated[i]);
    std::printf("\n");
  } else if (!tokenizer) {
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
  int64_t decodeSteps = static_cast<int64_t>(generated.size()) - 1;
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
    std::fprintf(stderr, "kiln-run: %s; peak resident %.1f MiB\n",
                 session->describe().c_str(), peakMiB);
  }
  if (std::string report = session->profileReport(); !report.empty())
    std::fputs(report.c_str(), stderr);
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
       << ", \"kv_cache_bytes\": " << session->kvCacheBytes()
       << ", \"workspace_bytes\": " << session->workspaceBytes()
       << ", \"decode_allocations\": " << session->decodeAllocations()
       << ", \"peak_rss_bytes\": " << peakBytes << ", \"session\": \"";
    for (char c : session->describe()) {
      if (c == '"' || c == '\\')
        js << '\\';
      js << (static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
    }
    js << "\"}\n";
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
