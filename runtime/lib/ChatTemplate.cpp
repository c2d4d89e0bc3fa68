//===- ChatTemplate.cpp - Jinja2-subset chat templates --------------------===//
//
// A small interpreter for the part of Jinja2 that Hugging Face chat
// templates use, configured like transformers' environment: trim_blocks,
// lstrip_blocks, loop controls, and `tojson` defined as Python's json.dumps
// (ensure_ascii=False, no key sorting, no HTML escaping). Supported:
//
//   Syntax       text, {{ expr }}, {% stmt %}, {# comment #}; `-` and `+`
//                whitespace control; trim_blocks and lstrip_blocks apply to
//                block tags and comments; one trailing newline is dropped.
//   Statements   if / elif / else; for x [, y] in e [if cond] with else,
//                break, continue and loop.index, index0, revindex,
//                revindex0, first, last, length, previtem, nextitem, cycle;
//                set x = e, set x, y = e, set ns.attr = e, set x ... endset;
//                generation ... endgeneration (rendered as is).
//   Expressions  literals (strings with Python escapes, ints, floats,
//                true/false/none in both spellings, lists, tuples, dicts
//                with string keys), names, .attr, [key], [a:b:c], calls,
//                |filters, `is [not] test`, in / not in, not / and / or,
//                chained comparisons, ~ + - * / // % **, unary - +,
//                `a if c else b`.
//   Filters      trim length count upper lower capitalize title string int
//                float default d first last join list reverse replace
//                tojson items.
//   Tests        defined undefined none string mapping iterable sequence
//                number integer float boolean true false callable odd even
//                divisibleby eq equalto == ne != in.
//   Methods      str: strip lstrip rstrip startswith endswith split upper
//                lower replace title capitalize join;
//                dict: get items keys values.
//   Globals      raise_exception(msg), namespace(...), range(...).
//   Not here     macro, call, filter, include, import, extends, block, with
//                and raw statements; `%` string formatting; other filters,
//                tests, methods and globals (e.g. strftime_now).
//
// Values behave like their Python counterparts (printing, truthiness,
// equality, ordering) and undefined values like Jinja's default Undefined.
// Errors name the origin, line and column: syntax and statements when
// parsing; filters, tests, methods and functions when evaluated.
//
//===----------------------------------------------------------------------===//

#include "kiln/runtime/ChatTemplate.h"

#include "kiln/runtime/Error.h"

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <utility>

using namespace kiln::rt;

namespace {

//===----------------------------------------------------------------------===//
// Limits and errors
//===----------------------------------------------------------------------===//

// Bounds that stop a runaway template; real ones stay far below them.
constexpr size_t kMaxStringBytes = size_t(16) << 20; // output, any one string
constexpr size_t kMaxItems = size_t(1) << 20;        // any one list or dict
constexpr int64_t kMaxRange = 100000;                // as Jinja's sandbox
constexpr int kMaxNesting = 128;     // parser recursion, container depth
constexpr int kMaxExprHeight = 1000; // e.g. `a + b + ...`
constexpr uint64_t kMaxIterations = 2000000;     // over a whole render
constexpr uint64_t kMaxWork = uint64_t(1) << 28; // see chargeWork()

/// The template text and its name, for error positions.
struct Source {
  std::string origin;
  std::string text;

  [[noreturn]] void fail(size_t pos, const std::string &message) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
        ++column;
      }
    }
    throw Error(origin + ":" + std::to_string(line) + ":" +
                std::to_string(column) + ": " + message);
  }
};

/// A failure in a value operation; the evaluator adds the position.
struct ValueError {
  std::string message;
};

[[noreturn]] void valueError(const std::string &message) {
  throw ValueError{message};
}

void checkLength(size_t bytes) {
  if (bytes > kMaxStringBytes)
    valueError("text exceeds the 16 MiB limit");
}

/// The work left to the render running on this thread (null outside one).
/// Evaluation and value operations charge what they copy or scan, in bytes
/// or items, so that loops over big values end instead of running for hours.
thread_local uint64_t *workLeft = nullptr;

void chargeWork(uint64_t units) {
  if (!workLeft)
    return;
  if (units > *workLeft)
    valueError("template does too much work (big values in long loops)");
  *workLeft -= units;
}

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

struct Value;

/// A Python list or tuple.
struct List {
  std::vector<Value> items;
  bool isTuple = false;
  int depth = 1;
};

/// A dict (insertion-ordered, string keys) or a namespace() object.
struct Map {
  std::vector<std::pair<std::string, Value>> entries;
  int depth = 1;
  const Value *find(const std::string &key) const;
  void set(const std::string &key, Value value);
};

/// What the `loop` variable of a for loop reads.
struct LoopState {
  std::shared_ptr<const std::vector<Value>> items;
  size_t index0 = 0;
};

enum class Kind : uint8_t {
  Undefined,
  None,
  Bool,
  Int,
  Float,
  String,
  List,
  Dict,
  Namespace,
  Function,
  Loop
};

struct Value {
  Kind kind = Kind::Undefined;
  union {
    int64_t integer = 0; // Bool, Int
    double real;         // Float
  };
  std::string text; // String: the text; Function: its name; Undefined: why
  std::shared_ptr<void> object; // List; Map for Dict, Namespace; LoopState

  bool is(Kind k) const { return kind == k; }
  List &list() const { return *static_cast<List *>(object.get()); }
  Map &map() const { return *static_cast<Map *>(object.get()); }
  LoopState &loop() const { return *static_cast<LoopState *>(object.get()); }
  bool isInteger() const { return is(Kind::Bool) || is(Kind::Int); }
  bool isNumber() const { return isInteger() || is(Kind::Float); }
  double asDouble() const { return is(Kind::Float) ? real : double(integer); }
};

Value makeValue(Kind kind) {
  Value v;
  v.kind = kind;
  return v;
}
Value makeUndefined(std::string why) {
  Value v;
  v.text = std::move(why);
  return v;
}
Value makeNone() { return makeValue(Kind::None); }
Value makeBool(bool b) {
  Value v = makeValue(Kind::Bool);
  v.integer = b;
  return v;
}
Value makeInt(int64_t i) {
  Value v = makeValue(Kind::Int);
  v.integer = i;
  return v;
}
Value makeFloat(double d) {
  Value v = makeValue(Kind::Float);
  v.real = d;
  return v;
}
Value makeString(std::string s) {
  Value v = makeValue(Kind::String);
  v.text = std::move(s);
  return v;
}
Value makeFunction(std::string name) {
  Value v = makeValue(Kind::Function);
  v.text = std::move(name);
  return v;
}

int depthOf(const Value &v) {
  if (v.is(Kind::List))
    return v.list().depth;
  if (v.is(Kind::Dict) || v.is(Kind::Namespace))
    return v.map().depth;
  return 0;
}

// Bounded depth keeps printing, comparing and destroying values off deep
// recursion.
int containerDepth(int deepestChild) {
  if (deepestChild >= kMaxNesting)
    valueError("values are nested too deeply");
  return deepestChild + 1;
}

Value makeList(std::vector<Value> items, bool isTuple = false) {
  if (items.size() > kMaxItems)
    valueError("a list may hold at most " + std::to_string(kMaxItems) +
               " items");
  chargeWork(items.size());
  auto list = std::make_shared<List>();
  int deepest = 0;
  for (const Value &item : items)
    deepest = std::max(deepest, depthOf(item));
  list->depth = containerDepth(deepest);
  list->items = std::move(items);
  list->isTuple = isTuple;
  Value v = makeValue(Kind::List);
  v.object = std::move(list);
  return v;
}

Value makeMap(Kind kind, std::vector<std::pair<std::string, Value>> entries) {
  auto map = std::make_shared<Map>();
  std::unordered_map<std::string, size_t> index; // a repeated key: last wins
  int deepest = 0;
  for (auto &[key, value] : entries) {
    deepest = std::max(deepest, depthOf(value));
    auto [it, inserted] = index.emplace(key, map->entries.size());
    if (inserted)
      map->entries.emplace_back(std::move(key), std::move(value));
    else
      map->entries[it->second].second = std::move(value);
  }
  map->depth = containerDepth(deepest);
  Value v = makeValue(kind);
  v.object = std::move(map);
  return v;
}

const Value *Map::find(const std::string &key) const {
  chargeWork(entries.size());
  for (const auto &entry : entries)
    if (entry.first == key)
      return &entry.second;
  return nullptr;
}

void Map::set(const std::string &key, Value value) {
  depth = std::max(depth, containerDepth(depthOf(value)));
  for (auto &entry : entries)
    if (entry.first == key) {
      entry.second = std::move(value);
      return;
    }
  if (entries.size() >= kMaxItems)
    valueError("too many attributes");
  entries.emplace_back(key, std::move(value));
}

/// The name Python gives the value's type.
std::string typeName(const Value &v) {
  switch (v.kind) {
  case Kind::Undefined:
    return "Undefined";
  case Kind::None:
    return "NoneType";
  case Kind::Bool:
    return "bool";
  case Kind::Int:
    return "int";
  case Kind::Float:
    return "float";
  case Kind::String:
    return "str";
  case Kind::List:
    return v.list().isTuple ? "tuple" : "list";
  case Kind::Dict:
    return "dict";
  case Kind::Namespace:
    return "Namespace";
  case Kind::Function:
    return "builtin_function_or_method";
  case Kind::Loop:
    return "LoopContext";
  }
  return "object";
}

//===----------------------------------------------------------------------===//
// Python string operations on UTF-8 text
//===----------------------------------------------------------------------===//

bool isContinuationByte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

/// The code point at `pos`, moving `pos` past it; a malformed byte yields
/// -1 and is skipped alone.
int32_t decodeAt(const std::string &s, size_t &pos) {
  utf8proc_int32_t cp = -1;
  utf8proc_ssize_t n = utf8proc_iterate(
      reinterpret_cast<const utf8proc_uint8_t *>(s.data()) + pos,
      static_cast<utf8proc_ssize_t>(s.size() - pos), &cp);
  if (n <= 0) {
    ++pos;
    return -1;
  }
  pos += static_cast<size_t>(n);
  return cp;
}

void appendCodepoint(std::string &out, int32_t cp) {
  utf8proc_uint8_t buf[4];
  utf8proc_ssize_t n = utf8proc_encode_char(cp, buf);
  out.append(reinterpret_cast<const char *>(buf), static_cast<size_t>(n));
}

/// Byte offsets at which the characters of `s` start, then s.size().
std::vector<size_t> charOffsets(const std::string &s) {
  chargeWork(s.size());
  std::vector<size_t> offsets;
  for (size_t i = 0; i < s.size(); ++i)
    if (i == 0 || !isContinuationByte(s[i]))
      offsets.push_back(i);
  offsets.push_back(s.size());
  return offsets;
}

size_t charCount(const std::string &s) {
  chargeWork(s.size());
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i)
    n += i == 0 || !isContinuationByte(s[i]);
  return n;
}

/// Python's str.isspace() for one code point.
bool isSpace(int32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) ||
         cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/// The end of the whitespace that starts at `pos`.
size_t skipSpace(const std::string &s, size_t pos) {
  while (pos < s.size()) {
    size_t next = pos;
    if (!isSpace(decodeAt(s, next)))
      break;
    pos = next;
  }
  return pos;
}

/// Python's str.strip family; a null `chars` strips whitespace.
std::string strip(const std::string &s, const std::string *chars, bool left,
                  bool right) {
  chargeWork(s.size());
  auto strippable = [&](size_t from, size_t to) {
    if (chars)
      return chars->find(s.substr(from, to - from)) != std::string::npos;
    return isSpace(decodeAt(s, from));
  };
  size_t begin = 0, end = s.size();
  while (left && begin < end) {
    size_t next = begin + 1;
    while (next < end && isContinuationByte(s[next]))
      ++next;
    if (!strippable(begin, next))
      break;
    begin = next;
  }
  while (right && end > begin) {
    size_t last = end - 1;
    while (last > begin && isContinuationByte(s[last]))
      --last;
    if (!strippable(last, end))
      break;
    end = last;
  }
  return s.substr(begin, end - begin);
}

enum class Case { Upper, Lower, Title };

/// Python's one-to-several case mappings (SpecialCasing.txt) where they
/// differ from the one-to-one mappings utf8proc gives.
struct SpecialCase {
  int32_t cp;
  const char *upper, *lower, *title;
};
const SpecialCase kSpecialCases[] = {{0xDF, "SS", nullptr, "Ss"},
                                     {0x130, nullptr, "i\xCC\x87", nullptr},
                                     {0x149, "\xCA\xBCN", nullptr, "\xCA\xBCN"},
                                     {0xFB00, "FF", nullptr, "Ff"},
                                     {0xFB01, "FI", nullptr, "Fi"},
                                     {0xFB02, "FL", nullptr, "Fl"},
                                     {0xFB03, "FFI", nullptr, "Ffi"},
                                     {0xFB04, "FFL", nullptr, "Ffl"},
                                     {0xFB05, "ST", nullptr, "St"},
                                     {0xFB06, "ST", nullptr, "St"}};

void appendCased(std::string &out, int32_t cp, Case target) {
  for (const SpecialCase &special : kSpecialCases) {
    const char *mapped = target == Case::Upper   ? special.upper
                         : target == Case::Lower ? special.lower
                                                 : special.title;
    if (special.cp == cp && mapped) {
      out += mapped;
      return;
    }
  }
  appendCodepoint(out, target == Case::Upper   ? utf8proc_toupper(cp)
                       : target == Case::Lower ? utf8proc_tolower(cp)
                                               : utf8proc_totitle(cp));
}

enum class CaseStyle { Upper, Lower, Capitalize, Title };

/// Python's str.upper/lower/capitalize/title.
std::string changeCase(const std::string &s, CaseStyle style) {
  chargeWork(s.size());
  std::string out;
  bool previousCased = false;
  for (size_t pos = 0; pos < s.size();) {
    size_t start = pos;
    int32_t cp = decodeAt(s, pos);
    if (cp < 0) {
      out.append(s, start, pos - start);
      previousCased = false;
      continue;
    }
    Case target = style == CaseStyle::Upper ? Case::Upper : Case::Lower;
    if ((style == CaseStyle::Capitalize && start == 0) ||
        (style == CaseStyle::Title && !previousCased))
      target = Case::Title;
    appendCased(out, cp, target);
    utf8proc_category_t category = utf8proc_category(cp);
    previousCased = category == UTF8PROC_CATEGORY_LU ||
                    category == UTF8PROC_CATEGORY_LL ||
                    category == UTF8PROC_CATEGORY_LT;
  }
  return out;
}

/// Jinja's `title` filter (not str.title): words start after whitespace
/// or one of "-({[<".
std::string jinjaTitle(const std::string &s) {
  chargeWork(s.size());
  std::string out;
  bool wordStart = true;
  for (size_t pos = 0; pos < s.size();) {
    size_t start = pos;
    int32_t cp = decodeAt(s, pos);
    if (cp < 0) {
      out.append(s, start, pos - start);
      wordStart = false;
      continue;
    }
    bool separator =
        isSpace(cp) || (cp > 0 && cp < 128 && std::strchr("-({[<", char(cp)));
    if (separator)
      appendCodepoint(out, cp);
    else
      appendCased(out, cp, wordStart ? Case::Upper : Case::Lower);
    wordStart = separator;
  }
  return out;
}

/// Python's str.split; a null `sep` splits at runs of whitespace.
std::vector<Value> splitString(const std::string &s, const std::string *sep,
                               int64_t maxsplit) {
  chargeWork(s.size());
  std::vector<Value> parts;
  auto add = [&](std::string part) {
    if (parts.size() >= kMaxItems)
      valueError("split() gives too many parts");
    parts.push_back(makeString(std::move(part)));
  };
  auto splitsLeft = [&] {
    return maxsplit < 0 || int64_t(parts.size()) < maxsplit;
  };
  if (sep) {
    if (sep->empty())
      valueError("empty separator");
    size_t pos = 0;
    for (size_t hit;
         splitsLeft() && (hit = s.find(*sep, pos)) != std::string::npos;
         pos = hit + sep->size())
      add(s.substr(pos, hit - pos));
    add(s.substr(pos));
    return parts;
  }
  for (size_t pos = skipSpace(s, 0); pos < s.size();) {
    if (!splitsLeft()) {
      add(s.substr(pos));
      break;
    }
    size_t end = pos;
    while (end < s.size()) {
      size_t next = end;
      if (isSpace(decodeAt(s, next)))
        break;
      end = next;
    }
    add(s.substr(pos, end - pos));
    pos = skipSpace(s, end);
  }
  return parts;
}

/// Python's str.replace; a negative `count` replaces all.
std::string replaceText(const std::string &s, const std::string &old,
                        const std::string &with, int64_t count) {
  chargeWork(s.size());
  std::string out;
  auto add = [&](const std::string &part) {
    out += part;
    checkLength(out.size());
  };
  if (old.empty()) { // Python inserts `with` around every character
    std::vector<size_t> at = charOffsets(s);
    for (size_t k = 0; k < at.size(); ++k) {
      if (count < 0 || int64_t(k) < count)
        add(with);
      if (k + 1 < at.size())
        add(s.substr(at[k], at[k + 1] - at[k]));
    }
    return out;
  }
  size_t pos = 0;
  for (int64_t done = 0; count < 0 || done < count; ++done) {
    size_t hit = s.find(old, pos);
    if (hit == std::string::npos)
      break;
    add(s.substr(pos, hit - pos));
    add(with);
    pos = hit + old.size();
  }
  add(s.substr(pos));
  return out;
}

/// Python's int(text, base); nullopt where Python raises ValueError.
std::optional<int64_t> parseInt(const std::string &text, int64_t base) {
  std::string s = strip(text, nullptr, true, true);
  size_t pos = 0;
  bool negative = false;
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-'))
    negative = s[pos++] == '-';
  auto prefixed = [&](char letter) {
    return pos + 1 < s.size() && s[pos] == '0' &&
           std::tolower(static_cast<unsigned char>(s[pos + 1])) == letter;
  };
  if (base == 0) {
    base = prefixed('x') ? 16 : prefixed('o') ? 8 : prefixed('b') ? 2 : 10;
    // Python rejects leading zeros such as "012" when guessing the base.
    if (base == 10 && pos + 1 < s.size() && s[pos] == '0' &&
        s.find_first_not_of("0_", pos) != std::string::npos)
      return std::nullopt;
  }
  if (base < 2 || base > 36)
    return std::nullopt;
  if ((base == 16 && prefixed('x')) || (base == 8 && prefixed('o')) ||
      (base == 2 && prefixed('b'))) {
    pos += 2;
    if (pos < s.size() && s[pos] == '_')
      ++pos;
  }
  int64_t value = 0;
  bool any = false, lastUnderscore = false;
  for (; pos < s.size(); ++pos) {
    unsigned char c = s[pos];
    if (c == '_') {
      if (!any || lastUnderscore)
        return std::nullopt;
      lastUnderscore = true;
      continue;
    }
    int digit = std::isdigit(c)   ? c - '0'
                : std::isalpha(c) ? std::tolower(c) - 'a' + 10
                                  : 99;
    if (digit >= base)
      return std::nullopt;
    if (__builtin_mul_overflow(value, base, &value) ||
        __builtin_add_overflow(value, digit, &value))
      valueError("integer overflow");
    any = true;
    lastUnderscore = false;
  }
  if (!any || lastUnderscore)
    return std::nullopt;
  return negative ? -value : value;
}

/// Python's float(text); nullopt where Python raises ValueError.
std::optional<double> parseFloat(const std::string &text) {
  std::string s = strip(text, nullptr, true, true);
  std::string lower;
  for (char c : s)
    lower += char(std::tolower(static_cast<unsigned char>(c)));
  size_t signLength = !lower.empty() && (lower[0] == '+' || lower[0] == '-');
  std::string word = lower.substr(signLength);
  double sign = signLength && lower[0] == '-' ? -1.0 : 1.0;
  if (word == "inf" || word == "infinity")
    return sign * HUGE_VAL;
  if (word == "nan")
    return std::nan("");
  std::string clean = s.substr(0, signLength);
  size_t pos = signLength;
  auto digits = [&] {
    size_t count = 0;
    while (pos < s.size()) {
      if (std::isdigit(static_cast<unsigned char>(s[pos]))) {
        clean += s[pos++];
        ++count;
      } else if (s[pos] == '_' && count && pos + 1 < s.size() &&
                 std::isdigit(static_cast<unsigned char>(s[pos + 1]))) {
        ++pos;
      } else {
        break;
      }
    }
    return count;
  };
  size_t mantissaDigits = digits();
  if (pos < s.size() && s[pos] == '.') {
    clean += s[pos++];
    mantissaDigits += digits();
  }
  if (mantissaDigits == 0)
    return std::nullopt;
  if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
    clean += s[pos++];
    if (pos < s.size() && (s[pos] == '+' || s[pos] == '-'))
      clean += s[pos++];
    if (digits() == 0)
      return std::nullopt;
  }
  if (pos != s.size())
    return std::nullopt;
  return std::strtod(clean.c_str(), nullptr);
}

//===----------------------------------------------------------------------===//
// Printing: str(), repr() and json.dumps()
//===----------------------------------------------------------------------===//

/// Python's repr() of a float: the shortest digits that read back the same,
/// positional for exponents -4..15, else scientific.
std::string formatFloat(double d) {
  if (std::isnan(d))
    return "nan";
  if (std::isinf(d))
    return d < 0 ? "-inf" : "inf";
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*e", precision - 1, d);
    if (std::strtod(buf, nullptr) == d)
      break;
  }
  std::string s = buf, sign;
  if (s[0] == '-') {
    sign = "-";
    s.erase(0, 1);
  }
  size_t e = s.find('e');
  int exponent = std::atoi(s.c_str() + e + 1);
  std::string digits = s.substr(0, 1) + (e > 2 ? s.substr(2, e - 2) : "");
  while (digits.size() > 1 && digits.back() == '0')
    digits.pop_back();
  int point = exponent + 1; // digits before the decimal point
  if (point > -4 && point <= 16) {
    if (point <= 0)
      return sign + "0." + std::string(-point, '0') + digits;
    if (size_t(point) >= digits.size())
      return sign + digits + std::string(point - digits.size(), '0') + ".0";
    return sign + digits.substr(0, point) + "." + digits.substr(point);
  }
  std::string mantissa =
      digits.substr(0, 1) + (digits.size() > 1 ? "." + digits.substr(1) : "");
  std::snprintf(buf, sizeof buf, "e%c%02d", exponent < 0 ? '-' : '+',
                std::abs(exponent));
  return sign + mantissa + buf;
}

bool isPrintable(int32_t cp) {
  if (cp == ' ')
    return true;
  switch (utf8proc_category(cp)) {
  case UTF8PROC_CATEGORY_CC:
  case UTF8PROC_CATEGORY_CF:
  case UTF8PROC_CATEGORY_CS:
  case UTF8PROC_CATEGORY_CO:
  case UTF8PROC_CATEGORY_CN:
  case UTF8PROC_CATEGORY_ZS:
  case UTF8PROC_CATEGORY_ZL:
  case UTF8PROC_CATEGORY_ZP:
    return false;
  default:
    return true;
  }
}

void appendStringRepr(std::string &out, const std::string &s) {
  chargeWork(s.size());
  char quote =
      s.find('\'') != std::string::npos && s.find('"') == std::string::npos
          ? '"'
          : '\'';
  out += quote;
  for (size_t pos = 0; pos < s.size();) {
    size_t start = pos;
    int32_t cp = decodeAt(s, pos);
    char buf[16];
    if (cp == quote || cp == '\\') {
      out += '\\';
      out += char(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0 || !isPrintable(cp)) {
      uint32_t code = cp < 0 ? static_cast<unsigned char>(s[start]) : cp;
      if (code < 0x100)
        std::snprintf(buf, sizeof buf, "\\x%02x", code);
      else if (code < 0x10000)
        std::snprintf(buf, sizeof buf, "\\u%04x", code);
      else
        std::snprintf(buf, sizeof buf, "\\U%08x", code);
      out += buf;
    } else {
      out.append(s, start, pos - start);
    }
  }
  out += quote;
}

void appendRepr(std::string &out, const Value &v, int level);

/// Python's str(v), as Jinja prints it (undefined prints nothing).
void appendStr(std::string &out, const Value &v, int level = 0) {
  switch (v.kind) {
  case Kind::Undefined:
    break;
  case Kind::None:
    out += "None";
    break;
  case Kind::Bool:
    out += v.integer ? "True" : "False";
    break;
  case Kind::Int:
    out += std::to_string(v.integer);
    break;
  case Kind::Float:
    out += formatFloat(v.real);
    break;
  case Kind::String:
    out += v.text;
    break;
  case Kind::Function:
    out += "<built-in function " + v.text + ">";
    break;
  case Kind::Loop:
    out += "<LoopContext " + std::to_string(v.loop().index0 + 1) + "/" +
           std::to_string(v.loop().items->size()) + ">";
    break;
  case Kind::List:
  case Kind::Dict:
  case Kind::Namespace:
    appendRepr(out, v, level);
    break;
  }
  checkLength(out.size());
}

void appendRepr(std::string &out, const Value &v, int level) {
  if (level > kMaxNesting)
    valueError("values are nested too deeply");
  if (v.is(Kind::Undefined)) {
    out += "Undefined";
  } else if (v.is(Kind::String)) {
    appendStringRepr(out, v.text);
  } else if (v.is(Kind::List)) {
    const List &list = v.list();
    out += list.isTuple ? '(' : '[';
    for (size_t i = 0; i < list.items.size(); ++i) {
      if (i)
        out += ", ";
      appendRepr(out, list.items[i], level + 1);
      checkLength(out.size());
    }
    if (list.isTuple && list.items.size() == 1)
      out += ',';
    out += list.isTuple ? ')' : ']';
  } else if (v.is(Kind::Dict) || v.is(Kind::Namespace)) {
    bool isNamespace = v.is(Kind::Namespace);
    out += isNamespace ? "<Namespace {" : "{";
    const char *separator = "";
    for (const auto &[key, value] : v.map().entries) {
      out += separator;
      separator = ", ";
      appendStringRepr(out, key);
      out += ": ";
      appendRepr(out, value, level + 1);
      checkLength(out.size());
    }
    out += isNamespace ? "}>" : "}";
  } else {
    appendStr(out, v, level);
  }
}

std::string str(const Value &v) {
  if (v.is(Kind::String))
    return v.text;
  std::string s;
  appendStr(s, v);
  return s;
}

/// The options of transformers' tojson filter that are supported.
struct JsonStyle {
  bool ensureAscii = false;
  std::optional<int64_t> indent;
  bool sortKeys = false;
};

void appendJsonString(std::string &out, const std::string &s,
                      bool ensureAscii) {
  chargeWork(s.size());
  out += '"';
  char buf[16];
  for (size_t pos = 0; pos < s.size();) {
    unsigned char c = s[pos];
    const char *escape = c == '"'    ? "\\\""
                         : c == '\\' ? "\\\\"
                         : c == '\n' ? "\\n"
                         : c == '\r' ? "\\r"
                         : c == '\t' ? "\\t"
                         : c == '\b' ? "\\b"
                         : c == '\f' ? "\\f"
                                     : nullptr;
    if (escape || c < 0x20) {
      if (!escape)
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += escape ? escape : buf;
      ++pos;
      continue;
    }
    if (c == 0x7F && ensureAscii) {
      out += "\\u007f";
      ++pos;
      continue;
    }
    size_t start = pos;
    int32_t cp = c < 0x80 || !ensureAscii ? -1 : decodeAt(s, pos);
    if (cp < 0) {
      out += s[start];
      pos = start + 1;
      continue;
    }
    if (cp >= 0x10000)
      std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x",
                    0xD800 + ((cp - 0x10000) >> 10),
                    0xDC00 + ((cp - 0x10000) & 0x3FF));
    else
      std::snprintf(buf, sizeof buf, "\\u%04x", cp);
    out += buf;
  }
  out += '"';
}

void appendJson(std::string &out, const Value &v, const JsonStyle &style,
                int level) {
  if (level > kMaxNesting)
    valueError("values are nested too deeply");
  auto newline = [&](int depth) {
    if (style.indent) {
      out += '\n';
      out.append(size_t(*style.indent) * depth, ' ');
    }
  };
  const char *itemSeparator = style.indent ? "," : ", ";
  switch (v.kind) {
  case Kind::None:
    out += "null";
    break;
  case Kind::Bool:
    out += v.integer ? "true" : "false";
    break;
  case Kind::Int:
    out += std::to_string(v.integer);
    break;
  case Kind::Float:
    out += std::isnan(v.real)   ? "NaN"
           : std::isinf(v.real) ? (v.real < 0 ? "-Infinity" : "Infinity")
                                : formatFloat(v.real);
    break;
  case Kind::String:
    appendJsonString(out, v.text, style.ensureAscii);
    break;
  case Kind::List: {
    const std::vector<Value> &items = v.list().items;
    if (items.empty()) {
      out += "[]";
      break;
    }
    out += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i)
        out += itemSeparator;
      newline(level + 1);
      appendJson(out, items[i], style, level + 1);
    }
    newline(level);
    out += ']';
    break;
  }
  case Kind::Dict: {
    std::vector<const std::pair<std::string, Value> *> entries;
    for (const auto &entry : v.map().entries)
      entries.push_back(&entry);
    if (entries.empty()) {
      out += "{}";
      break;
    }
    if (style.sortKeys)
      std::sort(entries.begin(), entries.end(),
                [](auto *a, auto *b) { return a->first < b->first; });
    out += '{';
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i)
        out += itemSeparator;
      newline(level + 1);
      appendJsonString(out, entries[i]->first, style.ensureAscii);
      out += ": ";
      appendJson(out, entries[i]->second, style, level + 1);
    }
    newline(level);
    out += '}';
    break;
  }
  default:
    valueError("Object of type " + typeName(v) + " is not JSON serializable");
  }
  checkLength(out.size());
}

//===----------------------------------------------------------------------===//
// Python semantics of values
//===----------------------------------------------------------------------===//

bool truthy(const Value &v) {
  switch (v.kind) {
  case Kind::Undefined:
  case Kind::None:
    return false;
  case Kind::Bool:
  case Kind::Int:
    return v.integer != 0;
  case Kind::Float:
    return v.real != 0;
  case Kind::String:
    return !v.text.empty();
  case Kind::List:
    return !v.list().items.empty();
  case Kind::Dict:
    return !v.map().entries.empty();
  default:
    return true;
  }
}

bool equals(const Value &a, const Value &b, int level = 0) {
  if (level > kMaxNesting)
    valueError("values are nested too deeply");
  chargeWork(1 + std::min(a.text.size(), b.text.size()));
  if (a.isNumber() && b.isNumber())
    return a.is(Kind::Float) || b.is(Kind::Float) ? a.asDouble() == b.asDouble()
                                                  : a.integer == b.integer;
  if (a.kind != b.kind)
    return false;
  switch (a.kind) {
  case Kind::String:
  case Kind::Function:
    return a.text == b.text;
  case Kind::List: {
    const List &x = a.list(), &y = b.list();
    if (x.isTuple != y.isTuple || x.items.size() != y.items.size())
      return false;
    for (size_t i = 0; i < x.items.size(); ++i)
      if (!equals(x.items[i], y.items[i], level + 1))
        return false;
    return true;
  }
  case Kind::Dict: {
    const Map &x = a.map(), &y = b.map();
    if (x.entries.size() != y.entries.size())
      return false;
    for (const auto &[key, value] : x.entries) {
      const Value *other = y.find(key);
      if (!other || !equals(value, *other, level + 1))
        return false;
    }
    return true;
  }
  case Kind::Namespace:
  case Kind::Loop:
    return a.object == b.object;
  default: // Undefined, None
    return true;
  }
}

/// Python's `l op r` for op in < > <= >=; nullopt for unorderable types.
std::optional<bool> order(const std::string &op, const Value &l, const Value &r,
                          int level = 0) {
  if (level > kMaxNesting)
    valueError("values are nested too deeply");
  chargeWork(1 + std::min(l.text.size(), r.text.size()));
  auto apply = [&](auto a, auto b) {
    return op == "<" ? a < b : op == ">" ? a > b : op == "<=" ? a <= b : a >= b;
  };
  if (l.isNumber() && r.isNumber())
    return l.is(Kind::Float) || r.is(Kind::Float)
               ? apply(l.asDouble(), r.asDouble())
               : apply(l.integer, r.integer);
  if (l.is(Kind::String) && r.is(Kind::String))
    return apply(l.text.compare(r.text), 0);
  if (l.is(Kind::List) && r.is(Kind::List) &&
      l.list().isTuple == r.list().isTuple) {
    const std::vector<Value> &x = l.list().items, &y = r.list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
      if (!equals(x[i], y[i], level + 1))
        return order(op, x[i], y[i], level + 1);
    return apply(x.size(), y.size());
  }
  return std::nullopt;
}

/// What a for loop visits: characters, items, keys; undefined is empty.
std::vector<Value> iterate(const Value &v) {
  std::vector<Value> items;
  chargeWork(1);
  switch (v.kind) {
  case Kind::Undefined:
    break;
  case Kind::String: {
    std::vector<size_t> at = charOffsets(v.text);
    if (at.size() - 1 > kMaxItems)
      valueError("string too long to iterate");
    for (size_t k = 0; k + 1 < at.size(); ++k)
      items.push_back(makeString(v.text.substr(at[k], at[k + 1] - at[k])));
    break;
  }
  case Kind::List:
    chargeWork(v.list().items.size());
    items = v.list().items;
    break;
  case Kind::Dict:
    chargeWork(v.map().entries.size());
    for (const auto &entry : v.map().entries)
      items.push_back(makeString(entry.first));
    break;
  default:
    valueError("'" + typeName(v) + "' object is not iterable");
  }
  return items;
}

int64_t lengthOf(const Value &v) {
  switch (v.kind) {
  case Kind::Undefined:
    return 0;
  case Kind::String:
    return int64_t(charCount(v.text));
  case Kind::List:
    return int64_t(v.list().items.size());
  case Kind::Dict:
    return int64_t(v.map().entries.size());
  case Kind::Loop:
    return int64_t(v.loop().items->size());
  default:
    valueError("object of type '" + typeName(v) + "' has no len()");
  }
}

/// Python's `item in container`.
bool contains(const Value &container, const Value &item) {
  switch (container.kind) {
  case Kind::Undefined:
    return false;
  case Kind::String:
    if (!item.is(Kind::String))
      valueError("'in <string>' requires string as left operand, not " +
                 typeName(item));
    chargeWork(container.text.size());
    return container.text.find(item.text) != std::string::npos;
  case Kind::List:
    for (const Value &element : container.list().items)
      if (equals(element, item))
        return true;
    return false;
  case Kind::Dict:
    if ((item.is(Kind::List) && !item.list().isTuple) || item.is(Kind::Dict))
      valueError("unhashable type: '" + typeName(item) + "'");
    return item.is(Kind::String) && container.map().find(item.text);
  default:
    valueError("argument of type '" + typeName(container) +
               "' is not iterable");
  }
}

/// Python's divmod() for floats: the results of // and %.
std::pair<double, double> floatDivmod(double x, double y) {
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0) {
    if ((y < 0) != (mod < 0)) {
      mod += y;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, y);
  }
  double floorDiv = std::copysign(0.0, x / y);
  if (div != 0) {
    floorDiv = std::floor(div);
    if (div - floorDiv > 0.5)
      floorDiv += 1.0;
  }
  return {floorDiv, mod};
}

[[noreturn]] void overflow() { valueError("integer overflow"); }

Value numeric(const std::string &op, const Value &l, const Value &r) {
  if (!l.is(Kind::Float) && !r.is(Kind::Float)) {
    int64_t a = l.integer, b = r.integer, result = 0;
    if (op == "+" || op == "-" || op == "*") {
      bool overflowed = op == "+"   ? __builtin_add_overflow(a, b, &result)
                        : op == "-" ? __builtin_sub_overflow(a, b, &result)
                                    : __builtin_mul_overflow(a, b, &result);
      if (overflowed)
        overflow();
      return makeInt(result);
    }
    if (op == "/") {
      if (b == 0)
        valueError("division by zero");
      return makeFloat(double(a) / double(b));
    }
    if (op == "//" || op == "%") {
      if (b == 0)
        valueError("integer division or modulo by zero");
      if (a == INT64_MIN && b == -1) {
        if (op == "%")
          return makeInt(0);
        overflow();
      }
      int64_t quotient = a / b, remainder = a % b;
      if (remainder != 0 && ((remainder < 0) != (b < 0))) {
        --quotient;
        remainder += b;
      }
      return makeInt(op == "//" ? quotient : remainder);
    }
    if (op == "**" && b >= 0) {
      int64_t power = 1, base = a;
      for (int64_t e = b; e > 0; e >>= 1) {
        if ((e & 1) && __builtin_mul_overflow(power, base, &power))
          overflow();
        if (e > 1 && __builtin_mul_overflow(base, base, &base))
          overflow();
      }
      return makeInt(power);
    }
  }
  double a = l.asDouble(), b = r.asDouble();
  if (op == "+")
    return makeFloat(a + b);
  if (op == "-")
    return makeFloat(a - b);
  if (op == "*")
    return makeFloat(a * b);
  if (op == "**") {
    if (a == 0 && b < 0)
      valueError("0.0 cannot be raised to a negative power");
    return makeFloat(std::pow(a, b));
  }
  if (b == 0)
    valueError("float division by zero");
  if (op == "/")
    return makeFloat(a / b);
  auto [quotient, remainder] = floatDivmod(a, b);
  return makeFloat(op == "//" ? quotient : remainder);
}

Value repeat(const Value &sequence, int64_t times) {
  times = std::max<int64_t>(times, 0);
  if (sequence.is(Kind::String)) {
    const std::string &s = sequence.text;
    if (!s.empty() && uint64_t(times) > kMaxStringBytes / s.size())
      checkLength(kMaxStringBytes + 1);
    size_t total = s.size() * size_t(times);
    if (total == 0)
      return makeString("");
    std::string out = s;
    out.reserve(total);
    while (out.size() * 2 <= total) // doubling: `'x' * n` is not n appends
      out += out;
    out.append(out, 0, total - out.size());
    return makeString(std::move(out));
  }
  const List &list = sequence.list();
  if (!list.items.empty() && uint64_t(times) > kMaxItems / list.items.size())
    valueError("list too long");
  std::vector<Value> items;
  for (int64_t i = 0; i < times && !list.items.empty(); ++i)
    items.insert(items.end(), list.items.begin(), list.items.end());
  return makeList(std::move(items), list.isTuple);
}

/// The binary operators other than comparisons, and/or.
Value arithmetic(const std::string &op, const Value &l, const Value &r) {
  if (op == "~") {
    std::string s = str(l);
    appendStr(s, r);
    return makeString(std::move(s));
  }
  for (const Value *operand : {&l, &r})
    if (operand->is(Kind::Undefined))
      valueError(operand->text);
  if (l.isNumber() && r.isNumber())
    return numeric(op, l, r);
  if (op == "+" && l.is(Kind::String) && r.is(Kind::String)) {
    checkLength(l.text.size() + r.text.size());
    return makeString(l.text + r.text);
  }
  if (op == "+" && l.is(Kind::List) && r.is(Kind::List) &&
      l.list().isTuple == r.list().isTuple) {
    std::vector<Value> items = l.list().items;
    if (items.size() + r.list().items.size() > kMaxItems)
      valueError("list too long");
    items.insert(items.end(), r.list().items.begin(), r.list().items.end());
    return makeList(std::move(items), l.list().isTuple);
  }
  if (op == "*") {
    bool leftRepeats = l.is(Kind::String) || l.is(Kind::List);
    const Value &sequence = leftRepeats ? l : r, &count = leftRepeats ? r : l;
    if ((sequence.is(Kind::String) || sequence.is(Kind::List)) &&
        count.isInteger())
      return repeat(sequence, count.integer);
  }
  if (op == "%" && l.is(Kind::String))
    valueError("string formatting with '%' is not supported");
  valueError("unsupported operand type(s) for " + op + ": '" + typeName(l) +
             "' and '" + typeName(r) + "'");
}

bool compare(const std::string &op, const Value &l, const Value &r) {
  if (op == "==")
    return equals(l, r);
  if (op == "!=")
    return !equals(l, r);
  if (op == "in")
    return contains(r, l);
  if (op == "not in")
    return !contains(r, l);
  for (const Value *operand : {&l, &r})
    if (operand->is(Kind::Undefined))
      valueError(operand->text);
  std::optional<bool> result = order(op, l, r);
  if (!result)
    valueError("'" + op + "' not supported between instances of '" +
               typeName(l) + "' and '" + typeName(r) + "'");
  return *result;
}

std::string missingAttribute(const Value &obj, const std::string &name) {
  std::string owner =
      obj.is(Kind::None) ? "'None'" : "'" + typeName(obj) + " object'";
  return owner + " has no attribute '" + name + "'";
}

Value loopAttribute(const LoopState &loop, const std::string &name) {
  int64_t index0 = int64_t(loop.index0), length = int64_t(loop.items->size());
  if (name == "index")
    return makeInt(index0 + 1);
  if (name == "index0")
    return makeInt(index0);
  if (name == "revindex")
    return makeInt(length - index0);
  if (name == "revindex0")
    return makeInt(length - index0 - 1);
  if (name == "first")
    return makeBool(index0 == 0);
  if (name == "last")
    return makeBool(index0 + 1 == length);
  if (name == "length")
    return makeInt(length);
  if (name == "previtem")
    return index0 > 0 ? (*loop.items)[loop.index0 - 1]
                      : makeUndefined("there is no previous item");
  if (name == "nextitem")
    return index0 + 1 < length ? (*loop.items)[loop.index0 + 1]
                               : makeUndefined("there is no next item");
  return makeUndefined("'LoopContext object' has no attribute '" + name + "'");
}

/// `obj.name`: a dict's entry, a namespace's attribute or a loop field.
Value getAttribute(const Value &obj, const std::string &name) {
  if (obj.is(Kind::Undefined))
    valueError(obj.text);
  if (obj.is(Kind::Dict) || obj.is(Kind::Namespace))
    if (const Value *found = obj.map().find(name))
      return *found;
  if (obj.is(Kind::Loop))
    return loopAttribute(obj.loop(), name);
  return makeUndefined(missingAttribute(obj, name));
}

/// `obj[key]`; like Jinja, a missing key or index gives undefined.
Value getItem(const Value &obj, const Value &key) {
  if (obj.is(Kind::Undefined))
    valueError(obj.text);
  if (key.is(Kind::String))
    return getAttribute(obj, key.text);
  if (key.isInteger() && obj.is(Kind::List)) {
    const std::vector<Value> &items = obj.list().items;
    int64_t size = int64_t(items.size());
    int64_t index = key.integer < 0 ? key.integer + size : key.integer;
    if (index >= 0 && index < size)
      return items[size_t(index)];
  }
  if (key.isInteger() && obj.is(Kind::String)) {
    std::vector<size_t> at = charOffsets(obj.text);
    int64_t size = int64_t(at.size()) - 1;
    int64_t index = key.integer < 0 ? key.integer + size : key.integer;
    if (index >= 0 && index < size)
      return makeString(obj.text.substr(
          at[size_t(index)], at[size_t(index) + 1] - at[size_t(index)]));
  }
  return makeUndefined(typeName(obj) + " object has no element " + str(key));
}

//===----------------------------------------------------------------------===//
// Filters, tests and methods
//===----------------------------------------------------------------------===//

/// Evaluated call arguments.
struct Args {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keywords;
};

using Bound = std::vector<std::optional<Value>>;

/// Binds `args` to `params` like a Python signature; unset ones are empty.
Bound bind(const std::string &callee, const Args &args,
           const std::vector<std::string> &params, size_t required = 0) {
  if (args.positional.size() > params.size())
    valueError(callee + " takes at most " + std::to_string(params.size()) +
               " argument(s), got " + std::to_string(args.positional.size()));
  Bound bound(params.size());
  for (size_t i = 0; i < args.positional.size(); ++i)
    bound[i] = args.positional[i];
  for (const auto &[name, value] : args.keywords) {
    auto it = std::find(params.begin(), params.end(), name);
    if (it == params.end())
      valueError(callee + " got an unexpected keyword argument '" + name + "'");
    std::optional<Value> &slot = bound[size_t(it - params.begin())];
    if (slot)
      valueError(callee + " got multiple values for argument '" + name + "'");
    slot = value;
  }
  for (size_t i = 0; i < required; ++i)
    if (!bound[i])
      valueError(callee + " missing required argument '" + params[i] + "'");
  return bound;
}

bool isSet(const std::optional<Value> &arg) {
  return arg && !arg->is(Kind::None);
}

const std::string &stringArg(const Value &v, const std::string &what) {
  if (!v.is(Kind::String))
    valueError(what + " must be a string, not '" + typeName(v) + "'");
  return v.text;
}

int64_t intArg(const Value &v, const std::string &what) {
  if (!v.isInteger())
    valueError(what + " must be an integer, not '" + typeName(v) + "'");
  return v.integer;
}

std::vector<Value> itemPairs(const Map &map) {
  std::vector<Value> pairs;
  for (const auto &[key, value] : map.entries)
    pairs.push_back(makeList({makeString(key), value}, /*isTuple=*/true));
  return pairs;
}

/// Jinja's `int` filter: Python's int(), falling back to int(float()).
Value toInt(const Value &v, const Value &fallback, int64_t base) {
  auto fromDouble = [&](double d) {
    if (std::isnan(d))
      return fallback;
    if (!(d >= -0x1p63 && d < 0x1p63)) // outside int64_t (or infinite)
      overflow();
    return makeInt(int64_t(d));
  };
  switch (v.kind) {
  case Kind::Undefined:
    valueError(v.text);
  case Kind::Bool:
  case Kind::Int:
    return makeInt(v.integer);
  case Kind::Float:
    return fromDouble(v.real);
  case Kind::String:
    if (std::optional<int64_t> i = parseInt(v.text, base))
      return makeInt(*i);
    if (std::optional<double> d = parseFloat(v.text))
      return fromDouble(*d);
    return fallback;
  default:
    return fallback;
  }
}

Value applyFilter(const std::string &name, const Value &v, const Args &args) {
  std::string callee = "filter '" + name + "'";
  if (name == "trim") {
    Bound a = bind(callee, args, {"chars"});
    std::string chars = isSet(a[0]) ? str(*a[0]) : "";
    return makeString(
        strip(str(v), isSet(a[0]) ? &chars : nullptr, true, true));
  }
  if (name == "length" || name == "count") {
    bind(callee, args, {});
    return makeInt(lengthOf(v));
  }
  if (name == "upper" || name == "lower" || name == "capitalize" ||
      name == "title" || name == "string") {
    bind(callee, args, {});
    if (name == "string")
      return makeString(str(v));
    if (name == "title")
      return makeString(jinjaTitle(str(v)));
    return makeString(changeCase(str(v), name == "upper" ? CaseStyle::Upper
                                         : name == "lower"
                                             ? CaseStyle::Lower
                                             : CaseStyle::Capitalize));
  }
  if (name == "int") {
    Bound a = bind(callee, args, {"default", "base"});
    return toInt(v, a[0] ? *a[0] : makeInt(0),
                 a[1] ? intArg(*a[1], "base") : 10);
  }
  if (name == "float") {
    Bound a = bind(callee, args, {"default"});
    Value fallback = a[0] ? *a[0] : makeFloat(0);
    if (v.is(Kind::Undefined))
      valueError(v.text);
    if (v.isNumber())
      return makeFloat(v.asDouble());
    std::optional<double> d;
    if (v.is(Kind::String))
      d = parseFloat(v.text);
    return d ? makeFloat(*d) : fallback;
  }
  if (name == "default" || name == "d") {
    Bound a = bind(callee, args, {"default_value", "boolean"});
    bool onFalsy = a[1] && truthy(*a[1]);
    if (v.is(Kind::Undefined) || (onFalsy && !truthy(v)))
      return a[0] ? *a[0] : makeString("");
    return v;
  }
  if (name == "first" || name == "last") {
    bind(callee, args, {});
    std::vector<Value> items = iterate(v);
    if (items.empty())
      return makeUndefined("No " + name + " item, sequence was empty.");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "join") {
    Bound a = bind(callee, args, {"d", "attribute"});
    std::string separator = a[0] ? str(*a[0]) : "", out;
    bool first = true;
    for (const Value &item : iterate(v)) {
      if (!first)
        out += separator;
      first = false;
      appendStr(out, isSet(a[1]) ? getItem(item, *a[1]) : item);
    }
    return makeString(std::move(out));
  }
  if (name == "list" || name == "reverse") {
    bind(callee, args, {});
    std::vector<Value> items = iterate(v);
    if (name == "list")
      return makeList(std::move(items));
    std::reverse(items.begin(), items.end());
    if (!v.is(Kind::String))
      return makeList(std::move(items));
    std::string reversed;
    for (const Value &ch : items)
      reversed += ch.text;
    return makeString(std::move(reversed));
  }
  if (name == "replace") {
    Bound a = bind(callee, args, {"old", "new", "count"}, 2);
    return makeString(replaceText(str(v), str(*a[0]), str(*a[1]),
                                  isSet(a[2]) ? intArg(*a[2], "count") : -1));
  }
  if (name == "tojson") {
    Bound a = bind(callee, args,
                   {"ensure_ascii", "indent", "separators", "sort_keys"});
    JsonStyle style;
    style.ensureAscii = a[0] && truthy(*a[0]);
    if (isSet(a[1]))
      style.indent = std::clamp<int64_t>(intArg(*a[1], "indent"), 0, 1000);
    if (isSet(a[2]))
      valueError("tojson: 'separators' is not supported");
    style.sortKeys = a[3] && truthy(*a[3]);
    std::string out;
    appendJson(out, v, style, 0);
    return makeString(std::move(out));
  }
  if (name == "items") {
    bind(callee, args, {});
    if (v.is(Kind::Undefined))
      return makeList({});
    if (!v.is(Kind::Dict))
      valueError("Can only get item pairs from a mapping.");
    return makeList(itemPairs(v.map()));
  }
  valueError("unsupported filter '" + name + "'");
}

bool applyTest(const std::string &name, const Value &v, const Args &args) {
  std::string callee = "test '" + name + "'";
  if (name == "divisibleby" || name == "eq" || name == "equalto" ||
      name == "==" || name == "ne" || name == "!=" || name == "in") {
    Value other = *bind(callee, args, {"other"}, 1)[0];
    if (name == "divisibleby")
      return equals(arithmetic("%", v, other), makeInt(0));
    if (name == "in")
      return contains(other, v);
    return equals(v, other) == (name != "ne" && name != "!=");
  }
  static const std::vector<std::string> withoutArguments = {
      "defined",  "undefined", "none",    "string", "mapping", "iterable",
      "sequence", "number",    "integer", "float",  "boolean", "true",
      "false",    "callable",  "odd",     "even"};
  if (std::find(withoutArguments.begin(), withoutArguments.end(), name) ==
      withoutArguments.end())
    valueError("unsupported test '" + name + "'");
  bind(callee, args, {});
  bool container = v.is(Kind::String) || v.is(Kind::List) || v.is(Kind::Dict) ||
                   v.is(Kind::Undefined);
  if (name == "defined" || name == "undefined")
    return v.is(Kind::Undefined) == (name == "undefined");
  if (name == "none")
    return v.is(Kind::None);
  if (name == "string")
    return v.is(Kind::String);
  if (name == "mapping")
    return v.is(Kind::Dict);
  if (name == "iterable")
    return container || v.is(Kind::Loop);
  if (name == "sequence")
    return container;
  if (name == "number")
    return v.isNumber();
  if (name == "integer")
    return v.is(Kind::Int);
  if (name == "float")
    return v.is(Kind::Float);
  if (name == "boolean")
    return v.is(Kind::Bool);
  if (name == "true" || name == "false")
    return v.is(Kind::Bool) && v.integer == (name == "true");
  if (name == "callable")
    return v.is(Kind::Function);
  return equals(arithmetic("%", v, makeInt(2)), makeInt(name == "odd"));
}

Value callStringMethod(const std::string &s, const std::string &name,
                       const Args &args) {
  std::string callee = "str." + name + "()";
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    Bound a = bind(callee, args, {"chars"});
    std::string chars = isSet(a[0]) ? stringArg(*a[0], callee + " chars") : "";
    return makeString(strip(s, isSet(a[0]) ? &chars : nullptr, name != "rstrip",
                            name != "lstrip"));
  }
  if (name == "startswith" || name == "endswith") {
    Value affixes = *bind(callee, args, {"prefix"}, 1)[0];
    std::vector<Value> candidates = {affixes};
    if (affixes.is(Kind::List) && affixes.list().isTuple)
      candidates = affixes.list().items;
    for (const Value &candidate : candidates) {
      const std::string &affix = stringArg(candidate, callee + " argument");
      size_t at = name == "startswith" ? 0 : s.size() - affix.size();
      if (affix.size() <= s.size() && s.compare(at, affix.size(), affix) == 0)
        return makeBool(true);
    }
    return makeBool(false);
  }
  if (name == "split") {
    Bound a = bind(callee, args, {"sep", "maxsplit"});
    std::string sep = isSet(a[0]) ? stringArg(*a[0], callee + " sep") : "";
    return makeList(splitString(s, isSet(a[0]) ? &sep : nullptr,
                                a[1] ? intArg(*a[1], "maxsplit") : -1));
  }
  if (name == "upper" || name == "lower" || name == "title" ||
      name == "capitalize") {
    bind(callee, args, {});
    return makeString(changeCase(s, name == "upper"   ? CaseStyle::Upper
                                    : name == "lower" ? CaseStyle::Lower
                                    : name == "title" ? CaseStyle::Title
                                                      : CaseStyle::Capitalize));
  }
  if (name == "replace") {
    Bound a = bind(callee, args, {"old", "new", "count"}, 2);
    return makeString(replaceText(s, stringArg(*a[0], callee + " old"),
                                  stringArg(*a[1], callee + " new"),
                                  a[2] ? intArg(*a[2], "count") : -1));
  }
  if (name == "join") {
    std::string out;
    size_t index = 0;
    for (const Value &item : iterate(*bind(callee, args, {"iterable"}, 1)[0])) {
      if (!item.is(Kind::String))
        valueError("sequence item " + std::to_string(index) +
                   ": expected str instance, " + typeName(item) + " found");
      if (index++)
        out += s;
      out += item.text;
      checkLength(out.size());
    }
    return makeString(std::move(out));
  }
  valueError("unknown method '" + name + "' on string");
}

Value callMethod(const Value &obj, const std::string &name, const Args &args) {
  if (obj.is(Kind::Undefined))
    valueError(obj.text);
  if (obj.is(Kind::String))
    return callStringMethod(obj.text, name, args);
  if (obj.is(Kind::Dict)) {
    std::string callee = "dict." + name + "()";
    const Map &map = obj.map();
    if (name == "get") {
      Bound a = bind(callee, args, {"key", "default"}, 1);
      const Value *found =
          a[0]->is(Kind::String) ? map.find(a[0]->text) : nullptr;
      return found ? *found : a[1] ? *a[1] : makeNone();
    }
    if (name == "items" || name == "keys" || name == "values") {
      bind(callee, args, {});
      if (name == "items")
        return makeList(itemPairs(map));
      std::vector<Value> items;
      for (const auto &[key, value] : map.entries)
        items.push_back(name == "keys" ? makeString(key) : value);
      return makeList(std::move(items));
    }
  }
  if (obj.is(Kind::Loop) && name == "cycle") {
    if (args.positional.empty() || !args.keywords.empty())
      valueError("loop.cycle() takes one or more positional arguments");
    return args.positional[obj.loop().index0 % args.positional.size()];
  }
  valueError("unknown method '" + name + "' on " +
             (obj.is(Kind::Dict) ? std::string("dict") : typeName(obj)));
}

//===----------------------------------------------------------------------===//
// Lexer
//===----------------------------------------------------------------------===//

struct Token {
  enum class Type {
    Text,
    BlockBegin,
    BlockEnd,
    VarBegin,
    VarEnd,
    Name,
    String,
    Int,
    Float,
    Op,
    End
  };
  Type type;
  std::string text; // Text: the data; String: its value; else as written
  size_t pos = 0;
  int64_t integer = 0;
  double real = 0;
};

class Lexer {
public:
  explicit Lexer(const Source &source) : source(source), src(source.text) {}
  std::vector<Token> run();

private:
  void addText(std::string text, size_t pos);
  size_t skipComment(size_t open, size_t pos);
  size_t lexTag(size_t open, bool isBlock, size_t pos);
  size_t lexToken(size_t pos, std::vector<char> &brackets);
  size_t lexNumber(size_t pos);
  size_t lexString(size_t pos);
  size_t skipSpaceAt(size_t pos) const { return skipSpace(src, pos); }
  bool isTagStart(size_t pos) const {
    char next = pos + 1 < src.size() ? src[pos + 1] : '\0';
    return next == '{' || next == '%' || next == '#';
  }

  const Source &source;
  const std::string &src;
  std::vector<Token> tokens;
};

std::vector<Token> Lexer::run() {
  size_t pos = 0;
  bool lineStart = true; // at the template's start or after a newline
  while (true) {
    size_t open = src.find('{', pos);
    while (open != std::string::npos && !isTagStart(open))
      open = src.find('{', open + 1);
    if (open == std::string::npos) {
      addText(src.substr(pos), pos);
      break;
    }
    std::string text = src.substr(pos, open - pos);
    char kind = src[open + 1];
    char sign = open + 2 < src.size() ? src[open + 2] : '\0';
    if (sign == '-') {
      text = strip(text, nullptr, false, true);
    } else if (sign != '+' && kind != '{') {
      // lstrip_blocks: drop the indentation before a block tag or comment.
      size_t lineBegin = text.rfind('\n');
      lineBegin = lineBegin == std::string::npos ? 0 : lineBegin + 1;
      if ((lineBegin > 0 || lineStart) &&
          text.find_first_not_of(" \t", lineBegin) == std::string::npos)
        text.resize(lineBegin);
    }
    addText(std::move(text), pos);
    size_t inner = open + 2 + (sign == '-' || sign == '+');
    pos = kind == '#' ? skipComment(open, inner)
                      : lexTag(open, kind == '%', inner);
    lineStart = src[pos - 1] == '\n';
  }
  tokens.push_back({Token::Type::End, "end of template", src.size()});
  return tokens;
}

void Lexer::addText(std::string text, size_t pos) {
  if (!text.empty())
    tokens.push_back({Token::Type::Text, std::move(text), pos});
}

/// The position after the comment's `#}` and what it trims.
size_t Lexer::skipComment(size_t open, size_t pos) {
  size_t close = src.find("#}", pos);
  if (close == std::string::npos)
    source.fail(open, "unterminated comment: expected '#}'");
  char sign = close > pos ? src[close - 1] : '\0';
  size_t end = close + 2;
  if (sign == '-')
    return skipSpaceAt(end);
  if (sign != '+' && end < src.size() && src[end] == '\n')
    ++end; // trim_blocks
  return end;
}

/// Lexes the tokens of a `{{ }}` or `{% %}` tag; the position after it.
size_t Lexer::lexTag(size_t open, bool isBlock, size_t pos) {
  std::string close = isBlock ? "%}" : "}}";
  tokens.push_back({isBlock ? Token::Type::BlockBegin : Token::Type::VarBegin,
                    isBlock ? "{%" : "{{", open});
  size_t firstToken = tokens.size();
  std::vector<char> brackets;
  while (true) {
    pos = skipSpaceAt(pos);
    if (pos >= src.size())
      source.fail(open, "unterminated tag: expected '" + close + "'");
    // Like Jinja, a closing delimiter inside brackets is an operator.
    if (brackets.empty()) {
      bool dash = src.compare(pos, 3, "-" + close) == 0;
      bool plus = isBlock && src.compare(pos, 3, "+%}") == 0;
      if (dash || plus || src.compare(pos, 2, close) == 0) {
        tokens.push_back({isBlock ? Token::Type::BlockEnd : Token::Type::VarEnd,
                          close, pos});
        size_t end = pos + 2 + (dash || plus);
        if (dash)
          return skipSpaceAt(end);
        if (isBlock && !plus && end < src.size() && src[end] == '\n')
          ++end; // trim_blocks
        return end;
      }
    }
    pos = lexToken(pos, brackets);
    // A raw block's body is not template syntax; reject it before lexing it.
    if (isBlock && tokens.size() == firstToken + 1 &&
        tokens.back().type == Token::Type::Name && tokens.back().text == "raw")
      source.fail(tokens.back().pos, "unsupported statement 'raw'");
  }
}

size_t Lexer::lexToken(size_t pos, std::vector<char> &brackets) {
  unsigned char c = src[pos];
  if (std::isalpha(c) || c == '_') {
    size_t end = pos;
    while (
        end < src.size() &&
        (std::isalnum(static_cast<unsigned char>(src[end])) || src[end] == '_'))
      ++end;
    tokens.push_back({Token::Type::Name, src.substr(pos, end - pos), pos});
    return end;
  }
  if (std::isdigit(c))
    return lexNumber(pos);
  if (c == '\'' || c == '"')
    return lexString(pos);
  static const char *const operators[] = {
      "//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<",
      ">",  "=",  ".",  ",",  ":",  "|",  "(", ")", "[", "]", "{", "}"};
  for (const char *op : operators) {
    size_t length = std::strlen(op);
    if (src.compare(pos, length, op) != 0)
      continue;
    if (std::strchr("([{", op[0]) && length == 1) {
      brackets.push_back(op[0]);
    } else if (std::strchr(")]}", op[0]) && length == 1) {
      char expected = op[0] == ')' ? '(' : op[0] == ']' ? '[' : '{';
      if (brackets.empty() || brackets.back() != expected)
        source.fail(pos, "unexpected '" + std::string(op) + "'");
      brackets.pop_back();
    }
    tokens.push_back({Token::Type::Op, op, pos});
    return pos + length;
  }
  source.fail(pos, "unexpected character '" + std::string(1, char(c)) + "'");
}

size_t Lexer::lexNumber(size_t start) {
  size_t pos = start;
  auto isDigit = [&](size_t p) {
    return p < src.size() && std::isdigit(static_cast<unsigned char>(src[p]));
  };
  auto digits = [&] {
    while (isDigit(pos) || (src[pos] == '_' && isDigit(pos + 1)))
      ++pos;
  };
  digits();
  // After a dot (`x.0`) a number is an index, never a float.
  bool afterDot = !tokens.empty() && tokens.back().type == Token::Type::Op &&
                  tokens.back().text == ".";
  bool isFloat = false;
  if (!afterDot && pos < src.size() && src[pos] == '.' && isDigit(pos + 1)) {
    isFloat = true;
    ++pos;
    digits();
  }
  if (!afterDot && pos < src.size() && (src[pos] == 'e' || src[pos] == 'E')) {
    size_t p = pos + 1;
    if (p < src.size() && (src[p] == '+' || src[p] == '-'))
      ++p;
    if (isDigit(p)) {
      isFloat = true;
      pos = p;
      digits();
    }
  }
  Token token{isFloat ? Token::Type::Float : Token::Type::Int,
              src.substr(start, pos - start), start};
  std::string clean;
  for (char ch : token.text)
    if (ch != '_')
      clean += ch;
  if (isFloat) {
    token.real = std::strtod(clean.c_str(), nullptr);
  } else {
    errno = 0;
    token.integer = std::strtoll(clean.c_str(), nullptr, 10);
    if (errno == ERANGE)
      source.fail(start, "integer literal too large");
  }
  tokens.push_back(std::move(token));
  return pos;
}

/// The character a one-letter Python escape stands for, or 0.
char simpleEscape(char e) {
  switch (e) {
  case 'n':
    return '\n';
  case 't':
    return '\t';
  case 'r':
    return '\r';
  case 'b':
    return '\b';
  case 'f':
    return '\f';
  case 'v':
    return '\v';
  case 'a':
    return '\a';
  case '\\':
  case '\'':
  case '"':
    return e;
  default:
    return 0;
  }
}

/// A quoted string with Python's escapes (unknown ones are kept as is).
size_t Lexer::lexString(size_t start) {
  char quote = src[start];
  size_t pos = start + 1;
  std::string value;
  auto hexEscape = [&](size_t digits) {
    int32_t cp = 0;
    for (size_t i = 0; i < digits; ++i, ++pos) {
      unsigned char c = pos < src.size() ? src[pos] : 0;
      if (!std::isxdigit(c))
        source.fail(pos, "invalid escape in string");
      cp = cp * 16 + (std::isdigit(c) ? c - '0' : std::tolower(c) - 'a' + 10);
    }
    if (cp > 0x10FFFF)
      source.fail(pos, "invalid escape in string");
    appendCodepoint(value, cp);
  };
  while (true) {
    if (pos >= src.size())
      source.fail(start, "unterminated string");
    char c = src[pos++];
    if (c == quote)
      break;
    if (c != '\\') {
      value += c;
      continue;
    }
    if (pos >= src.size())
      source.fail(start, "unterminated string");
    char e = src[pos++];
    if (e == '\n')
      continue; // a backslash before a newline joins the lines
    if (char simple = simpleEscape(e)) {
      value += simple;
    } else if (e == 'x' || e == 'u' || e == 'U') {
      hexEscape(e == 'x' ? 2 : e == 'u' ? 4 : 8);
    } else if (e >= '0' && e <= '7') {
      int32_t cp = e - '0';
      for (int i = 0;
           i < 2 && pos < src.size() && src[pos] >= '0' && src[pos] <= '7'; ++i)
        cp = cp * 8 + (src[pos++] - '0');
      appendCodepoint(value, cp);
    } else {
      value += '\\';
      value += e;
    }
  }
  tokens.push_back({Token::Type::String, std::move(value), start});
  return pos;
}

//===----------------------------------------------------------------------===//
// Syntax tree
//===----------------------------------------------------------------------===//

enum class ExprKind {
  Literal, // `literal`
  Name,    // `name`
  List,    // args: the items
  Tuple,   // args: the items
  Dict,    // args: key, value, key, value, ...
  Attr,    // args[0].name
  Item,    // args[0][args[1]]
  Slice,   // args[0][args[1]:args[2]:args[3]]; absent bounds are null
  Call,    // args[0](args[1], ...); the last names.size() are keywords
  Filter,  // args[0] | name(args[1], ...); keywords as for Call
  Test,    // args[0] is [not] name(args[1], ...); keywords as for Call
  Unary,   // name ("-" or "+") args[0]
  Not,     // not args[0]
  And,     // args[0] and args[1]
  Or,      // args[0] or args[1]
  Binary,  // args[0] name args[1]
  Compare, // args[0] names[0] args[1] names[1] ... (chained like Python)
  Cond,    // args[0] if args[1] else args[2] (null without else)
};

struct Expr;
using ExprPtr = std::shared_ptr<const Expr>;

struct Expr {
  ExprKind kind;
  size_t pos = 0;
  int height = 1;
  Value literal;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<std::string> names;
  bool negated = false; // Test: `is not`
};

enum class StmtKind {
  Text,
  Output,
  If,
  For,
  Set,
  SetBlock,
  Break,
  Continue,
  Scope
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
  StmtKind kind;
  size_t pos = 0;
  std::string text;                 // Text: the data; Set: ns attribute
  std::vector<std::string> targets; // For, Set, SetBlock: names assigned
  ExprPtr expr;                     // Output, Set: the value; For: iterable
  ExprPtr filter;                   // For: the `if` condition
  std::vector<std::pair<ExprPtr, Body>> branches; // If: if and elifs
  Body body, elseBody;
};

//===----------------------------------------------------------------------===//
// Parser
//===----------------------------------------------------------------------===//

class Parser {
public:
  Parser(const Source &source, std::vector<Token> tokens)
      : source(source), tokens(std::move(tokens)) {}
  Body parseTemplate() { return parseBody({}, nullptr); }

private:
  using Type = Token::Type;

  /// Bounds the parser's recursion (nested tags, brackets, operators).
  struct NestingGuard {
    NestingGuard(Parser &parser, size_t pos) : parser(parser) {
      if (++parser.nesting > kMaxNesting)
        parser.source.fail(pos, "template is nested too deeply");
    }
    ~NestingGuard() { --parser.nesting; }
    Parser &parser;
  };

  const Token &peek(size_t ahead = 0) const {
    return tokens[std::min(at + ahead, tokens.size() - 1)];
  }
  const Token &advance() {
    const Token &token = peek();
    at = std::min(at + 1, tokens.size() - 1);
    return token;
  }
  bool atOp(const char *op, size_t ahead = 0) const {
    return peek(ahead).type == Type::Op && peek(ahead).text == op;
  }
  bool atName(const char *name, size_t ahead = 0) const {
    return peek(ahead).type == Type::Name && peek(ahead).text == name;
  }
  bool skipOp(const char *op) { return atOp(op) && (advance(), true); }
  bool skipName(const char *name) { return atName(name) && (advance(), true); }
  static std::string describe(const Token &token) {
    if (token.type == Type::End)
      return "end of template";
    if (token.type == Type::Text)
      return "text";
    if (token.type == Type::String)
      return "a string";
    return "'" + token.text + "'";
  }
  [[noreturn]] void expected(const std::string &what) {
    source.fail(peek().pos, "expected " + what + ", got " + describe(peek()));
  }
  void expectOp(const char *op) {
    if (!skipOp(op))
      expected("'" + std::string(op) + "'");
  }
  const Token &expectName(const char *what) {
    if (peek().type != Type::Name)
      expected(what);
    return advance();
  }
  void expectBlockEnd() {
    if (peek().type != Type::BlockEnd)
      expected("'%}'");
    advance();
  }
  /// Consumes `{% endname %}`.
  void closeBlock() {
    advance();
    advance();
    expectBlockEnd();
  }

  std::shared_ptr<Expr> node(ExprKind kind, size_t pos,
                             std::vector<ExprPtr> args = {});

  Body parseBody(const std::vector<std::string> &ends, const Token *opener);
  std::unique_ptr<Stmt> parseStatement();
  void parseIf(Stmt &stmt, const Token &keyword);
  void parseFor(Stmt &stmt, const Token &keyword);
  void parseSet(Stmt &stmt, const Token &keyword);
  std::vector<std::string> parseTargets();

  ExprPtr parseExpression(bool allowCondition = true);
  ExprPtr parseOr();
  ExprPtr parseAnd();
  ExprPtr parseNot();
  ExprPtr parseCompare();
  ExprPtr parseBinary(int level);
  ExprPtr parseUnary(bool withFilters);
  ExprPtr parsePrimary();
  ExprPtr parsePostfix(ExprPtr e);
  ExprPtr parseFilters(ExprPtr e);
  ExprPtr parseCall(ExprPtr callee, size_t pos);
  void parseArguments(std::vector<ExprPtr> &args,
                      std::vector<std::string> &keywords);
  ExprPtr parseSequence(ExprKind kind, size_t pos, const char *close);

  const Source &source;
  std::vector<Token> tokens;
  size_t at = 0;
  int nesting = 0;
  int loopDepth = 0;
};

std::shared_ptr<Expr> Parser::node(ExprKind kind, size_t pos,
                                   std::vector<ExprPtr> args) {
  auto e = std::make_shared<Expr>();
  e->kind = kind;
  e->pos = pos;
  for (const ExprPtr &arg : args)
    if (arg)
      e->height = std::max(e->height, arg->height + 1);
  // Evaluation recurses once per level, so deep trees must stop here.
  if (e->height > kMaxExprHeight)
    source.fail(pos, "expression is too complex");
  e->args = std::move(args);
  return e;
}

/// Statements up to the end of the template or a `{% end %}` tag named in
/// `ends` (left unconsumed); `opener` is the statement that needs it.
Body Parser::parseBody(const std::vector<std::string> &ends,
                       const Token *opener) {
  Body body;
  while (true) {
    const Token &token = peek();
    if (token.type == Type::End) {
      if (opener)
        source.fail(opener->pos, "unterminated '" + opener->text +
                                     "': expected '{% " + ends.back() + " %}'");
      return body;
    }
    if (token.type == Type::BlockBegin && peek(1).type == Type::Name &&
        std::find(ends.begin(), ends.end(), peek(1).text) != ends.end())
      return body;
    auto stmt = std::make_unique<Stmt>();
    stmt->pos = token.pos;
    if (token.type == Type::Text) {
      stmt->kind = StmtKind::Text;
      stmt->text = advance().text;
    } else if (token.type == Type::VarBegin) {
      advance();
      stmt->kind = StmtKind::Output;
      stmt->expr = parseExpression();
      if (peek().type != Type::VarEnd)
        expected("'}}'");
      advance();
    } else {
      stmt = parseStatement();
    }
    body.push_back(std::move(stmt));
  }
}

std::unique_ptr<Stmt> Parser::parseStatement() {
  NestingGuard guard(*this, peek().pos);
  advance(); // {%
  Token keyword = peek();
  if (keyword.type != Type::Name)
    expected("a statement name");
  advance();
  auto stmt = std::make_unique<Stmt>();
  stmt->pos = keyword.pos;
  const std::string &name = keyword.text;
  if (name == "if") {
    parseIf(*stmt, keyword);
  } else if (name == "for") {
    parseFor(*stmt, keyword);
  } else if (name == "set") {
    parseSet(*stmt, keyword);
  } else if (name == "break" || name == "continue") {
    if (loopDepth == 0)
      source.fail(keyword.pos, "'" + name + "' outside of a loop");
    stmt->kind = name == "break" ? StmtKind::Break : StmtKind::Continue;
    expectBlockEnd();
  } else if (name == "generation") {
    // transformers' assistant-mask tag; it renders its body in a new scope.
    stmt->kind = StmtKind::Scope;
    expectBlockEnd();
    int savedLoopDepth = std::exchange(loopDepth, 0);
    stmt->body = parseBody({"endgeneration"}, &keyword);
    loopDepth = savedLoopDepth;
    closeBlock();
  } else if (name == "elif" || name == "else" ||
             name.compare(0, 3, "end") == 0) {
    source.fail(keyword.pos, "unexpected '" + name + "'");
  } else {
    source.fail(keyword.pos, "unsupported statement '" + name + "'");
  }
  return stmt;
}

void Parser::parseIf(Stmt &stmt, const Token &keyword) {
  stmt.kind = StmtKind::If;
  const std::vector<std::string> ends = {"elif", "else", "endif"};
  ExprPtr condition = parseExpression();
  expectBlockEnd();
  stmt.branches.emplace_back(condition, parseBody(ends, &keyword));
  while (atName("elif", 1)) {
    advance();
    advance();
    condition = parseExpression();
    expectBlockEnd();
    stmt.branches.emplace_back(condition, parseBody(ends, &keyword));
  }
  if (atName("else", 1)) {
    advance();
    advance();
    expectBlockEnd();
    stmt.elseBody = parseBody({"endif"}, &keyword);
  }
  closeBlock();
}

void Parser::parseFor(Stmt &stmt, const Token &keyword) {
  stmt.kind = StmtKind::For;
  stmt.targets = parseTargets();
  if (!skipName("in"))
    expected("'in'");
  stmt.expr = parseExpression(/*allowCondition=*/false);
  if (skipName("if"))
    stmt.filter = parseExpression();
  if (atName("recursive"))
    source.fail(peek().pos, "unsupported 'recursive' loop");
  expectBlockEnd();
  ++loopDepth;
  stmt.body = parseBody({"else", "endfor"}, &keyword);
  --loopDepth;
  if (atName("else", 1)) {
    advance();
    advance();
    expectBlockEnd();
    stmt.elseBody = parseBody({"endfor"}, &keyword);
  }
  closeBlock();
}

void Parser::parseSet(Stmt &stmt, const Token &keyword) {
  stmt.kind = StmtKind::Set;
  if (atOp(".", 1)) {
    stmt.targets = {expectName("a variable name").text};
    advance();
    stmt.text = expectName("an attribute name").text;
  } else {
    stmt.targets = parseTargets();
  }
  if (skipOp("=")) {
    stmt.expr = parseExpression();
    expectBlockEnd();
    return;
  }
  if (peek().type != Type::BlockEnd || stmt.targets.size() != 1 ||
      !stmt.text.empty())
    expected("'='");
  advance();
  stmt.kind = StmtKind::SetBlock;
  stmt.body = parseBody({"endset"}, &keyword);
  closeBlock();
}

std::vector<std::string> Parser::parseTargets() {
  std::vector<std::string> targets = {expectName("a variable name").text};
  while (skipOp(","))
    targets.push_back(expectName("a variable name").text);
  return targets;
}

ExprPtr Parser::parseExpression(bool allowCondition) {
  NestingGuard guard(*this, peek().pos);
  ExprPtr e = parseOr();
  while (allowCondition && atName("if")) {
    size_t pos = advance().pos;
    ExprPtr condition = parseOr();
    ExprPtr otherwise = skipName("else") ? parseExpression() : nullptr;
    e = node(ExprKind::Cond, pos, {e, condition, otherwise});
  }
  return e;
}

ExprPtr Parser::parseOr() {
  ExprPtr e = parseAnd();
  while (atName("or")) {
    size_t pos = advance().pos;
    e = node(ExprKind::Or, pos, {e, parseAnd()});
  }
  return e;
}

ExprPtr Parser::parseAnd() {
  ExprPtr e = parseNot();
  while (atName("and")) {
    size_t pos = advance().pos;
    e = node(ExprKind::And, pos, {e, parseNot()});
  }
  return e;
}

ExprPtr Parser::parseNot() {
  if (!atName("not"))
    return parseCompare();
  NestingGuard guard(*this, peek().pos);
  size_t pos = advance().pos;
  return node(ExprKind::Not, pos, {parseNot()});
}

ExprPtr Parser::parseCompare() {
  std::vector<ExprPtr> operands = {parseBinary(0)};
  std::vector<std::string> ops;
  size_t pos = peek().pos;
  while (true) {
    const Token &token = peek();
    if (token.type == Type::Op &&
        (token.text == "==" || token.text == "!=" || token.text == "<" ||
         token.text == ">" || token.text == "<=" || token.text == ">=")) {
      ops.push_back(advance().text);
    } else if (atName("in")) {
      advance();
      ops.push_back("in");
    } else if (atName("not") && atName("in", 1)) {
      advance();
      advance();
      ops.push_back("not in");
    } else {
      break;
    }
    operands.push_back(parseBinary(0));
  }
  if (ops.empty())
    return operands[0];
  std::shared_ptr<Expr> e = node(ExprKind::Compare, pos, std::move(operands));
  e->names = std::move(ops);
  return e;
}

/// Jinja's binary operator levels, loosest first; `**` binds tightest.
ExprPtr Parser::parseBinary(int level) {
  static const std::vector<std::vector<std::string>> levels = {
      {"+", "-"}, {"~"}, {"*", "/", "//", "%"}, {"**"}};
  if (level == int(levels.size()))
    return parseUnary(/*withFilters=*/true);
  ExprPtr e = parseBinary(level + 1);
  while (peek().type == Type::Op &&
         std::find(levels[level].begin(), levels[level].end(), peek().text) !=
             levels[level].end()) {
    const Token &op = advance();
    std::shared_ptr<Expr> binary =
        node(ExprKind::Binary, op.pos, {e, parseBinary(level + 1)});
    binary->name = op.text;
    e = binary;
  }
  return e;
}

ExprPtr Parser::parseUnary(bool withFilters) {
  NestingGuard guard(*this, peek().pos);
  ExprPtr e;
  if (atOp("-") || atOp("+")) {
    const Token &op = advance();
    std::shared_ptr<Expr> unary =
        node(ExprKind::Unary, op.pos, {parseUnary(/*withFilters=*/false)});
    unary->name = op.text;
    e = unary;
  } else {
    e = parsePrimary();
  }
  e = parsePostfix(e);
  return withFilters ? parseFilters(e) : e;
}

ExprPtr Parser::parsePrimary() {
  const Token &token = peek();
  auto literal = [&](Value v) {
    std::shared_ptr<Expr> e = node(ExprKind::Literal, token.pos);
    e->literal = std::move(v);
    return e;
  };
  switch (token.type) {
  case Type::Name: {
    advance();
    const std::string &name = token.text;
    if (name == "true" || name == "True" || name == "false" || name == "False")
      return literal(makeBool(name[0] == 't' || name[0] == 'T'));
    if (name == "none" || name == "None")
      return literal(makeNone());
    std::shared_ptr<Expr> e = node(ExprKind::Name, token.pos);
    e->name = name;
    return e;
  }
  case Type::String: {
    std::string text; // adjacent strings concatenate
    while (peek().type == Type::String)
      text += advance().text;
    return literal(makeString(std::move(text)));
  }
  case Type::Int:
    advance();
    return literal(makeInt(token.integer));
  case Type::Float:
    advance();
    return literal(makeFloat(token.real));
  case Type::Op:
    if (token.text == "(") {
      advance();
      if (skipOp(")"))
        return node(ExprKind::Tuple, token.pos);
      ExprPtr e = parseExpression();
      if (skipOp(")"))
        return e;
      std::vector<ExprPtr> items = {e};
      while (skipOp(",") && !atOp(")"))
        items.push_back(parseExpression());
      expectOp(")");
      return node(ExprKind::Tuple, token.pos, std::move(items));
    }
    if (token.text == "[") {
      advance();
      return parseSequence(ExprKind::List, token.pos, "]");
    }
    if (token.text == "{") {
      advance();
      return parseSequence(ExprKind::Dict, token.pos, "}");
    }
    break;
  default:
    break;
  }
  expected("an expression");
}

/// The items of a list or dict literal after its opening bracket.
ExprPtr Parser::parseSequence(ExprKind kind, size_t pos, const char *close) {
  std::vector<ExprPtr> items;
  while (!skipOp(close)) {
    if (!items.empty()) {
      expectOp(",");
      if (skipOp(close))
        break;
    }
    items.push_back(parseExpression());
    if (kind == ExprKind::Dict) {
      expectOp(":");
      items.push_back(parseExpression());
    }
  }
  return node(kind, pos, std::move(items));
}

ExprPtr Parser::parsePostfix(ExprPtr e) {
  while (true) {
    if (skipOp(".")) {
      const Token &token = advance();
      if (token.type == Type::Int) {
        std::shared_ptr<Expr> index = node(ExprKind::Literal, token.pos);
        index->literal = makeInt(token.integer);
        e = node(ExprKind::Item, token.pos, {e, index});
      } else if (token.type == Type::Name) {
        std::shared_ptr<Expr> attr = node(ExprKind::Attr, token.pos, {e});
        attr->name = token.text;
        e = attr;
      } else {
        source.fail(token.pos, "expected an attribute name after '.', got " +
                                   describe(token));
      }
    } else if (atOp("[")) {
      size_t pos = advance().pos;
      ExprPtr start, stop, step;
      if (!atOp(":"))
        start = parseExpression();
      if (skipOp(":")) {
        if (!atOp("]") && !atOp(":"))
          stop = parseExpression();
        if (skipOp(":") && !atOp("]"))
          step = parseExpression();
        expectOp("]");
        e = node(ExprKind::Slice, pos, {e, start, stop, step});
      } else {
        expectOp("]");
        e = node(ExprKind::Item, pos, {e, start});
      }
    } else if (atOp("(")) {
      e = parseCall(e, e->pos);
    } else {
      return e;
    }
  }
}

ExprPtr Parser::parseFilters(ExprPtr e) {
  while (true) {
    if (skipOp("|")) {
      const Token &name = expectName("a filter name");
      std::vector<ExprPtr> args = {e};
      std::vector<std::string> keywords;
      if (skipOp("("))
        parseArguments(args, keywords);
      std::shared_ptr<Expr> filter =
          node(ExprKind::Filter, name.pos, std::move(args));
      filter->name = name.text;
      filter->names = std::move(keywords);
      e = filter;
    } else if (atName("is")) {
      advance();
      bool negated = skipName("not");
      const Token &name = expectName("a test name");
      std::vector<ExprPtr> args = {e};
      std::vector<std::string> keywords;
      const Token &next = peek();
      if (skipOp("(")) {
        parseArguments(args, keywords);
      } else if ((next.type == Type::Name && !atName("else") && !atName("or") &&
                  !atName("and")) ||
                 next.type == Type::String || next.type == Type::Int ||
                 next.type == Type::Float || atOp("[") || atOp("{")) {
        // Like Jinja, one argument may follow without parentheses
        // (`x is divisibleby 3`), so `x is string if c else d` fails in
        // both: `if` reads as that argument.
        if (atName("is"))
          source.fail(next.pos, "tests cannot be chained with 'is'");
        args.push_back(parsePostfix(parsePrimary()));
      }
      std::shared_ptr<Expr> test =
          node(ExprKind::Test, name.pos, std::move(args));
      test->name = name.text;
      test->names = std::move(keywords);
      test->negated = negated;
      e = test;
    } else if (atOp("(")) {
      e = parseCall(e, e->pos);
    } else {
      return e;
    }
  }
}

ExprPtr Parser::parseCall(ExprPtr callee, size_t pos) {
  advance(); // (
  std::vector<ExprPtr> args = {std::move(callee)};
  std::vector<std::string> keywords;
  parseArguments(args, keywords);
  std::shared_ptr<Expr> call = node(ExprKind::Call, pos, std::move(args));
  call->names = std::move(keywords);
  return call;
}

/// Arguments after a '(' up to and including the ')'.
void Parser::parseArguments(std::vector<ExprPtr> &args,
                            std::vector<std::string> &keywords) {
  bool first = true;
  while (!skipOp(")")) {
    if (!first) {
      expectOp(",");
      if (skipOp(")"))
        break;
    }
    first = false;
    if (atOp("*") || atOp("**"))
      source.fail(peek().pos, "unsupported '*' arguments");
    if (peek().type == Type::Name && atOp("=", 1)) {
      keywords.push_back(advance().text);
      advance();
    } else if (!keywords.empty()) {
      source.fail(peek().pos, "positional argument after keyword argument");
    }
    args.push_back(parseExpression());
  }
}

//===----------------------------------------------------------------------===//
// Renderer
//===----------------------------------------------------------------------===//

class Renderer {
public:
  Renderer(const Source &source, std::string &out)
      : source(source), out(&out) {}
  Renderer(const Renderer &) = delete;
  Renderer &operator=(const Renderer &) = delete;
  // `set ns.self = ns` makes a cycle of shared pointers; break them all.
  ~Renderer() {
    for (const std::shared_ptr<Map> &ns : namespaces)
      ns->entries.clear();
    workLeft = outerWorkLeft;
  }

  void define(const std::string &name, Value value) {
    scopes.front()[name] = std::move(value);
  }
  void run(const Body &body) { execBody(body); }

private:
  enum class Flow { Next, Break, Continue };

  Flow execBody(const Body &body);
  Flow exec(const Stmt &stmt);
  Flow execFor(const Stmt &stmt);
  void countIteration() {
    if (++iterations > kMaxIterations)
      valueError("more than " + std::to_string(kMaxIterations) +
                 " loop iterations");
  }
  void assign(const std::vector<std::string> &targets, const Value &value);
  Value lookup(const std::string &name) const;
  Value eval(const Expr &e);
  Value evalNode(const Expr &e);
  Value evalCall(const Expr &e);
  Value evalSlice(const Expr &e);
  Args evalArgs(const Expr &e, size_t first);
  Value callFunction(const std::string &name, const Args &args, size_t pos);

  const Source &source;
  std::string *out;
  // Jinja's scoping: the template's top level and one per loop iteration.
  std::vector<std::unordered_map<std::string, Value>> scopes{1};
  std::vector<std::shared_ptr<Map>> namespaces;
  uint64_t iterations = 0;
  uint64_t workBudget = kMaxWork;
  uint64_t *outerWorkLeft = std::exchange(workLeft, &workBudget);
};

Renderer::Flow Renderer::execBody(const Body &body) {
  for (const std::unique_ptr<Stmt> &stmt : body) {
    Flow flow = exec(*stmt);
    if (flow != Flow::Next)
      return flow;
  }
  return Flow::Next;
}

Renderer::Flow Renderer::exec(const Stmt &stmt) {
  try {
    switch (stmt.kind) {
    case StmtKind::Text:
      out->append(stmt.text);
      checkLength(out->size());
      break;
    case StmtKind::Output:
      appendStr(*out, eval(*stmt.expr));
      break;
    case StmtKind::If:
      for (const auto &[condition, body] : stmt.branches)
        if (truthy(eval(*condition)))
          return execBody(body);
      return execBody(stmt.elseBody);
    case StmtKind::For:
      return execFor(stmt);
    case StmtKind::Set: {
      Value value = eval(*stmt.expr);
      if (stmt.text.empty()) {
        assign(stmt.targets, value);
        break;
      }
      Value ns = lookup(stmt.targets[0]);
      if (!ns.is(Kind::Namespace))
        valueError("cannot assign attribute on non-namespace object");
      ns.map().set(stmt.text, std::move(value));
      break;
    }
    case StmtKind::SetBlock: {
      std::string captured;
      std::string *outer = std::exchange(out, &captured);
      Flow flow = execBody(stmt.body);
      out = outer;
      assign(stmt.targets, makeString(std::move(captured)));
      return flow;
    }
    case StmtKind::Break:
      return Flow::Break;
    case StmtKind::Continue:
      return Flow::Continue;
    case StmtKind::Scope: {
      scopes.emplace_back();
      Flow flow = execBody(stmt.body);
      scopes.pop_back();
      return flow;
    }
    }
  } catch (const ValueError &error) {
    source.fail(stmt.pos, error.message);
  }
  return Flow::Next;
}

Renderer::Flow Renderer::execFor(const Stmt &stmt) {
  std::vector<Value> items = iterate(eval(*stmt.expr));
  if (stmt.filter) {
    std::vector<Value> kept;
    for (Value &item : items) {
      countIteration(); // the items filtered out count too
      scopes.emplace_back();
      assign(stmt.targets, item);
      bool keep = truthy(eval(*stmt.filter));
      scopes.pop_back();
      if (keep)
        kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  auto state = std::make_shared<LoopState>();
  state->items = std::make_shared<const std::vector<Value>>(std::move(items));
  Value loop = makeValue(Kind::Loop);
  loop.object = state;
  // Like Jinja, `else` runs unless some iteration reached the body's end
  // (a break or continue skips that, even in Jinja).
  bool bodyCompleted = false;
  for (size_t i = 0; i < state->items->size(); ++i) {
    countIteration();
    state->index0 = i;
    // Each iteration starts from the enclosing variables, as in Jinja.
    scopes.emplace_back();
    assign(stmt.targets, (*state->items)[i]);
    scopes.back()["loop"] = loop;
    Flow flow = execBody(stmt.body);
    scopes.pop_back();
    bodyCompleted |= flow == Flow::Next;
    if (flow == Flow::Break)
      break;
  }
  if (bodyCompleted || stmt.elseBody.empty())
    return Flow::Next;
  scopes.emplace_back(); // like the body, the else block sets locally
  Flow flow = execBody(stmt.elseBody);
  scopes.pop_back();
  return flow;
}

void Renderer::assign(const std::vector<std::string> &targets,
                      const Value &value) {
  std::unordered_map<std::string, Value> &scope = scopes.back();
  if (targets.size() == 1) {
    scope[targets[0]] = value;
    return;
  }
  std::vector<Value> items = iterate(value);
  std::string expected = std::to_string(targets.size());
  if (items.size() > targets.size())
    valueError("too many values to unpack (expected " + expected + ")");
  if (items.size() < targets.size())
    valueError("not enough values to unpack (expected " + expected + ", got " +
               std::to_string(items.size()) + ")");
  for (size_t i = 0; i < targets.size(); ++i)
    scope[targets[i]] = items[i];
}

Value Renderer::lookup(const std::string &name) const {
  for (auto scope = scopes.rbegin(); scope != scopes.rend(); ++scope) {
    auto found = scope->find(name);
    if (found != scope->end())
      return found->second;
  }
  return makeUndefined("'" + name + "' is undefined");
}

Value Renderer::eval(const Expr &e) {
  Value v = evalNode(e);
  try {
    chargeWork(1 + v.text.size()); // strings are copied by value
  } catch (const ValueError &error) {
    source.fail(e.pos, error.message);
  }
  return v;
}

Value Renderer::evalNode(const Expr &e) {
  try {
    switch (e.kind) {
    case ExprKind::Literal:
      return e.literal;
    case ExprKind::Name:
      return lookup(e.name);
    case ExprKind::List:
    case ExprKind::Tuple: {
      std::vector<Value> items;
      for (const ExprPtr &item : e.args)
        items.push_back(eval(*item));
      return makeList(std::move(items), e.kind == ExprKind::Tuple);
    }
    case ExprKind::Dict: {
      std::vector<std::pair<std::string, Value>> entries;
      for (size_t i = 0; i < e.args.size(); i += 2) {
        Value key = eval(*e.args[i]);
        if (!key.is(Kind::String))
          valueError("dict keys must be strings, not '" + typeName(key) + "'");
        entries.emplace_back(key.text, eval(*e.args[i + 1]));
      }
      return makeMap(Kind::Dict, std::move(entries));
    }
    case ExprKind::Attr:
      return getAttribute(eval(*e.args[0]), e.name);
    case ExprKind::Item: {
      Value obj = eval(*e.args[0]);
      return getItem(obj, eval(*e.args[1]));
    }
    case ExprKind::Slice:
      return evalSlice(e);
    case ExprKind::Call:
      return evalCall(e);
    case ExprKind::Filter: {
      Value subject = eval(*e.args[0]);
      return applyFilter(e.name, subject, evalArgs(e, 1));
    }
    case ExprKind::Test: {
      Value subject = eval(*e.args[0]);
      return makeBool(applyTest(e.name, subject, evalArgs(e, 1)) != e.negated);
    }
    case ExprKind::Unary: {
      Value v = eval(*e.args[0]);
      if (v.is(Kind::Undefined))
        valueError(v.text);
      if (v.is(Kind::Float))
        return makeFloat(e.name == "-" ? -v.real : v.real);
      if (!v.isInteger())
        valueError("bad operand type for unary " + e.name + ": '" +
                   typeName(v) + "'");
      if (e.name == "-" && v.integer == INT64_MIN)
        overflow();
      return makeInt(e.name == "-" ? -v.integer : v.integer);
    }
    case ExprKind::Not:
      return makeBool(!truthy(eval(*e.args[0])));
    case ExprKind::And:
    case ExprKind::Or: {
      // Like Python, the result is the operand that decided.
      Value left = eval(*e.args[0]);
      return truthy(left) == (e.kind == ExprKind::And) ? eval(*e.args[1])
                                                       : left;
    }
    case ExprKind::Binary: {
      Value left = eval(*e.args[0]);
      return arithmetic(e.name, left, eval(*e.args[1]));
    }
    case ExprKind::Compare: {
      Value left = eval(*e.args[0]);
      for (size_t i = 1; i < e.args.size(); ++i) {
        Value right = eval(*e.args[i]);
        if (!compare(e.names[i - 1], left, right))
          return makeBool(false);
        left = std::move(right);
      }
      return makeBool(true);
    }
    case ExprKind::Cond:
      if (truthy(eval(*e.args[1])))
        return eval(*e.args[0]);
      return e.args[2] ? eval(*e.args[2])
                       : makeUndefined("the inline if-expression evaluated "
                                       "to false and has no else");
    }
  } catch (const ValueError &error) {
    source.fail(e.pos, error.message);
  }
  return Value();
}

Value Renderer::evalSlice(const Expr &e) {
  Value obj = eval(*e.args[0]);
  int64_t bounds[3];
  bool given[3];
  for (int i = 0; i < 3; ++i) {
    Value bound = e.args[i + 1] ? eval(*e.args[i + 1]) : makeNone();
    given[i] = !bound.is(Kind::None);
    if (given[i] && !bound.isInteger())
      valueError("slice indices must be integers or None");
    bounds[i] = bound.integer;
  }
  if (obj.is(Kind::Undefined))
    valueError(obj.text);
  if (!obj.is(Kind::String) && !obj.is(Kind::List))
    return makeUndefined(typeName(obj) + " object cannot be sliced");
  int64_t step = given[2] ? bounds[2] : 1;
  if (step == 0)
    valueError("slice step cannot be zero");
  std::vector<size_t> at;
  int64_t size = obj.is(Kind::List)
                     ? int64_t(obj.list().items.size())
                     : int64_t((at = charOffsets(obj.text)).size()) - 1;
  // Python's PySlice_AdjustIndices.
  auto adjust = [&](int i, int64_t fallback) {
    if (!given[i])
      return fallback;
    int64_t index = bounds[i] < 0 ? bounds[i] + size : bounds[i];
    if (index < 0)
      return step < 0 ? int64_t(-1) : int64_t(0);
    return index >= size ? (step < 0 ? size - 1 : size) : index;
  };
  int64_t start = adjust(0, step < 0 ? size - 1 : 0);
  int64_t stop = adjust(1, step < 0 ? -1 : size);
  std::vector<Value> items;
  std::string text;
  for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
    if (obj.is(Kind::List))
      items.push_back(obj.list().items[size_t(i)]);
    else
      text.append(obj.text, at[size_t(i)], at[size_t(i) + 1] - at[size_t(i)]);
    if (__builtin_add_overflow(i, step, &i))
      break;
  }
  return obj.is(Kind::List) ? makeList(std::move(items), obj.list().isTuple)
                            : makeString(std::move(text));
}

Value Renderer::evalCall(const Expr &e) {
  const Expr &callee = *e.args[0];
  if (callee.kind == ExprKind::Attr) {
    Value obj = eval(*callee.args[0]);
    return callMethod(obj, callee.name, evalArgs(e, 1));
  }
  Value function = eval(callee);
  Args args = evalArgs(e, 1);
  if (function.is(Kind::Function))
    return callFunction(function.text, args, e.pos);
  if (function.is(Kind::Undefined) && callee.kind == ExprKind::Name)
    valueError("unknown function '" + callee.name + "'");
  if (function.is(Kind::Undefined))
    valueError(function.text);
  valueError("'" + typeName(function) + "' object is not callable");
}

Args Renderer::evalArgs(const Expr &e, size_t first) {
  Args args;
  size_t keywordStart = e.args.size() - e.names.size();
  for (size_t i = first; i < keywordStart; ++i)
    args.positional.push_back(eval(*e.args[i]));
  for (size_t i = keywordStart; i < e.args.size(); ++i)
    args.keywords.emplace_back(e.names[i - keywordStart], eval(*e.args[i]));
  return args;
}

Value Renderer::callFunction(const std::string &name, const Args &args,
                             size_t pos) {
  if (name == "raise_exception") {
    Bound a = bind("raise_exception()", args, {"message"}, 1);
    source.fail(pos, "raise_exception: " + str(*a[0]));
  }
  if (name == "namespace") {
    if (args.positional.size() > 1)
      valueError("namespace() takes at most 1 positional argument");
    std::vector<std::pair<std::string, Value>> entries;
    if (!args.positional.empty()) {
      if (!args.positional[0].is(Kind::Dict))
        valueError("namespace() argument must be a dict");
      entries = args.positional[0].map().entries;
    }
    entries.insert(entries.end(), args.keywords.begin(), args.keywords.end());
    Value ns = makeMap(Kind::Namespace, std::move(entries));
    namespaces.push_back(std::static_pointer_cast<Map>(ns.object));
    return ns;
  }
  if (name == "range") {
    const std::vector<Value> &p = args.positional;
    if (!args.keywords.empty() || p.empty() || p.size() > 3)
      valueError("range() takes 1 to 3 positional arguments");
    for (const Value &arg : p)
      intArg(arg, "range() argument");
    int64_t start = p.size() > 1 ? p[0].integer : 0;
    int64_t stop = p.size() > 1 ? p[1].integer : p[0].integer;
    int64_t step = p.size() > 2 ? p[2].integer : 1;
    if (step == 0)
      valueError("range() arg 3 must not be zero");
    __int128 span = step > 0 ? __int128(stop) - start : __int128(start) - stop;
    __int128 count =
        span <= 0 ? 0 : (span - 1) / (step > 0 ? step : -__int128(step)) + 1;
    if (count > kMaxRange)
      valueError("range too big: more than " + std::to_string(kMaxRange) +
                 " items");
    std::vector<Value> items;
    for (__int128 i = 0; i < count; ++i)
      items.push_back(makeInt(int64_t(start + i * step)));
    return makeList(std::move(items));
  }
  valueError("unknown function '" + name + "'");
}

std::string normalizeNewlines(const std::string &text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\r')
      out += text[i];
    else if (i + 1 >= text.size() || text[i + 1] != '\n')
      out += '\n';
  }
  // Like Jinja without keep_trailing_newline.
  if (!out.empty() && out.back() == '\n')
    out.pop_back();
  return out;
}

/// A special token: a string, {"content": ...} or absent/null.
std::string specialToken(const nlohmann::json &config, const char *field,
                         const std::string &path) {
  auto it = config.find(field);
  if (it == config.end() || it->is_null())
    return "";
  if (it->is_string())
    return it->get<std::string>();
  if (it->is_object()) {
    auto content = it->find("content");
    if (content != it->end() && content->is_string())
      return content->get<std::string>();
  }
  throw Error(path + ": field '" + field +
              "': expected a string or an object with a \"content\" string");
}

} // namespace

//===----------------------------------------------------------------------===//
// ChatTemplate
//===----------------------------------------------------------------------===//

struct ChatTemplate::Impl {
  Source source;
  Body body;
  std::string bos, eos;
};

ChatTemplate::ChatTemplate(std::unique_ptr<Impl> impl)
    : impl(std::move(impl)) {}
ChatTemplate::ChatTemplate(ChatTemplate &&) noexcept = default;
ChatTemplate &ChatTemplate::operator=(ChatTemplate &&) noexcept = default;
ChatTemplate::~ChatTemplate() = default;

ChatTemplate ChatTemplate::parse(const std::string &source,
                                 const std::string &origin) {
  auto impl = std::make_unique<Impl>();
  impl->source.origin = origin;
  impl->source.text = normalizeNewlines(source);
  Lexer lexer(impl->source);
  Parser parser(impl->source, lexer.run());
  impl->body = parser.parseTemplate();
  return ChatTemplate(std::move(impl));
}

ChatTemplate ChatTemplate::load(const std::string &tokenizerConfigPath) {
  const std::string &path = tokenizerConfigPath;
  std::error_code ignored;
  if (!std::filesystem::exists(path, ignored))
    throw Error(path + ": not found");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(path + ": cannot open file");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json config =
      nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded())
    throw Error(path + ": malformed JSON");
  if (!config.is_object())
    throw Error(path + ": expected a JSON object");
  auto field = config.find("chat_template");
  if (field == config.end() || field->is_null())
    throw Error(path + ": no \"chat_template\": this model has no chat "
                       "template (use --prompt)");
  std::string source;
  if (field->is_string()) {
    source = field->get<std::string>();
  } else if (field->is_array()) {
    // The named-templates form: [{"name": "default", "template": ...}, ...].
    std::string names;
    bool found = false;
    for (const nlohmann::json &entry : *field) {
      auto name = entry.is_object() ? entry.find("name") : entry.end();
      auto body = entry.is_object() ? entry.find("template") : entry.end();
      if (!entry.is_object() || name == entry.end() || !name->is_string() ||
          body == entry.end() || !body->is_string())
        throw Error(path + ": field 'chat_template': expected a list of "
                           "{\"name\", \"template\"} strings");
      names += (names.empty() ? "" : ", ") + name->get<std::string>();
      if (!found && name->get<std::string>() == "default") {
        source = body->get<std::string>();
        found = true;
      }
    }
    if (!found)
      throw Error(path +
                  ": field 'chat_template': no template named "
                  "\"default\" (found: " +
                  (names.empty() ? std::string("none") : names) + ")");
  } else {
    throw Error(path + ": field 'chat_template': expected a string or a list "
                       "of {\"name\", \"template\"}");
  }
  ChatTemplate result = parse(source, path + ": chat_template");
  result.setSpecialTokens(specialToken(config, "bos_token", path),
                          specialToken(config, "eos_token", path));
  return result;
}

void ChatTemplate::setSpecialTokens(const std::string &bos,
                                    const std::string &eos) {
  impl->bos = bos;
  impl->eos = eos;
}

std::string ChatTemplate::render(const std::vector<ChatMessage> &messages,
                                 bool addGenerationPrompt) const {
  std::string out;
  try {
    Renderer renderer(impl->source, out);
    std::vector<Value> list;
    for (const ChatMessage &message : messages)
      list.push_back(
          makeMap(Kind::Dict, {{"role", makeString(message.role)},
                               {"content", makeString(message.content)}}));
    renderer.define("messages", makeList(std::move(list)));
    renderer.define("add_generation_prompt", makeBool(addGenerationPrompt));
    renderer.define("bos_token", makeString(impl->bos));
    renderer.define("eos_token", makeString(impl->eos));
    for (const char *function : {"raise_exception", "namespace", "range"})
      renderer.define(function, makeFunction(function));
    renderer.run(impl->body);
  } catch (const ValueError &error) {
    throw Error(impl->source.origin + ": " + error.message);
  }
  return out;
}
