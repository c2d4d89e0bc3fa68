//===- RunOptionsTest.cpp - kiln-run's command line -----------------------===//
#include "TestUtil.h"

#include "kiln/runtime/RunOptions.h"

using namespace kiln::rt;
using namespace kiln::rt::test;

namespace {

RunOptions parse(std::vector<const char *> args) {
  args.insert(args.begin(), "kiln-run");
  return parseRunOptions(static_cast<int>(args.size()), args.data());
}

const std::vector<const char *> kRequired = {"m.kiln", "--weights", "dir",
                                             "--prompt-ids", "1,2,3"};

RunOptions parseWith(std::vector<const char *> extra) {
  std::vector<const char *> args = kRequired;
  args.insert(args.end(), extra.begin(), extra.end());
  return parse(args);
}

TEST(RunOptions, ParsesEveryFlag) {
  RunOptions o = parseWith({"--max-new-tokens", "32", "--max-context=64",
                            "--temperature", "0.7", "--top-k", "40", "--top-p",
                            "0.9", "--seed", "5", "--print-ids", "--logits-out",
                            "l.npy", "--stats-json", "s.json", "--quiet"});
  EXPECT_EQ(o.artifact, "m.kiln");
  EXPECT_EQ(o.weights, "dir");
  EXPECT_EQ(o.promptIds, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(o.maxNewTokens, 32);
  EXPECT_EQ(o.maxContext, 64);
  EXPECT_FALSE(o.sampling.greedy);
  EXPECT_FLOAT_EQ(o.sampling.temperature, 0.7f);
  EXPECT_EQ(o.sampling.topK, 40);
  EXPECT_FLOAT_EQ(o.sampling.topP, 0.9f);
  EXPECT_EQ(o.sampling.seed, 5u);
  EXPECT_TRUE(o.printIds && o.quiet);
  EXPECT_EQ(o.logitsOut, "l.npy");
  EXPECT_EQ(o.statsJson, "s.json");
  EXPECT_TRUE(parseWith({"--greedy"}).sampling.greedy);
  EXPECT_TRUE(parse({"--help"}).help);
  EXPECT_FALSE(o.profileKernels);
  EXPECT_TRUE(parseWith({"--profile-kernels"}).profileKernels);
  EXPECT_THROW(parseWith({"--profile-kernels=1"}), Error);
}

TEST(RunOptions, Chat) {
  RunOptions o = parse(
      {"m.kiln", "--weights", "d", "--chat", "--system", "You are terse."});
  EXPECT_TRUE(o.chat);
  EXPECT_EQ(o.system, "You are terse.");
  EXPECT_EQ(o.maxNewTokens, 512); // per reply unless given
  EXPECT_EQ(
      parse({"m.kiln", "--weights", "d", "--chat", "--max-new-tokens", "7"})
          .maxNewTokens,
      7);
}

TEST(RunOptions, BadInputNamesTheFlag) {
  struct Case {
    std::vector<const char *> args;
    const char *expected;
  } cases[] = {
      {{"m.kiln", "--weights", "d", "--prompt-ids", "1", "--frobnicate"},
       "unknown flag '--frobnicate'"},
      {{"m.kiln", "--weights", "d", "--prompt-ids", "1", "-x"},
       "unknown flag '-x'"},
      {{"m.kiln", "--weights", "d", "--prompt-ids"},
       "--prompt-ids: missing value"},
      {{"m.kiln", "--weights", "d", "--prompt-ids", "1,,2"},
       "--prompt-ids: expected an integer"},
      {{"m.kiln", "--weights", "d", "--prompt-ids", "-4"}, "got '-4'"},
      {{"m.kiln", "--weights", "d", "--prompt-ids", "1,99999999999"},
       "got '99999999999'"},
      {{"--weights", "d", "--prompt-ids", "1"}, "missing the ARTIFACT"},
      {{"m.kiln", "--prompt-ids", "1"}, "missing --weights"},
      {{"m.kiln", "--weights", "d"},
       "missing --prompt TEXT, --prompt-ids IDS or --chat"},
      {{"m.kiln", "--weights", "d", "--prompt", "hi", "--prompt-ids", "1"},
       "give one of --prompt and --prompt-ids"},
      {{"m.kiln", "other.kiln", "--weights", "d", "--prompt-ids", "1"},
       "unexpected argument 'other.kiln'"},
      {{"m.kiln", "--weights", "d", "--chat", "--prompt", "hi"},
       "--chat reads its messages from stdin"},
      {{"m.kiln", "--weights", "d", "--chat", "--print-ids"},
       "do not apply to --chat"},
      {{"m.kiln", "--weights", "d", "--chat", "--logits-out", "l.npy"},
       "do not apply to --chat"},
      {{"m.kiln", "--weights", "d", "--prompt", "hi", "--system", "be nice"},
       "--system needs --chat"},
      {{"m.kiln", "--weights", "d", "--chat=1"}, "--chat takes no value"},
  };
  for (const Case &c : cases)
    EXPECT_HAS_SUBSTR(errorOf([&] { parse(c.args); }), c.expected);

  struct FlagCase {
    std::vector<const char *> extra;
    const char *expected;
  } flagCases[] = {
      {{"--max-new-tokens", "0"}, "--max-new-tokens: expected an integer"},
      {{"--max-new-tokens", "ten"}, "got 'ten'"},
      {{"--max-context", "-1"}, "--max-context: expected an integer"},
      {{"--max-context=0"}, "--max-context: expected an integer"},
      {{"--temperature", "0"}, "--temperature"},
      {{"--temperature", "nan"}, "--temperature: expected a number"},
      {{"--top-p", "1.5"}, "--top-p"},
      {{"--top-k", "-2"}, "--top-k: expected an integer"},
      {{"--greedy", "--temperature", "0.5"}, "--greedy cannot be combined"},
      {{"--greedy=yes"}, "--greedy takes no value"},
      {{"--seed"}, "--seed: missing value"},
  };
  for (const FlagCase &c : flagCases)
    EXPECT_HAS_SUBSTR(errorOf([&] { parseWith(c.extra); }), c.expected);
}

} // namespace
