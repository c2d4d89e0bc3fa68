//===- Npy.h - minimal NumPy .npy reader and writer -------------*- C++ -*-===//
//
// Just enough of the .npy format to exchange f32 tensors (logits, hidden
// states) with Python for testing and debugging: little-endian '<f4',
// C order.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_NPY_H
#define KILN_RUNTIME_NPY_H

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::rt {

/// Writes `data` (product(shape) floats, C order) as an NPY 1.0 '<f4' file.
/// An empty shape writes a scalar. Throws Error naming `path` on failure.
void writeNpyF32(const std::string &path, const float *data,
                 const std::vector<int64_t> &shape);

/// Reads an NPY file holding '<f4' data in C order and returns its elements;
/// stores the shape in `*shape` if non-null. Throws Error naming `path` for
/// anything else or a malformed file.
std::vector<float> readNpyF32(const std::string &path,
                              std::vector<int64_t> *shape);

} // namespace kiln::rt

#endif // KILN_RUNTIME_NPY_H
