//===- DType.h - element types and scalar conversions -----------*- C++ -*-===//
//
// The element types the runtime understands (weights, activations, token
// ids), their names in Kiln artifacts and in safetensors headers, and the
// scalar conversions between f32 and the 16-bit float formats. Conversions
// to 16-bit formats round to nearest even, like numpy and PyTorch, so that
// weights converted here match weights converted by the Python tooling.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DTYPE_H
#define KILN_RUNTIME_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace kiln::rt {

enum class DType : uint8_t { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool };

/// Size of one element in bytes.
size_t dtypeSize(DType type);

/// Lowercase name used in Kiln artifacts: "f32", "bf16", "bool", ...
const char *dtypeName(DType type);

/// Parses a lowercase name as returned by dtypeName.
std::optional<DType> parseDType(std::string_view name);

/// Parses a safetensors header spelling: "F32", "BF16", "BOOL", ...
std::optional<DType> parseSafetensorsDType(std::string_view name);

/// True for F32, F16 and BF16: the types weights may be converted between.
bool isFloatWeightType(DType type);

float bf16ToFloat(uint16_t bits);
/// Round to nearest even; NaN stays a (quiet) NaN with the same sign.
uint16_t floatToBf16(float value);

float f16ToFloat(uint16_t bits);
/// Round to nearest even; overflow becomes inf, tiny values become f16
/// subnormals or zero, NaN stays a (quiet) NaN with the same sign.
uint16_t floatToF16(float value);

} // namespace kiln::rt

#endif // KILN_RUNTIME_DTYPE_H
