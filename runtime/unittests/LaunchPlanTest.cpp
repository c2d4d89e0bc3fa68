//===- LaunchPlanTest.cpp - GPU launch plans, evaluated without a GPU -----===//
//
// Size expressions against hand-computed values (including the rounding of
// floordiv, ceildiv and mod on negative numbers, as MLIR defines them),
// the tiny model's real plans (written by kiln-compile at build time,
// KILN_TEST_PLAN) evaluated for a decode step and a prefill, and malformed
// plans.
//
//===----------------------------------------------------------------------===//
#include "TestUtil.h"

#include "kiln/runtime/LaunchPlan.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace kiln::rt;
using kiln::rt::test::errorOf;

namespace {

int64_t evalExpr(const std::string &text, std::vector<int64_t> s) {
  return SizeExpr::parse(text, s.size(), "test").eval(s);
}

TEST(SizeExpr, EvaluatesMlirAffineSyntax) {
  EXPECT_EQ(evalExpr("0", {}), 0);
  EXPECT_EQ(evalExpr("s0 * 4", {3}), 12);
  EXPECT_EQ(evalExpr("(s0 * s1) * 64", {2, 7}), 896);
  EXPECT_EQ(evalExpr("((s0 * s2) * 2)", {2, 0, 5}), 20);
  EXPECT_EQ(evalExpr("(s0 + 127) floordiv 128", {129}), 2);
  EXPECT_EQ(evalExpr("s0 ceildiv 128", {129}), 2);
  EXPECT_EQ(evalExpr("s0 ceildiv 128", {128}), 1);
  EXPECT_EQ(evalExpr("s0 mod 3 + s1", {7, 10}), 11);
  EXPECT_EQ(evalExpr("s1 * -1 + s0", {5, 2}), 3);
  EXPECT_EQ(evalExpr("-s0 + 5", {2}), 3);
  EXPECT_EQ(evalExpr("s0 - s1 - 1", {10, 3}), 6); // left associative
  EXPECT_EQ(evalExpr("2 + 3 * 4", {}), 14);       // precedence
  // Rounding towards -inf (floordiv), +inf (ceildiv); mod is non-negative
  // for a positive divisor.
  EXPECT_EQ(evalExpr("s0 floordiv 2", {-7}), -4);
  EXPECT_EQ(evalExpr("s0 ceildiv 2", {-7}), -3);
  EXPECT_EQ(evalExpr("s0 mod 2", {-7}), 1);
  EXPECT_EQ(evalExpr("s0 floordiv 2", {7}), 3);
  EXPECT_EQ(evalExpr("s0 ceildiv 2", {7}), 4);
}

TEST(SizeExpr, RejectsBadTextAndArithmetic) {
  EXPECT_HAS_SUBSTR(errorOf([] { SizeExpr::parse("s2", 2, "plan x"); }),
                    "plan x: bad size expression 's2': symbol s2 but the "
                    "plan has 2");
  EXPECT_HAS_SUBSTR(errorOf([] { SizeExpr::parse("s0 +", 1, "p"); }),
                    "expected a number or a symbol");
  EXPECT_HAS_SUBSTR(errorOf([] { SizeExpr::parse("(s0", 1, "p"); }),
                    "expected ')'");
  EXPECT_HAS_SUBSTR(errorOf([] { SizeExpr::parse("s0 s0", 1, "p"); }),
                    "unexpected 's'");
  EXPECT_HAS_SUBSTR(errorOf([] { SizeExpr::parse("s0 modd 2", 1, "p"); }),
                    "unexpected 'm'");
  EXPECT_HAS_SUBSTR(
      errorOf([] { SizeExpr::parse("99999999999999999999", 0, "p"); }),
      "number too large");
  EXPECT_HAS_SUBSTR(
      errorOf([] { SizeExpr::parse(std::string(300, '(') + "1", 0, "p"); }),
      "nested too deeply");
  EXPECT_HAS_SUBSTR(
      errorOf([] { SizeExpr::parse(std::string(300, '-') + "1", 0, "p"); }),
      "nested too deeply");
  EXPECT_HAS_SUBSTR(errorOf([] { evalExpr("s0 floordiv s1", {4, 0}); }),
                    "divides by zero");
  EXPECT_HAS_SUBSTR(errorOf([] { evalExpr("s0 * s0", {int64_t(1) << 40}); }),
                    "overflows");
}

/// The tiny model's plans, as kiln-compile wrote them.
std::vector<LaunchPlan> tinyPlans() {
  std::ifstream in(KILN_TEST_PLAN);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json doc = nlohmann::json::parse(text.str());
  std::vector<LaunchPlan> plans;
  for (const nlohmann::json &p : doc)
    plans.push_back(LaunchPlan::fromJson(p.dump(), "tiny.plan.json"));
  return plans;
}

/// Symbol values for a call: batch 1, `tokens` new tokens, `kvLen` keys,
/// caches of `context` positions (the symbols name their bindings).
std::vector<int64_t> symbolValues(const LaunchPlan &plan, int64_t tokens,
                                  int64_t kvLen, int64_t context) {
  std::vector<int64_t> values;
  for (const PlanSymbol &s : plan.symbols()) {
    if (s.binding == "input:kv_len")
      values.push_back(kvLen);
    else if (s.binding.rfind("kv_cache:", 0) == 0)
      values.push_back(s.dim == 0 ? 1 : context);
    else
      values.push_back(s.dim == 0 ? 1 : tokens);
  }
  return values;
}

/// Fake device addresses, 1 MiB apart, and buffer sizes: workspace from
/// the plan, bound buffers large enough for the tiny model.
struct FakeMemory {
  std::vector<uint64_t> bases, bytes;
  FakeMemory(const LaunchPlan &plan, const std::vector<int64_t> &symbols,
             uint64_t boundBytes) {
    for (size_t b = 0; b < plan.buffers().size(); ++b) {
      bases.push_back(0x100000000ull + (uint64_t(b) << 20));
      bytes.push_back(plan.buffers()[b].workspace()
                          ? plan.workspaceBytes(b, symbols)
                          : boundBytes);
    }
  }
};

TEST(LaunchPlan, TinyDecodeStepEvaluates) {
  std::vector<LaunchPlan> plans = tinyPlans();
  ASSERT_EQ(plans.size(), 2u);
  const LaunchPlan &decode = plans[1];
  EXPECT_EQ(decode.entry(), "decode_step");
  std::vector<int64_t> s = symbolValues(decode, 1, 5, 16);
  FakeMemory mem(decode, s, 1 << 20);
  std::vector<LaunchPlan::Launch> launches =
      decode.evaluate(s, mem.bases, mem.bytes);
  ASSERT_EQ(launches.size(), decode.launches().size());
  // 2 layers x 18 kernels, the embedding, the final norm, the logits and
  // the argmax.
  EXPECT_EQ(launches.size(), 40u);

  // The embedding: one block of 64 threads for the one sequence; its first
  // parameter is the ids as a 2-d memref: base, base, offset 0, sizes
  // [1, 1], strides [1, 1] (constants are compiled into the kernels).
  LaunchPlan::Launch &embed = launches[0];
  EXPECT_EQ(embed.grid, (std::array<uint32_t, 3>{1, 1, 1}));
  EXPECT_EQ(embed.plan->block, (std::array<uint32_t, 3>{64, 1, 1}));
  ASSERT_GE(embed.params.size(), 7u);
  EXPECT_EQ(embed.params[0], mem.bases[0]);
  EXPECT_EQ(embed.params[1], mem.bases[0]);
  EXPECT_EQ(embed.params[2], 0u);
  EXPECT_EQ(embed.params[3], 1u);
  EXPECT_EQ(embed.params[4], 1u);
  EXPECT_EQ(embed.paramPointers().size(), embed.params.size());

  // Attention of layer 0 over 5 keys: one block per split of 128 keys and
  // KV head of the sequence (the flash-attention kernel).
  const PlanLaunch &attention = decode.launches()[9];
  EXPECT_EQ(attention.grid[0].text(), "((s2 ceildiv 128) * s0) * 2");
  EXPECT_EQ(launches[9].grid[0], 2u);

  // Every workspace buffer is sized by the plan: [batch, hidden] f32 for
  // the embedding output (the embedding kernel's second argument).
  ASSERT_GE(decode.launches()[0].args.size(), 2u);
  int64_t embedded = decode.launches()[0].args[1].view.buffer;
  EXPECT_TRUE(decode.buffers()[embedded].workspace());
  EXPECT_EQ(decode.workspaceBytes(embedded, s), 64u * 4u);

  // The last kernel writes the greedy token into the bound output:argmax
  // ([batch] i32) from the logits, one warp per sequence.
  const PlanLaunch &argmax = decode.launches().back();
  EXPECT_EQ(argmax.block, (std::array<uint32_t, 3>{32, 1, 1}));
  bool writesArgmax = false;
  for (const PlanArg &a : argmax.args)
    writesArgmax |= a.kind == PlanArg::Kind::Memref &&
                    decode.buffers()[a.view.buffer].binding == "output:argmax";
  EXPECT_TRUE(writesArgmax);
}

TEST(LaunchPlan, WorkspaceBuffersShareSlots) {
  // The tiny decode step's 33 intermediates fit in 7 slots; a slot is as
  // large as its largest buffer.
  const LaunchPlan decode = tinyPlans()[1];
  std::vector<int64_t> s = symbolValues(decode, 1, 5, 16);
  EXPECT_EQ(decode.numSlots(), 7);
  uint64_t largest = 0, total = 0;
  for (int64_t slot = 0; slot < decode.numSlots(); ++slot)
    total += decode.slotBytes(slot, s);
  for (size_t b = 0; b < decode.buffers().size(); ++b)
    if (decode.buffers()[b].workspace()) {
      EXPECT_GE(decode.buffers()[b].slot, 0);
      EXPECT_LT(decode.buffers()[b].slot, decode.numSlots());
      largest = std::max(largest, decode.workspaceBytes(b, s));
      EXPECT_LE(decode.workspaceBytes(b, s),
                decode.slotBytes(decode.buffers()[b].slot, s));
    }
  EXPECT_GE(total, largest);
  EXPECT_HAS_SUBSTR(errorOf([] {
                      LaunchPlan::fromJson(
                          R"({"entry": "e", "workspace_slots": 1,
                              "symbols": [], "buffers": [{"workspace": true,
                              "elements": "4", "element_bits": 32,
                              "slot": 3}]})",
                          "p");
                    }),
                    "buffers[0].slot: slot 3 but the plan has 1");
}

TEST(LaunchPlan, TinyPrefillGridsFollowTheTokenCount) {
  std::vector<LaunchPlan> plans = tinyPlans();
  const LaunchPlan &prefill = plans[0];
  EXPECT_EQ(prefill.entry(), "prefill");
  for (int64_t tokens : {1, 7, 100}) {
    std::vector<int64_t> s = symbolValues(prefill, tokens, tokens, 128);
    FakeMemory mem(prefill, s, 1 << 22);
    std::vector<LaunchPlan::Launch> launches =
        prefill.evaluate(s, mem.bases, mem.bytes);
    EXPECT_EQ(launches[0].grid[0], uint32_t(tokens)) << tokens;
  }
}

TEST(LaunchPlan, ViewsOutsideTheirBufferAreRefused) {
  std::vector<LaunchPlan> plans = tinyPlans();
  const LaunchPlan &decode = plans[1];
  std::vector<int64_t> s = symbolValues(decode, 1, 5, 16);
  FakeMemory mem(decode, s, 1 << 20);
  mem.bytes[23] = 64; // cache 0:k: 16 floats, far fewer than [1, 16, 2, 16]
  EXPECT_HAS_SUBSTR(errorOf([&] { decode.evaluate(s, mem.bases, mem.bytes); }),
                    "a view of buffer 23 reaches element");
  std::vector<int64_t> zeroBatch = s;
  zeroBatch[0] = 0;
  EXPECT_HAS_SUBSTR(
      errorOf([&] { decode.evaluate(zeroBatch, mem.bases, mem.bytes); }),
      "grid size 0 (s0) out of [1, 2147483647]");
  EXPECT_HAS_SUBSTR(errorOf([&] { decode.evaluate({1}, {}, {}); }),
                    "evaluate() got 1 symbols");
}

TEST(LaunchPlan, MalformedPlansNameTheField) {
  struct Case {
    const char *json, *expected;
  } cases[] = {
      {"[", "p: the launch plan is not valid JSON"},
      {R"({"symbols": []})", "p: plan: missing \"entry\""},
      {R"({"entry": "e", "symbols": [{"dim": 0}]})",
       "p: symbols[0]: missing \"binding\""},
      {R"({"entry": "e", "symbols": [], "buffers": [{"binding": "w",
          "element_bits": 12}]})",
       "buffers[0].element_bits: expected whole bytes"},
      {R"({"entry": "e", "symbols": [], "buffers": [{"workspace": true,
          "elements": "s0", "element_bits": 32}]})",
       "buffers[0].elements: bad size expression 's0': symbol s0"},
      {R"({"entry": "e", "symbols": [], "buffers": [], "launches": [
          {"module": "m", "function": "f", "grid": ["1", "1", "1"],
           "block": [2048, 1, 1], "args": []}]})",
       "launches[0].block: expected an integer in [1, 1024], got 2048"},
      {R"({"entry": "e", "symbols": [], "buffers": [], "launches": [
          {"module": "m", "function": "f", "grid": ["1", "1", "1"],
           "block": [1, 1, 1], "args": [{"memref": {"buffer": 0,
           "offset": "0", "sizes": [], "strides": []}}]}]})",
       "launches[0].args[0].memref.buffer: expected an integer in [0, -1]"},
      {R"({"entry": "e", "symbols": [], "buffers": [], "launches": [
          {"module": "m", "function": "f", "grid": ["1", "1", "1"],
           "block": [1, 1, 1], "args": [{"f64": 1}]}]})",
       "launches[0].args[0]: expected \"memref\", \"index\" or \"f32_bits\""},
  };
  for (const Case &c : cases)
    EXPECT_HAS_SUBSTR(errorOf([&] { LaunchPlan::fromJson(c.json, "p"); }),
                      c.expected);
}

} // namespace
