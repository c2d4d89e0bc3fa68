//===- Error.h - the runtime's error type -----------------------*- C++ -*-===//
//
// The runtime reports every failure (bad artifact, bad weights, bad flags,
// driver errors) by throwing kiln::rt::Error with a message that names the
// file, field, tensor or call at fault. Tools catch it at the top level,
// print it and exit non-zero; nothing in the runtime aborts on bad input.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ERROR_H
#define KILN_RUNTIME_ERROR_H

#include <stdexcept>
#include <string>

namespace kiln::rt {

class Error : public std::runtime_error {
public:
  explicit Error(const std::string &message) : std::runtime_error(message) {}
};

} // namespace kiln::rt

#endif // KILN_RUNTIME_ERROR_H
