//===- LaunchPlan.cpp - a GPU entry's launches, as data -------------------===//
#include "kiln/runtime/LaunchPlan.h"

#include "kiln/runtime/Error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <limits>

using namespace kiln::rt;
using json = nlohmann::json;

//===----------------------------------------------------------------------===//
// SizeExpr
//===----------------------------------------------------------------------===//

struct SizeExpr::Node {
  enum class Op { Const, Symbol, Add, Sub, Mul, FloorDiv, CeilDiv, Mod, Neg };
  Op op = Op::Const;
  int64_t value = 0; // Const: the value; Symbol: its index
  std::shared_ptr<const Node> lhs, rhs;
};

namespace {
using Node = SizeExpr::Node;
using NodePtr = std::shared_ptr<const Node>;

class ExprParser {
public:
  ExprParser(const std::string &text, size_t numSymbols,
             const std::string &where)
      : text(text), numSymbols(numSymbols), where(where) {}

  NodePtr parse() {
    NodePtr e = additive();
    skipSpace();
    if (pos != text.size())
      fail("unexpected '" + text.substr(pos, 1) + "'");
    return e;
  }

private:
  [[noreturn]] void fail(const std::string &why) {
    throw Error(where + ": bad size expression '" + text + "': " + why +
                " at offset " + std::to_string(pos));
  }
  void skipSpace() {
    while (pos < text.size() &&
           std::isspace(static_cast<unsigned char>(text[pos])))
      ++pos;
  }
  bool eat(const std::string &token) {
    skipSpace();
    if (text.compare(pos, token.size(), token) != 0)
      return false;
    // Keywords must not run into a following identifier character.
    if (std::isalpha(static_cast<unsigned char>(token[0])) &&
        pos + token.size() < text.size() &&
        std::isalnum(static_cast<unsigned char>(text[pos + token.size()])))
      return false;
    pos += token.size();
    return true;
  }
  static NodePtr make(Node::Op op, NodePtr lhs, NodePtr rhs = nullptr) {
    auto n = std::make_shared<Node>();
    n->op = op;
    n->lhs = std::move(lhs);
    n->rhs = std::move(rhs);
    return n;
  }
  NodePtr additive() {
    NodePtr e = term();
    while (true) {
      if (eat("+"))
        e = make(Node::Op::Add, e, term());
      else if (eat("-"))
        e = make(Node::Op::Sub, e, term());
      else
        return e;
    }
  }
  NodePtr term() {
    NodePtr e = unary();
    while (true) {
      if (eat("*"))
        e = make(Node::Op::Mul, e, unary());
      else if (eat("floordiv"))
        e = make(Node::Op::FloorDiv, e, unary());
      else if (eat("ceildiv"))
        e = make(Node::Op::CeilDiv, e, unary());
      else if (eat("mod"))
        e = make(Node::Op::Mod, e, unary());
      else
        return e;
    }
  }
  NodePtr unary() {
    if (eat("-")) {
      if (++depth > 200)
        fail("nested too deeply");
      NodePtr operand = unary();
      --depth;
      return make(Node::Op::Neg, operand);
    }
    return primary();
  }
  NodePtr primary() {
    skipSpace();
    if (++depth > 200)
      fail("nested too deeply");
    if (eat("(")) {
      NodePtr e = additive();
      if (!eat(")"))
        fail("expected ')'");
      --depth;
      return e;
    }
    --depth;
    auto n = std::make_shared<Node>();
    if (pos < text.size() && text[pos] == 's') {
      ++pos;
      n->op = Node::Op::Symbol;
      n->value = number();
      if (static_cast<size_t>(n->value) >= numSymbols)
        fail("symbol s" + std::to_string(n->value) + " but the plan has " +
             std::to_string(numSymbols));
      return n;
    }
    n->op = Node::Op::Const;
    n->value = number();
    return n;
  }
  int64_t number() {
    size_t start = pos;
    int64_t v = 0;
    while (pos < text.size() &&
           std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (__builtin_mul_overflow(v, 10, &v) ||
          __builtin_add_overflow(v, text[pos] - '0', &v))
        fail("number too large");
      ++pos;
    }
    if (pos == start)
      fail("expected a number or a symbol");
    return v;
  }

  const std::string &text;
  size_t numSymbols;
  const std::string &where;
  size_t pos = 0;
  int depth = 0;
};

int64_t evalNode(const Node &n, const std::vector<int64_t> &s,
                 const std::string &text) {
  auto overflow = [&]() -> int64_t {
    throw Error("size expression '" + text + "' overflows");
  };
  if (n.op == Node::Op::Const)
    return n.value;
  if (n.op == Node::Op::Symbol)
    return s.at(n.value);
  int64_t a = evalNode(*n.lhs, s, text), r = 0;
  if (n.op == Node::Op::Neg)
    return __builtin_sub_overflow(int64_t(0), a, &r) ? overflow() : r;
  int64_t b = evalNode(*n.rhs, s, text);
  switch (n.op) {
  case Node::Op::Add:
    return __builtin_add_overflow(a, b, &r) ? overflow() : r;
  case Node::Op::Sub:
    return __builtin_sub_overflow(a, b, &r) ? overflow() : r;
  case Node::Op::Mul:
    return __builtin_mul_overflow(a, b, &r) ? overflow() : r;
  default:
    break;
  }
  if (b == 0)
    throw Error("size expression '" + text + "' divides by zero");
  if (a == std::numeric_limits<int64_t>::min() && b == -1)
    return overflow();
  int64_t q = a / b, m = a % b;
  // Affine floordiv, ceildiv and mod round towards -inf / +inf; mod has
  // the sign of the divisor.
  bool inexact = m != 0, negative = (m < 0) != (b < 0);
  switch (n.op) {
  case Node::Op::FloorDiv:
    return inexact && negative ? q - 1 : q;
  case Node::Op::CeilDiv:
    return inexact && !negative ? q + 1 : q;
  case Node::Op::Mod:
    return inexact && negative ? m + b : m;
  default:
    throw Error("size expression '" + text + "': bad operator");
  }
}
} // namespace

SizeExpr::SizeExpr() {
  auto zero = std::make_shared<Node>();
  root = zero;
  text_ = "0";
}

SizeExpr SizeExpr::parse(const std::string &text, size_t numSymbols,
                         const std::string &where) {
  SizeExpr e;
  e.root = ExprParser(text, numSymbols, where).parse();
  e.text_ = text;
  return e;
}

int64_t SizeExpr::eval(const std::vector<int64_t> &symbols) const {
  return evalNode(*root, symbols, text_);
}

//===----------------------------------------------------------------------===//
// LaunchPlan
//===----------------------------------------------------------------------===//

namespace {
class PlanReader {
public:
  explicit PlanReader(std::string where) : where(std::move(where)) {}

  [[noreturn]] void fail(const std::string &path, const std::string &why) {
    throw Error(where + ": " + path + ": " + why);
  }
  const json &field(const json &obj, const std::string &key,
                    const std::string &path) {
    if (!obj.is_object())
      fail(path, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end())
      fail(path, "missing \"" + key + "\"");
    return *it;
  }
  const json &array(const json &obj, const std::string &key,
                    const std::string &path) {
    const json &v = field(obj, key, path);
    if (!v.is_array())
      fail(path + "." + key, "expected an array");
    return v;
  }
  std::string string(const json &v, const std::string &path) {
    if (!v.is_string())
      fail(path, "expected a string");
    return v.get<std::string>();
  }
  int64_t integer(const json &v, const std::string &path, int64_t min,
                  int64_t max) {
    if (!v.is_number_integer())
      fail(path, "expected an integer");
    int64_t x = v.get<int64_t>();
    if (x < min || x > max)
      fail(path, "expected an integer in [" + std::to_string(min) + ", " +
                     std::to_string(max) + "], got " + std::to_string(x));
    return x;
  }
  SizeExpr expr(const json &v, const std::string &path) {
    return SizeExpr::parse(string(v, path), numSymbols, where + ": " + path);
  }
  PlanView view(const json &v, const std::string &path, size_t numBuffers) {
    PlanView view;
    view.buffer = integer(field(v, "buffer", path), path + ".buffer", 0,
                          static_cast<int64_t>(numBuffers) - 1);
    view.offset = expr(field(v, "offset", path), path + ".offset");
    const json &sizes = array(v, "sizes", path);
    const json &strides = array(v, "strides", path);
    if (sizes.size() != strides.size())
      fail(path, "sizes and strides differ in rank");
    for (size_t d = 0; d < sizes.size(); ++d) {
      view.sizes.push_back(expr(sizes[d], path + ".sizes"));
      view.strides.push_back(expr(strides[d], path + ".strides"));
    }
    return view;
  }

  std::string where;
  size_t numSymbols = 0;
};
} // namespace

LaunchPlan LaunchPlan::fromJson(const std::string &jsonText,
                                const std::string &where) {
  json doc = json::parse(jsonText, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded())
    throw Error(where + ": the launch plan is not valid JSON");
  PlanReader r(where);
  LaunchPlan plan;
  plan.where_ = where;
  plan.entry_ = r.string(r.field(doc, "entry", "plan"), "entry");
  const json &symbols = r.array(doc, "symbols", "plan");
  for (size_t i = 0; i < symbols.size(); ++i) {
    std::string path = "symbols[" + std::to_string(i) + "]";
    PlanSymbol s;
    s.binding = r.string(r.field(symbols[i], "binding", path), path);
    if (symbols[i].contains("dim"))
      s.dim = r.integer(symbols[i]["dim"], path + ".dim", 0, 16);
    plan.symbols_.push_back(std::move(s));
  }
  r.numSymbols = plan.symbols_.size();
  const json &buffers = r.array(doc, "buffers", "plan");
  for (size_t i = 0; i < buffers.size(); ++i) {
    std::string path = "buffers[" + std::to_string(i) + "]";
    const json &b = buffers[i];
    PlanBuffer buffer;
    buffer.elementBits = r.integer(r.field(b, "element_bits", path),
                                   path + ".element_bits", 8, 64);
    if (buffer.elementBits % 8 != 0)
      r.fail(path + ".element_bits", "expected whole bytes");
    if (b.contains("workspace")) {
      buffer.kind = PlanBuffer::Kind::Workspace;
      buffer.elements =
          r.expr(r.field(b, "elements", path), path + ".elements");
      buffer.slot = b.contains("slot")
                        ? r.integer(b["slot"], path + ".slot", 0, 1 << 20)
                        : -1;
    } else if (b.contains("constant_bits")) {
      buffer.kind = PlanBuffer::Kind::Constant;
      if (buffer.elementBits != 32)
        r.fail(path + ".element_bits", "constant tables hold 32-bit values");
      const json &bits = r.array(b, "constant_bits", path);
      for (size_t k = 0; k < bits.size(); ++k)
        buffer.content.push_back(static_cast<uint32_t>(
            r.integer(bits[k], path + ".constant_bits", 0, 0xFFFFFFFFll)));
    } else {
      buffer.binding = r.string(r.field(b, "binding", path), path);
      if (buffer.binding.empty())
        r.fail(path + ".binding", "empty");
    }
    plan.buffers_.push_back(std::move(buffer));
  }
  // Slots: as the plan says, or one per buffer for plans without them.
  int64_t declaredSlots = doc.contains("workspace_slots")
                              ? r.integer(doc["workspace_slots"],
                                          "plan.workspace_slots", 0, 1 << 20)
                              : 0;
  plan.numSlots_ = declaredSlots;
  for (size_t i = 0; i < plan.buffers_.size(); ++i) {
    PlanBuffer &b = plan.buffers_[i];
    if (!b.workspace())
      continue;
    if (b.slot < 0)
      b.slot = plan.numSlots_++;
    else if (b.slot >= declaredSlots)
      r.fail("buffers[" + std::to_string(i) + "].slot",
             "slot " + std::to_string(b.slot) + " but the plan has " +
                 std::to_string(declaredSlots));
  }
  const json &launches = r.array(doc, "launches", "plan");
  for (size_t i = 0; i < launches.size(); ++i) {
    std::string path = "launches[" + std::to_string(i) + "]";
    const json &l = launches[i];
    PlanLaunch launch;
    launch.module = r.string(r.field(l, "module", path), path + ".module");
    launch.function =
        r.string(r.field(l, "function", path), path + ".function");
    const json &grid = r.array(l, "grid", path);
    const json &block = r.array(l, "block", path);
    if (grid.size() != 3 || block.size() != 3)
      r.fail(path, "grid and block need 3 entries");
    int64_t threads = 1;
    for (int d = 0; d < 3; ++d) {
      launch.grid[d] = r.expr(grid[d], path + ".grid");
      launch.block[d] =
          static_cast<uint32_t>(r.integer(block[d], path + ".block", 1, 1024));
      threads *= launch.block[d];
    }
    if (threads > 1024)
      r.fail(path + ".block", "more than 1024 threads");
    const json &args = r.array(l, "args", path);
    for (size_t a = 0; a < args.size(); ++a) {
      std::string apath = path + ".args[" + std::to_string(a) + "]";
      PlanArg arg;
      if (args[a].contains("memref")) {
        arg.kind = PlanArg::Kind::Memref;
        arg.view =
            r.view(args[a]["memref"], apath + ".memref", plan.buffers_.size());
      } else if (args[a].contains("index")) {
        arg.kind = PlanArg::Kind::Index;
        arg.index = r.expr(args[a]["index"], apath + ".index");
      } else if (args[a].contains("f32_bits")) {
        arg.kind = PlanArg::Kind::F32;
        arg.f32Bits = static_cast<uint32_t>(r.integer(
            args[a]["f32_bits"], apath + ".f32_bits", 0, 0xFFFFFFFFll));
      } else {
        r.fail(apath, "expected \"memref\", \"index\" or \"f32_bits\"");
      }
      launch.args.push_back(std::move(arg));
    }
    plan.launches_.push_back(std::move(launch));
  }
  const json &results = r.array(doc, "results", "plan");
  for (size_t i = 0; i < results.size(); ++i)
    plan.results_.push_back(r.view(results[i],
                                   "results[" + std::to_string(i) + "]",
                                   plan.buffers_.size()));
  return plan;
}

uint64_t LaunchPlan::workspaceBytes(size_t buffer,
                                    const std::vector<int64_t> &symbols) const {
  const PlanBuffer &b = buffers_.at(buffer);
  if (!b.workspace())
    return 0;
  int64_t elements = b.elements.eval(symbols);
  uint64_t bytes = 0;
  if (elements < 0 ||
      __builtin_mul_overflow(static_cast<uint64_t>(elements),
                             static_cast<uint64_t>(b.elementBits / 8), &bytes))
    throw Error(where_ + ": workspace buffer " + std::to_string(buffer) +
                " has a bad size (" + b.elements.text() + ")");
  return bytes;
}

uint64_t LaunchPlan::slotBytes(int64_t slot,
                               const std::vector<int64_t> &symbols) const {
  uint64_t bytes = 0;
  for (size_t b = 0; b < buffers_.size(); ++b)
    if (buffers_[b].workspace() && buffers_[b].slot == slot)
      bytes = std::max(bytes, workspaceBytes(b, symbols));
  return bytes;
}

std::vector<LaunchPlan::Launch>
LaunchPlan::evaluate(const std::vector<int64_t> &symbols,
                     const std::vector<uint64_t> &bases,
                     const std::vector<uint64_t> &bufferBytes) const {
  if (symbols.size() != symbols_.size() || bases.size() != buffers_.size() ||
      bufferBytes.size() != buffers_.size())
    throw Error(where_ + ": evaluate() got " + std::to_string(symbols.size()) +
                " symbols and " + std::to_string(bases.size()) +
                " buffers; the plan has " + std::to_string(symbols_.size()) +
                " and " + std::to_string(buffers_.size()));
  std::vector<Launch> out;
  out.reserve(launches_.size());
  for (size_t i = 0; i < launches_.size(); ++i) {
    const PlanLaunch &pl = launches_[i];
    std::string name = pl.module + " (launch " + std::to_string(i) + ")";
    Launch launch;
    launch.plan = &pl;
    for (int d = 0; d < 3; ++d) {
      int64_t g = pl.grid[d].eval(symbols);
      int64_t limit = d == 0 ? 0x7FFFFFFF : 65535;
      if (g < 1 || g > limit)
        throw Error(where_ + ": " + name + ": grid size " + std::to_string(g) +
                    " (" + pl.grid[d].text() + ") out of [1, " +
                    std::to_string(limit) + "]");
      launch.grid[d] = static_cast<uint32_t>(g);
    }
    for (const PlanArg &arg : pl.args) {
      if (arg.kind == PlanArg::Kind::Index) {
        launch.params.push_back(static_cast<uint64_t>(arg.index.eval(symbols)));
        continue;
      }
      if (arg.kind == PlanArg::Kind::F32) {
        launch.params.push_back(arg.f32Bits);
        continue;
      }
      const PlanView &v = arg.view;
      uint64_t base = bases[v.buffer];
      int64_t offset = v.offset.eval(symbols);
      // The last element the view can touch must lie in its buffer.
      int64_t last = offset;
      bool empty = false;
      std::vector<int64_t> sizes, strides;
      for (size_t d = 0; d < v.sizes.size(); ++d) {
        sizes.push_back(v.sizes[d].eval(symbols));
        strides.push_back(v.strides[d].eval(symbols));
        empty |= sizes.back() == 0;
        if (sizes.back() < 0 || strides.back() < 0)
          throw Error(where_ + ": " + name + ": negative size or stride");
        int64_t extent = 0;
        if (sizes.back() > 0 &&
            (__builtin_mul_overflow(sizes.back() - 1, strides.back(),
                                    &extent) ||
             __builtin_add_overflow(last, extent, &last)))
          throw Error(where_ + ": " + name + ": a view's extent overflows");
      }
      uint64_t elementBytes = buffers_[v.buffer].elementBits / 8;
      uint64_t endBytes = 0;
      if (offset < 0 ||
          (!empty && (__builtin_mul_overflow(static_cast<uint64_t>(last) + 1,
                                             elementBytes, &endBytes) ||
                      endBytes > bufferBytes[v.buffer])))
        throw Error(where_ + ": " + name + ": a view of buffer " +
                    std::to_string(v.buffer) + " reaches element " +
                    std::to_string(last) + ", past its " +
                    std::to_string(bufferBytes[v.buffer] / elementBytes) +
                    " elements");
      launch.params.push_back(base); // allocated pointer
      launch.params.push_back(base); // aligned pointer
      launch.params.push_back(static_cast<uint64_t>(offset));
      for (int64_t s : sizes)
        launch.params.push_back(static_cast<uint64_t>(s));
      for (int64_t s : strides)
        launch.params.push_back(static_cast<uint64_t>(s));
    }
    out.push_back(std::move(launch));
  }
  return out;
}
