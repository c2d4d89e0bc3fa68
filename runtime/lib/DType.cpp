//===- DType.cpp - element types and scalar conversions ---------*- C++ -*-===//
//
// Bit-level conversions between f32 and f16/bf16. They work on integer
// representations so the result does not depend on the FPU rounding mode or
// on compiler support for _Float16/__bf16.
//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/DType.h"

#include <cstring>

namespace kiln::rt {

namespace {

struct DTypeNames {
  DType type;
  const char *name;
  const char *safetensorsName;
  size_t size;
};

constexpr DTypeNames kDTypes[] = {
    {DType::F32, "f32", "F32", 4},    {DType::F16, "f16", "F16", 2},
    {DType::BF16, "bf16", "BF16", 2}, {DType::F64, "f64", "F64", 8},
    {DType::I64, "i64", "I64", 8},    {DType::I32, "i32", "I32", 4},
    {DType::I16, "i16", "I16", 2},    {DType::I8, "i8", "I8", 1},
    {DType::U8, "u8", "U8", 1},       {DType::Bool, "bool", "BOOL", 1},
};

const DTypeNames *lookup(DType type) {
  for (const DTypeNames &entry : kDTypes)
    if (entry.type == type)
      return &entry;
  return nullptr;
}

uint32_t floatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

float bitsToFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

} // namespace

size_t dtypeSize(DType type) {
  const DTypeNames *entry = lookup(type);
  return entry ? entry->size : 0;
}

const char *dtypeName(DType type) {
  const DTypeNames *entry = lookup(type);
  return entry ? entry->name : "<invalid dtype>";
}

std::optional<DType> parseDType(std::string_view name) {
  for (const DTypeNames &entry : kDTypes)
    if (name == entry.name)
      return entry.type;
  return std::nullopt;
}

std::optional<DType> parseSafetensorsDType(std::string_view name) {
  for (const DTypeNames &entry : kDTypes)
    if (name == entry.safetensorsName)
      return entry.type;
  return std::nullopt;
}

bool isFloatWeightType(DType type) {
  return type == DType::F32 || type == DType::F16 || type == DType::BF16;
}

float bf16ToFloat(uint16_t bits) {
  return bitsToFloat(static_cast<uint32_t>(bits) << 16);
}

uint16_t floatToBf16(float value) {
  uint32_t bits = floatBits(value);
  // Truncating a NaN could clear every mantissa bit left and make it inf;
  // force the quiet bit instead.
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  // Adding 0x7fff plus the lowest kept bit rounds to nearest even; a carry
  // into the exponent correctly produces the next power of two or inf.
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float f16ToFloat(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0x1f) // Inf or NaN; keep the payload.
    return bitsToFloat(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0) // Normal: rebias the exponent from 15 to 127.
    return bitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
  // Zero or subnormal: mantissa * 2^-24 is exact in f32.
  float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
  return sign ? -magnitude : magnitude;
}

uint16_t floatToF16(float value) {
  uint32_t bits = floatBits(value);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  uint32_t magnitude = bits & 0x7fffffffu;

  if (magnitude >= 0x7f800000u) {
    if (magnitude == 0x7f800000u)
      return sign | 0x7c00u;
    // NaN: keep the top payload bits and force the quiet bit so the result
    // cannot collapse into inf.
    return static_cast<uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  }
  // 65520 is halfway between the largest f16 (65504) and 65536; ties go to
  // even, which is 65536, i.e. inf.
  if (magnitude >= 0x477ff000u)
    return sign | 0x7c00u;

  if (magnitude < 0x38800000u) {
    // Below the smallest normal f16 (2^-14): the result is a subnormal in
    // units of 2^-24, or zero.
    uint32_t exponent = magnitude >> 23;
    if (exponent < 102) // < 2^-25 always rounds to zero.
      return sign;
    uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - exponent; // 14..24
    uint32_t result = mantissa >> shift;
    uint32_t remainder = mantissa & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (remainder > half || (remainder == half && (result & 1u)))
      ++result; // May carry into the smallest normal, which is correct.
    return static_cast<uint16_t>(sign | result);
  }

  // Normal: rebias the exponent from 127 to 15 and round the 13 dropped
  // mantissa bits to nearest even; a carry may bump the exponent.
  uint32_t rebased = magnitude - 0x38000000u;
  rebased += 0x0fffu + ((rebased >> 13) & 1u);
  return static_cast<uint16_t>(sign | (rebased >> 13));
}

} // namespace kiln::rt
