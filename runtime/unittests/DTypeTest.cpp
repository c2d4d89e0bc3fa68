//===- DTypeTest.cpp - tests for DType names and conversions ----*- C++ -*-===//
//
// The 16-bit conversions are checked exhaustively: every f16/bf16 value
// round-trips, and the midpoint between every pair of adjacent values (exact
// in f32) rounds to the even neighbour while its f32 neighbours round to the
// nearer one.
//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/DType.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

using namespace kiln::rt;

namespace {

float fromBits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(DTypeTest, NamesSizesAndParsing) {
  struct Case {
    DType type;
    const char *name;
    const char *stName;
    size_t size;
  } cases[] = {
      {DType::F32, "f32", "F32", 4},    {DType::F16, "f16", "F16", 2},
      {DType::BF16, "bf16", "BF16", 2}, {DType::F64, "f64", "F64", 8},
      {DType::I64, "i64", "I64", 8},    {DType::I32, "i32", "I32", 4},
      {DType::I16, "i16", "I16", 2},    {DType::I8, "i8", "I8", 1},
      {DType::U8, "u8", "U8", 1},       {DType::Bool, "bool", "BOOL", 1}};
  for (const Case &c : cases) {
    EXPECT_STREQ(dtypeName(c.type), c.name);
    EXPECT_EQ(dtypeSize(c.type), c.size) << c.name;
    EXPECT_EQ(parseDType(c.name), c.type) << c.name;
    EXPECT_EQ(parseSafetensorsDType(c.stName), c.type) << c.stName;
  }
  EXPECT_FALSE(parseDType("F32"));
  EXPECT_FALSE(parseDType(""));
  EXPECT_FALSE(parseDType("f32 "));
  EXPECT_FALSE(parseSafetensorsDType("f32"));
  EXPECT_FALSE(parseSafetensorsDType("F8_E4M3"));
  EXPECT_FALSE(parseSafetensorsDType("U16"));
  EXPECT_TRUE(isFloatWeightType(DType::BF16));
  EXPECT_FALSE(isFloatWeightType(DType::F64));
}

TEST(DTypeTest, Bf16KnownValues) {
  EXPECT_EQ(floatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBf16(-2.0f), 0xc000);
  EXPECT_EQ(floatToBf16(0.0f), 0x0000);
  EXPECT_EQ(floatToBf16(-0.0f), 0x8000);
  EXPECT_EQ(bf16ToFloat(0x3f80), 1.0f);
  // Exactly halfway: ties go to the even mantissa.
  EXPECT_EQ(floatToBf16(fromBits(0x3f808000)), 0x3f80);
  EXPECT_EQ(floatToBf16(fromBits(0x3f818000)), 0x3f82);
  // Just above halfway rounds up; just below rounds down.
  EXPECT_EQ(floatToBf16(fromBits(0x3f808001)), 0x3f81);
  EXPECT_EQ(floatToBf16(fromBits(0x3f807fff)), 0x3f80);
  // The largest float rounds up to inf, like numpy/torch.
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(floatToBf16(kInf), 0x7f80);
  EXPECT_EQ(floatToBf16(-kInf), 0xff80);
  EXPECT_TRUE(std::isinf(bf16ToFloat(0x7f80)));
  // f32 subnormals keep their top bits.
  EXPECT_EQ(floatToBf16(fromBits(0x00010000)), 0x0001);
  EXPECT_EQ(bf16ToFloat(0x0001), fromBits(0x00010000));
}

TEST(DTypeTest, Bf16NaNStaysNaN) {
  // Payloads only in the low 16 bits would truncate to inf.
  for (uint32_t bits : {0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu}) {
    uint16_t half = floatToBf16(fromBits(bits));
    EXPECT_TRUE(std::isnan(bf16ToFloat(half))) << std::hex << bits;
    EXPECT_EQ(half >> 15, bits >> 31);
  }
  for (uint32_t half = 0x7f81; half <= 0x7fff; ++half)
    EXPECT_TRUE(std::isnan(bf16ToFloat(static_cast<uint16_t>(half))));
}

TEST(DTypeTest, Bf16ExhaustiveRoundTripAndRNE) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    float f = bf16ToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(f))));
      continue;
    }
    ASSERT_EQ(floatToBf16(f), h) << std::hex << h;
  }
  // Adjacent finite positive values lo < hi (the sign is symmetric).
  for (uint32_t lo = 0; lo < 0x7f7f; ++lo) {
    uint32_t hi = lo + 1;
    float a = bf16ToFloat(static_cast<uint16_t>(lo));
    float b = bf16ToFloat(static_cast<uint16_t>(hi));
    float mid = a + (b - a) / 2; // Exact: needs one more mantissa bit.
    uint32_t even = (lo & 1) ? hi : lo;
    ASSERT_EQ(floatToBf16(mid), even) << std::hex << lo;
    ASSERT_EQ(floatToBf16(-mid), even | 0x8000) << std::hex << lo;
    ASSERT_EQ(floatToBf16(std::nextafter(mid, 0.0f)), lo) << std::hex << lo;
    ASSERT_EQ(floatToBf16(std::nextafter(mid, kInf)), hi) << std::hex << lo;
  }
}

TEST(DTypeTest, F16KnownValues) {
  EXPECT_EQ(floatToF16(1.0f), 0x3c00);
  EXPECT_EQ(floatToF16(-2.0f), 0xc000);
  EXPECT_EQ(floatToF16(0.5f), 0x3800);
  EXPECT_EQ(floatToF16(-0.0f), 0x8000);
  EXPECT_EQ(f16ToFloat(0x3555), fromBits(0x3eaaa000)); // ~0.333
  EXPECT_EQ(floatToF16(65504.0f), 0x7bff);
  EXPECT_EQ(floatToF16(65519.99f), 0x7bff);
  EXPECT_EQ(floatToF16(65520.0f), 0x7c00); // Tie to even is inf.
  EXPECT_EQ(floatToF16(1e6f), 0x7c00);
  EXPECT_EQ(floatToF16(-1e6f), 0xfc00);
  EXPECT_EQ(floatToF16(kInf), 0x7c00);
  EXPECT_EQ(floatToF16(-kInf), 0xfc00);
  EXPECT_TRUE(std::isinf(f16ToFloat(0x7c00)));
  // RNE between normals: 1 + 2^-11 is halfway between 1 and 1 + 2^-10.
  EXPECT_EQ(floatToF16(1.0f + 0x1p-11f), 0x3c00);
  EXPECT_EQ(floatToF16(1.0f + 3 * 0x1p-11f), 0x3c02);
  // Subnormals: the smallest is 2^-24; 2^-25 ties to even (zero).
  EXPECT_EQ(floatToF16(0x1p-24f), 0x0001);
  EXPECT_EQ(f16ToFloat(0x0001), 0x1p-24f);
  EXPECT_EQ(floatToF16(0x1p-25f), 0x0000);
  EXPECT_EQ(floatToF16(-0x1p-25f), 0x8000);
  EXPECT_EQ(floatToF16(0x1.000002p-25f), 0x0001);
  EXPECT_EQ(floatToF16(3 * 0x1p-25f), 0x0002);
  EXPECT_EQ(floatToF16(0x1p-30f), 0x0000);
  EXPECT_EQ(floatToF16(fromBits(0x00000001)), 0x0000); // f32 subnormal.
  // Largest subnormal + half an ulp ties to the smallest normal (even).
  EXPECT_EQ(floatToF16(1023.5f * 0x1p-24f), 0x0400);
  EXPECT_EQ(f16ToFloat(0x0400), 0x1p-14f);
  EXPECT_EQ(f16ToFloat(0x03ff), 1023 * 0x1p-24f);
}

TEST(DTypeTest, F16NaNStaysNaN) {
  for (uint32_t bits : {0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu}) {
    uint16_t half = floatToF16(fromBits(bits));
    EXPECT_TRUE(std::isnan(f16ToFloat(half))) << std::hex << bits;
    EXPECT_EQ(half >> 15, bits >> 31);
  }
  for (uint32_t half = 0x7c01; half <= 0x7fff; ++half)
    EXPECT_TRUE(std::isnan(f16ToFloat(static_cast<uint16_t>(half))));
}

TEST(DTypeTest, F16ExhaustiveRoundTripAndRNE) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    float f = f16ToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16ToFloat(floatToF16(f))));
      continue;
    }
    ASSERT_EQ(floatToF16(f), h) << std::hex << h;
  }
  // Adjacent finite positive halves, including subnormals and the step from
  // 65504 to inf (whose "midpoint" 65520 is where rounding overflows).
  for (uint32_t lo = 0; lo < 0x7c00; ++lo) {
    uint32_t hi = lo + 1;
    float a = f16ToFloat(static_cast<uint16_t>(lo));
    float b = hi == 0x7c00 ? 65536.0f : f16ToFloat(static_cast<uint16_t>(hi));
    float mid = a + (b - a) / 2;
    uint32_t even = (lo & 1) ? hi : lo;
    ASSERT_EQ(floatToF16(mid), even) << std::hex << lo;
    ASSERT_EQ(floatToF16(-mid), even | 0x8000) << std::hex << lo;
    ASSERT_EQ(floatToF16(std::nextafter(mid, 0.0f)), lo) << std::hex << lo;
    ASSERT_EQ(floatToF16(std::nextafter(mid, kInf)), hi) << std::hex << lo;
  }
}

} // namespace
