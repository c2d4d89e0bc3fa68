//===- LaunchPlan.h - a GPU entry's launches, as data -----------*- C++ -*-===//
//
// The runtime side of the launch plans that kiln-compile writes for GPU
// entry points (docs/artifact.md, "Launch plans"): parsed and validated
// once, then evaluated for the actual sizes of a call into concrete
// launches whose parameter blocks are ready for cuLaunchKernel. Nothing
// here talks to a GPU, so all of it is tested on any machine.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_LAUNCHPLAN_H
#define KILN_RUNTIME_LAUNCHPLAN_H

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kiln::rt {

/// An affine expression of the plan's symbols s0, s1, ... in MLIR's
/// printed form: integers, symbols, + - *, floordiv, ceildiv, mod,
/// parentheses, unary minus.
class SizeExpr {
public:
  SizeExpr();
  /// Throws Error naming `where` on a syntax error or a symbol >= numSymbols.
  static SizeExpr parse(const std::string &text, size_t numSymbols,
                        const std::string &where);
  /// Throws Error on division by zero or overflow.
  int64_t eval(const std::vector<int64_t> &symbols) const;
  const std::string &text() const { return text_; }

  struct Node;

private:
  std::shared_ptr<const Node> root;
  std::string text_;
};

/// A strided view of a plan buffer, in elements.
struct PlanView {
  int64_t buffer = 0;
  SizeExpr offset;
  std::vector<SizeExpr> sizes, strides;
};

struct PlanArg {
  enum class Kind { Memref, Index, F32 } kind = Kind::Index;
  PlanView view;      // Memref
  SizeExpr index;     // Index
  uint32_t f32Bits{}; // F32
};

struct PlanLaunch {
  std::string module, function;
  std::array<SizeExpr, 3> grid;
  std::array<uint32_t, 3> block{};
  std::vector<PlanArg> args;
};

struct PlanSymbol {
  std::string binding;
  int64_t dim = -1; ///< -1: the binding is an index argument itself
};

struct PlanBuffer {
  enum class Kind { Bound, Workspace, Constant } kind = Kind::Bound;
  std::string binding;           ///< Bound: what the runtime binds
  SizeExpr elements;             ///< Workspace: its size
  std::vector<uint32_t> content; ///< Constant: its 32-bit values
  int64_t elementBits = 32;
  /// Workspace: the slot whose memory it shares with buffers whose uses do
  /// not overlap with its own.
  int64_t slot = -1;
  bool workspace() const { return kind == Kind::Workspace; }
  bool constant() const { return kind == Kind::Constant; }
};

class LaunchPlan {
public:
  /// Parses one plan (an element of `kiln-compile --emit plan`'s array, or
  /// of the manifest's "launch_plans"); `where` names it in errors.
  static LaunchPlan fromJson(const std::string &jsonText,
                             const std::string &where);

  const std::string &entry() const { return entry_; }
  const std::vector<PlanSymbol> &symbols() const { return symbols_; }
  const std::vector<PlanBuffer> &buffers() const { return buffers_; }
  const std::vector<PlanLaunch> &launches() const { return launches_; }
  const std::vector<PlanView> &results() const { return results_; }

  /// Bytes of workspace buffer `buffer` for these symbol values.
  uint64_t workspaceBytes(size_t buffer,
                          const std::vector<int64_t> &symbols) const;
  /// Workspace slots, and the bytes of one: its largest buffer's.
  int64_t numSlots() const { return numSlots_; }
  uint64_t slotBytes(int64_t slot, const std::vector<int64_t> &symbols) const;

  struct Launch; // see below
  /// Every launch with its sizes evaluated and its parameters packed the
  /// way MLIR's GPU lowering passes them (per memref: allocated pointer,
  /// aligned pointer, offset, sizes, strides; indices as i64; f32 as is).
  /// `bases[b]` is the device address of buffer b. Throws Error if a grid
  /// size is not positive or a view leaves its buffer.
  std::vector<Launch> evaluate(const std::vector<int64_t> &symbols,
                               const std::vector<uint64_t> &bases,
                               const std::vector<uint64_t> &bufferBytes) const;

private:
  std::string entry_, where_;
  std::vector<PlanSymbol> symbols_;
  std::vector<PlanBuffer> buffers_;
  std::vector<PlanLaunch> launches_;
  std::vector<PlanView> results_;
  int64_t numSlots_ = 0;
};

// Parameter slots keep an f32 in their low 4 bytes, which is where the
// driver reads a 4-byte parameter from on little-endian hosts only.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "launch parameters assume a little-endian host");

struct LaunchPlan::Launch {
  const PlanLaunch *plan = nullptr;
  std::array<uint32_t, 3> grid{};
  /// One 8-byte slot per kernel parameter (f32 in the low 4 bytes).
  std::vector<uint64_t> params;
  /// Pointers to the slots: cuLaunchKernel's kernelParams.
  std::vector<void *> paramPointers() {
    std::vector<void *> p;
    for (uint64_t &slot : params)
      p.push_back(&slot);
    return p;
  }
};

} // namespace kiln::rt

#endif // KILN_RUNTIME_LAUNCHPLAN_H
