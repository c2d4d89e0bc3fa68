//===- Tokenizer.cpp - Hugging Face tokenizer.json tokenizers -------------===//
//
// See Tokenizer.h and docs/tokenizers.md. The pipeline mirrors the Hugging
// Face `tokenizers` crate: added tokens are split out of the raw input, each
// remaining segment is normalized, pre-tokenized into words, and every word
// is encoded by the BPE model (merges applied by rank, leftmost first, as the
// crate's priority queue does); decoding maps ids to token strings and runs
// the decoder chain over them.
//
//===----------------------------------------------------------------------===//

#include "kiln/runtime/Tokenizer.h"

#include "kiln/runtime/Error.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <queue>
#include <sstream>
#include <tuple>
#include <unordered_map>
#include <utf8proc.h>

using nlohmann::json;

namespace kiln::rt {
namespace {

const char *const kSpaceMark = "\xE2\x96\x81"; // U+2581 "▁"
const char *const kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|"
    "\\s+(?!\\S)|\\s+";

/// Length of the UTF-8 sequence starting with `c` (1 for a stray byte).
size_t utf8Len(unsigned char c) {
  if (c < 0x80)
    return 1;
  if ((c >> 5) == 0x6)
    return 2;
  if ((c >> 4) == 0xE)
    return 3;
  if ((c >> 3) == 0x1E)
    return 4;
  return 1;
}

/// Whether s[i..] starts a well-formed UTF-8 sequence; its length in `len`.
bool validSeq(const std::string &s, size_t i, size_t &len) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  uint32_t cp;
  if (c < 0x80) {
    len = 1;
    return true;
  }
  if (c >= 0xC2 && c <= 0xDF)
    len = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF)
    len = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4)
    len = 4, cp = c & 0x07;
  else
    return false;
  if (i + len > s.size())
    return false;
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80)
      return false;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return false;
  return !(cp >= 0xD800 && cp <= 0xDFFF);
}

bool isValidUtf8(const std::string &s) {
  size_t len;
  for (size_t i = 0; i < s.size(); i += len)
    if (!validSeq(s, i, len))
      return false;
  return true;
}

/// `bytes` as UTF-8, each byte of an ill-formed sequence replaced by U+FFFD.
std::string utf8Lossy(const std::string &bytes) {
  std::string out;
  size_t len;
  for (size_t i = 0; i < bytes.size();) {
    if (validSeq(bytes, i, len)) {
      out.append(bytes, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string encodeUtf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

void replaceAll(std::string &s, const std::string &from,
                const std::string &to) {
  if (from.empty())
    return;
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string::npos;
       pos = hit + from.size())
    out.append(s, pos, hit - pos).append(to);
  out.append(s, pos, std::string::npos);
  s.swap(out);
}

/// The GPT-2 byte <-> printable-character tables.
struct ByteLevelTables {
  std::array<std::string, 256> byteToChar;
  std::unordered_map<std::string, uint8_t> charToByte;
  ByteLevelTables() {
    std::vector<int> bs;
    for (int b = '!'; b <= '~'; ++b)
      bs.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b)
      bs.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b)
      bs.push_back(b);
    std::array<bool, 256> direct{};
    for (int b : bs)
      direct[b] = true;
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      uint32_t cp = direct[b] ? b : 256 + n++;
      byteToChar[b] = encodeUtf8(cp);
      charToByte[byteToChar[b]] = static_cast<uint8_t>(b);
    }
  }
};

const ByteLevelTables &byteLevel() {
  static const ByteLevelTables tables;
  return tables;
}

/// A compiled PCRE2 pattern (UTF + UCP).
class Regex {
public:
  Regex(const std::string &pattern, const std::string &where) {
    int err = 0;
    PCRE2_SIZE off = 0;
    code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()),
                         pattern.size(), PCRE2_UTF | PCRE2_UCP, &err, &off,
                         nullptr);
    if (!code) {
      PCRE2_UCHAR buf[256];
      pcre2_get_error_message(err, buf, sizeof(buf));
      throw Error(where + ": cannot compile regex at offset " +
                  std::to_string(off) + ": " +
                  reinterpret_cast<const char *>(buf));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); // Best effort.
  }
  Regex(const Regex &) = delete;
  Regex &operator=(const Regex &) = delete;
  ~Regex() { pcre2_code_free(code); }

  /// Splits `s` into (piece, isMatch) covering all of it.
  std::vector<std::pair<std::string, bool>> split(const std::string &s) const {
    std::vector<std::pair<std::string, bool>> out;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, nullptr);
    auto subject = reinterpret_cast<PCRE2_SPTR>(s.data());
    size_t pos = 0, gapStart = 0;
    while (pos <= s.size()) {
      int rc = pcre2_match(code, subject, s.size(), pos, 0, md, nullptr);
      if (rc == PCRE2_ERROR_NOMATCH)
        break;
      if (rc < 0) {
        pcre2_match_data_free(md);
        throw Error("tokenizer: regex match failed with PCRE2 error " +
                    std::to_string(rc));
      }
      PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
      size_t start = ov[0], end = ov[1];
      if (end == start) { // Empty match: step over one character.
        pos = start < s.size() ? start + utf8Len(s[start]) : s.size() + 1;
        continue;
      }
      if (start > gapStart)
        out.emplace_back(s.substr(gapStart, start - gapStart), false);
      out.emplace_back(s.substr(start, end - start), true);
      pos = gapStart = end;
    }
    pcre2_match_data_free(md);
    if (gapStart < s.size())
      out.emplace_back(s.substr(gapStart), false);
    return out;
  }

private:
  pcre2_code *code = nullptr;
};

struct Normalizer {
  enum Kind { Prepend, Replace, NFC } kind;
  std::string a, b;
};

struct PreTokenizer {
  enum Kind { Split, ByteLevel, Metaspace } kind;
  explicit PreTokenizer(Kind kind) : kind(kind) {}
  std::shared_ptr<Regex> regex; // Split, ByteLevel with use_regex.
  bool removeMatches = false;   // Split behavior "Removed".
  bool addPrefixSpace = false;  // ByteLevel.
  std::string replacement;      // Metaspace.
  std::string prependScheme;    // Metaspace: always/first/never.
  bool splitWords = true;       // Metaspace.
};

struct Decoder {
  enum Kind { ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace } kind;
  std::string a, b;
  Decoder(Kind kind, std::string a = "", std::string b = "")
      : kind(kind), a(std::move(a)), b(std::move(b)) {}
  size_t start = 0, stop = 0;
  bool prefixSpace = true; // Metaspace.
};

struct AddedToken {
  std::string content;
  int32_t id;
  bool special, lstrip, rstrip;
};

} // namespace

struct Tokenizer::Impl {
  std::string origin;
  std::unordered_map<std::string, int32_t> vocab;
  std::vector<std::string> idToToken;
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges;
  bool byteFallback = false, fuseUnk = false, ignoreMerges = false;
  int32_t unkId = -1;
  std::vector<Normalizer> normalizers;
  std::vector<PreTokenizer> preTokenizers;
  std::vector<Decoder> decoders;
  bool hasDecoder = false;
  std::vector<AddedToken> added;
  std::unordered_map<std::string, size_t> addedByContent;
  std::unordered_map<int32_t, size_t> addedById;
  std::array<std::vector<size_t>, 256> addedByFirstByte; // Longest first.
  std::vector<int32_t> prefixIds, suffixIds;             // Template.
  std::array<int32_t, 256> byteIds; // <0xNN> ids, -1 if absent.

  [[noreturn]] void fail(const std::string &field,
                         const std::string &msg) const {
    throw Error(origin + ": " + field + ": " + msg);
  }

  void parse(const json &j);
  void parseModel(const json &m);
  void parseNormalizer(const json &n, const std::string &field);
  void parsePreTokenizer(const json &p, const std::string &field);
  void parseDecoder(const json &d, const std::string &field);
  void parsePostProcessor(const json &p, const std::string &field);

  void encodeSegment(const std::string &text, bool firstSegment,
                     std::vector<int32_t> &out) const;
  void encodeWord(const std::string &word, std::vector<int32_t> &out) const;
};

namespace {

std::string typeOf(const json &j) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    return "";
  return j["type"].get<std::string>();
}

std::string patternString(const json &p, bool &isRegex) {
  isRegex = false;
  if (p.is_object() && p.contains("String") && p["String"].is_string())
    return p["String"].get<std::string>();
  if (p.is_object() && p.contains("Regex") && p["Regex"].is_string()) {
    isRegex = true;
    return p["Regex"].get<std::string>();
  }
  return "";
}

} // namespace

void Tokenizer::Impl::parse(const json &j) {
  if (!j.is_object())
    fail("<root>", "expected a JSON object");
  if (!j.contains("model"))
    fail("model", "missing");
  parseModel(j["model"]);
  if (j.contains("normalizer") && !j["normalizer"].is_null())
    parseNormalizer(j["normalizer"], "normalizer");
  if (j.contains("pre_tokenizer") && !j["pre_tokenizer"].is_null())
    parsePreTokenizer(j["pre_tokenizer"], "pre_tokenizer");
  if (j.contains("decoder") && !j["decoder"].is_null()) {
    hasDecoder = true;
    parseDecoder(j["decoder"], "decoder");
  }
  if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
    const json &at = j["added_tokens"];
    if (!at.is_array())
      fail("added_tokens", "expected an array");
    for (size_t i = 0; i < at.size(); ++i) {
      const json &t = at[i];
      std::string field = "added_tokens[" + std::to_string(i) + "]";
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() ||
          !t.contains("content") || !t["content"].is_string())
        fail(field, "expected an object with integer 'id' and string "
                    "'content'");
      AddedToken tok{t["content"].get<std::string>(), t["id"].get<int32_t>(),
                     t.value("special", false), t.value("lstrip", false),
                     t.value("rstrip", false)};
      if (tok.content.empty() || tok.id < 0)
        fail(field, "empty content or negative id");
      addedByContent[tok.content] = added.size();
      addedById[tok.id] = added.size();
      added.push_back(tok);
    }
    for (size_t i = 0; i < added.size(); ++i)
      addedByFirstByte[static_cast<unsigned char>(added[i].content[0])]
          .push_back(i);
    for (auto &list : addedByFirstByte)
      std::sort(list.begin(), list.end(), [&](size_t a, size_t b) {
        size_t la = added[a].content.size(), lb = added[b].content.size();
        return la != lb ? la > lb : a < b;
      });
  }
  if (j.contains("post_processor") && !j["post_processor"].is_null())
    parsePostProcessor(j["post_processor"], "post_processor");
}

void Tokenizer::Impl::parseModel(const json &m) {
  std::string type = typeOf(m);
  if (type.empty() && m.is_object() && m.contains("merges"))
    type = "BPE"; // Old files omit the type of BPE models.
  if (type != "BPE")
    throw Error(origin + ": model.type '" + type +
                "' is not supported (only 'BPE' models are)");
  if (!m.contains("vocab") || !m["vocab"].is_object())
    fail("model.vocab", "missing or not an object");
  int32_t maxId = -1;
  for (auto it = m["vocab"].begin(); it != m["vocab"].end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0)
      fail("model.vocab", "id of '" + it.key() +
                              "' is not a non-negative "
                              "integer");
    int32_t id = it.value().get<int32_t>();
    vocab[it.key()] = id;
    maxId = std::max(maxId, id);
  }
  idToToken.assign(maxId + 1, "");
  for (auto &[tok, id] : vocab)
    idToToken[id] = tok;
  for (const char *key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (m.contains(key) && m[key].is_string() &&
        !m[key].get<std::string>().empty())
      fail(std::string("model.") + key, "is not supported");
  if (m.contains("dropout") && m["dropout"].is_number() &&
      m["dropout"].get<double>() > 0)
    fail("model.dropout", "BPE dropout is not supported");
  auto flag = [&](const char *key) {
    return m.contains(key) && m[key].is_boolean() && m[key].get<bool>();
  };
  byteFallback = flag("byte_fallback");
  fuseUnk = flag("fuse_unk");
  ignoreMerges = flag("ignore_merges");
  if (m.contains("unk_token") && m["unk_token"].is_string()) {
    auto it = vocab.find(m["unk_token"].get<std::string>());
    if (it == vocab.end())
      fail("model.unk_token",
           "'" + m["unk_token"].get<std::string>() + "' is not in model.vocab");
    unkId = it->second;
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    auto it = vocab.find(name);
    byteIds[b] = it == vocab.end() ? -1 : it->second;
  }
  if (!m.contains("merges") || !m["merges"].is_array())
    fail("model.merges", "missing or not an array");
  const json &ms = m["merges"];
  for (size_t r = 0; r < ms.size(); ++r) {
    std::string a, b;
    if (ms[r].is_string()) {
      std::string s = ms[r].get<std::string>();
      size_t sp = s.find(' ', 1);
      if (sp == std::string::npos)
        fail("model.merges[" + std::to_string(r) + "]",
             "expected 'left right', got '" + s + "'");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (ms[r].is_array() && ms[r].size() == 2 && ms[r][0].is_string() &&
               ms[r][1].is_string()) {
      a = ms[r][0].get<std::string>();
      b = ms[r][1].get<std::string>();
    } else {
      fail("model.merges[" + std::to_string(r) + "]",
           "expected a string or a pair of strings");
    }
    auto ia = vocab.find(a), ib = vocab.find(b), ic = vocab.find(a + b);
    if (ia == vocab.end() || ib == vocab.end() || ic == vocab.end())
      fail("model.merges[" + std::to_string(r) + "]",
           "'" + a + "' + '" + b + "' uses a token not in model.vocab");
    uint64_t key = (static_cast<uint64_t>(ia->second) << 32) |
                   static_cast<uint32_t>(ib->second);
    merges.emplace(key, std::make_pair(static_cast<int32_t>(r), ic->second));
  }
}

void Tokenizer::Impl::parseNormalizer(const json &n, const std::string &field) {
  std::string type = typeOf(n);
  if (type == "Sequence") {
    if (!n.contains("normalizers") || !n["normalizers"].is_array())
      fail(field + ".normalizers", "missing or not an array");
    for (size_t i = 0; i < n["normalizers"].size(); ++i)
      parseNormalizer(n["normalizers"][i],
                      field + ".normalizers[" + std::to_string(i) + "]");
  } else if (type == "Prepend") {
    if (!n.contains("prepend") || !n["prepend"].is_string())
      fail(field + ".prepend", "missing or not a string");
    normalizers.push_back({Normalizer::Prepend, n["prepend"], ""});
  } else if (type == "Replace") {
    bool isRegex;
    std::string pat = patternString(n.value("pattern", json()), isRegex);
    if (isRegex || pat.empty())
      fail(field + ".pattern", "only non-empty {\"String\": ...} patterns are "
                               "supported");
    if (!n.contains("content") || !n["content"].is_string())
      fail(field + ".content", "missing or not a string");
    normalizers.push_back({Normalizer::Replace, pat, n["content"]});
  } else if (type == "NFC") {
    // Canonical composition, by utf8proc (toNFC).
    normalizers.push_back({Normalizer::NFC, "", ""});
  } else {
    fail(field + ".type", "normalizer '" + type + "' is not supported");
  }
}

void Tokenizer::Impl::parsePreTokenizer(const json &p,
                                        const std::string &field) {
  std::string type = typeOf(p);
  if (type == "Sequence") {
    if (!p.contains("pretokenizers") || !p["pretokenizers"].is_array())
      fail(field + ".pretokenizers", "missing or not an array");
    for (size_t i = 0; i < p["pretokenizers"].size(); ++i)
      parsePreTokenizer(p["pretokenizers"][i],
                        field + ".pretokenizers[" + std::to_string(i) + "]");
  } else if (type == "Split") {
    PreTokenizer pt(PreTokenizer::Split);
    bool isRegex;
    std::string pat = patternString(p.value("pattern", json()), isRegex);
    if (pat.empty())
      fail(field + ".pattern", "missing or empty");
    if (!isRegex) { // A literal string: quote it for PCRE2.
      std::string quoted;
      for (char c : pat) {
        if (std::string("\\^$.[]|()?*+{}").find(c) != std::string::npos)
          quoted += '\\';
        quoted += c;
      }
      pat = quoted;
    }
    pt.regex = std::make_shared<Regex>(pat, origin + ": " + field + ".pattern");
    std::string behavior = p.value("behavior", std::string("Isolated"));
    if (behavior == "Removed")
      pt.removeMatches = true;
    else if (behavior != "Isolated")
      fail(field + ".behavior", "'" + behavior +
                                    "' is not supported (only "
                                    "'Isolated' and 'Removed')");
    if (p.value("invert", false))
      fail(field + ".invert", "true is not supported");
    preTokenizers.push_back(pt);
  } else if (type == "ByteLevel") {
    PreTokenizer pt(PreTokenizer::ByteLevel);
    pt.addPrefixSpace = p.value("add_prefix_space", false);
    if (p.value("use_regex", true))
      pt.regex = std::make_shared<Regex>(kGpt2Pattern, origin + ": " + field);
    preTokenizers.push_back(pt);
  } else if (type == "Metaspace") {
    PreTokenizer pt(PreTokenizer::Metaspace);
    pt.replacement = p.value("replacement", std::string(kSpaceMark));
    if (p.contains("prepend_scheme") && p["prepend_scheme"].is_string())
      pt.prependScheme = p["prepend_scheme"].get<std::string>();
    else
      pt.prependScheme = p.value("add_prefix_space", true) ? "always" : "never";
    if (pt.prependScheme != "always" && pt.prependScheme != "first" &&
        pt.prependScheme != "never")
      fail(field + ".prepend_scheme", "'" + pt.prependScheme + "' is unknown");
    pt.splitWords = p.value("split", true);
    preTokenizers.push_back(pt);
  } else {
    fail(field + ".type", "pre-tokenizer '" + type + "' is not supported");
  }
}

void Tokenizer::Impl::parseDecoder(const json &d, const std::string &field) {
  std::string type = typeOf(d);
  if (type == "Sequence") {
    if (!d.contains("decoders") || !d["decoders"].is_array())
      fail(field + ".decoders", "missing or not an array");
    for (size_t i = 0; i < d["decoders"].size(); ++i)
      parseDecoder(d["decoders"][i],
                   field + ".decoders[" + std::to_string(i) + "]");
  } else if (type == "ByteLevel") {
    decoders.push_back({Decoder::ByteLevel});
  } else if (type == "Replace") {
    bool isRegex;
    std::string pat = patternString(d.value("pattern", json()), isRegex);
    if (isRegex || pat.empty())
      fail(field + ".pattern", "only non-empty {\"String\": ...} patterns are "
                               "supported");
    if (!d.contains("content") || !d["content"].is_string())
      fail(field + ".content", "missing or not a string");
    decoders.push_back({Decoder::Replace, pat, d["content"]});
  } else if (type == "ByteFallback") {
    decoders.push_back({Decoder::ByteFallback});
  } else if (type == "Fuse") {
    decoders.push_back({Decoder::Fuse});
  } else if (type == "Strip") {
    Decoder dec{Decoder::Strip, d.value("content", std::string(" "))};
    dec.start = d.value("start", 0);
    dec.stop = d.value("stop", 0);
    decoders.push_back(dec);
  } else if (type == "Metaspace") {
    Decoder dec{Decoder::Metaspace,
                d.value("replacement", std::string(kSpaceMark))};
    std::string scheme = d.value("prepend_scheme", std::string("always"));
    dec.prefixSpace = scheme != "never" && d.value("add_prefix_space", true);
    decoders.push_back(dec);
  } else {
    fail(field + ".type", "decoder '" + type + "' is not supported");
  }
}

void Tokenizer::Impl::parsePostProcessor(const json &p,
                                         const std::string &field) {
  std::string type = typeOf(p);
  if (type == "Sequence") {
    if (!p.contains("processors") || !p["processors"].is_array())
      fail(field + ".processors", "missing or not an array");
    for (size_t i = 0; i < p["processors"].size(); ++i)
      parsePostProcessor(p["processors"][i],
                         field + ".processors[" + std::to_string(i) + "]");
  } else if (type == "ByteLevel") {
    // Only adjusts offsets, which this tokenizer does not report.
  } else if (type == "TemplateProcessing") {
    if (!p.contains("single") || !p["single"].is_array())
      fail(field + ".single", "missing or not an array");
    const json &specials = p.value("special_tokens", json::object());
    bool seenSequence = false;
    for (size_t i = 0; i < p["single"].size(); ++i) {
      const json &item = p["single"][i];
      std::string itemField = field + ".single[" + std::to_string(i) + "]";
      if (item.contains("Sequence")) {
        seenSequence = true;
      } else if (item.contains("SpecialToken") &&
                 item["SpecialToken"].contains("id")) {
        std::string name = item["SpecialToken"]["id"].get<std::string>();
        std::vector<int32_t> ids;
        if (specials.contains(name) && specials[name].contains("ids")) {
          ids = specials[name]["ids"].get<std::vector<int32_t>>();
        } else {
          auto it = addedByContent.find(name);
          if (it != addedByContent.end())
            ids.push_back(added[it->second].id);
          else if (vocab.count(name))
            ids.push_back(vocab.at(name));
          else
            fail(itemField, "special token '" + name + "' is unknown");
        }
        auto &dst = seenSequence ? suffixIds : prefixIds;
        dst.insert(dst.end(), ids.begin(), ids.end());
      } else {
        fail(itemField, "expected a Sequence or SpecialToken item");
      }
    }
  } else {
    fail(field + ".type", "post-processor '" + type + "' is not supported");
  }
}

void Tokenizer::Impl::encodeWord(const std::string &word,
                                 std::vector<int32_t> &out) const {
  if (word.empty())
    return;
  if (ignoreMerges) {
    auto it = vocab.find(word);
    if (it != vocab.end()) {
      out.push_back(it->second);
      return;
    }
  }
  // Initial symbols: one per character (or per byte with byte fallback).
  std::vector<int32_t> ids;
  for (size_t i = 0; i < word.size();) {
    size_t len = std::min(utf8Len(word[i]), word.size() - i);
    auto it = vocab.find(word.substr(i, len));
    if (it != vocab.end()) {
      ids.push_back(it->second);
    } else {
      bool fellBack = false;
      if (byteFallback) {
        fellBack = true;
        for (size_t k = 0; k < len; ++k)
          fellBack &= byteIds[static_cast<unsigned char>(word[i + k])] >= 0;
        if (fellBack)
          for (size_t k = 0; k < len; ++k)
            ids.push_back(byteIds[static_cast<unsigned char>(word[i + k])]);
      }
      if (!fellBack && unkId >= 0 &&
          !(fuseUnk && !ids.empty() && ids.back() == unkId))
        ids.push_back(unkId);
    }
    i += len;
  }
  // Merge by rank, leftmost first, as the tokenizers crate does.
  size_t n = ids.size();
  std::vector<int> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int>(i + 1) : -1;
  }
  auto lookup = [&](int32_t a,
                    int32_t b) -> const std::pair<int32_t, int32_t> * {
    auto it = merges.find((static_cast<uint64_t>(a) << 32) |
                          static_cast<uint32_t>(b));
    return it == merges.end() ? nullptr : &it->second;
  };
  using Entry = std::tuple<int32_t, int, int32_t>; // rank, pos, new id
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue;
  for (size_t i = 0; i + 1 < n; ++i)
    if (auto *m = lookup(ids[i], ids[i + 1]))
      queue.emplace(m->first, static_cast<int>(i), m->second);
  while (!queue.empty()) {
    auto [rank, pos, newId] = queue.top();
    queue.pop();
    if (!alive[pos] || next[pos] < 0)
      continue;
    int right = next[pos];
    auto *m = lookup(ids[pos], ids[right]);
    if (!m || m->first != rank || m->second != newId)
      continue;
    ids[pos] = newId;
    alive[right] = false;
    next[pos] = next[right];
    if (next[pos] >= 0)
      prev[next[pos]] = pos;
    if (prev[pos] >= 0)
      if (auto *pm = lookup(ids[prev[pos]], ids[pos]))
        queue.emplace(pm->first, prev[pos], pm->second);
    if (next[pos] >= 0)
      if (auto *nm = lookup(ids[pos], ids[next[pos]]))
        queue.emplace(nm->first, pos, nm->second);
  }
  for (size_t i = 0; i < n; ++i)
    if (alive[i])
      out.push_back(ids[i]);
}

/// Unicode canonical composition (Qwen2's normalizer), by utf8proc.
static std::string toNFC(const std::string &text) {
  utf8proc_uint8_t *composed =
      utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t *>(text.c_str()));
  if (!composed)
    throw Error("tokenizer: cannot NFC-normalize the input (invalid UTF-8)");
  std::string out(reinterpret_cast<const char *>(composed));
  std::free(composed);
  return out;
}

void Tokenizer::Impl::encodeSegment(const std::string &text, bool firstSegment,
                                    std::vector<int32_t> &out) const {
  std::string s = text;
  for (const Normalizer &n : normalizers) {
    if (n.kind == Normalizer::Prepend) {
      if (!s.empty())
        s = n.a + s;
    } else if (n.kind == Normalizer::Replace) {
      replaceAll(s, n.a, n.b);
    } else if (n.kind == Normalizer::NFC) {
      s = toNFC(s);
    }
  }
  std::vector<std::string> words{s};
  for (const PreTokenizer &pt : preTokenizers) {
    std::vector<std::string> nextWords;
    for (std::string &w : words) {
      if (pt.kind == PreTokenizer::Metaspace) {
        replaceAll(w, " ", pt.replacement);
        bool prepend = pt.prependScheme == "always" ||
                       (pt.prependScheme == "first" && firstSegment);
        if (prepend && !w.empty() &&
            w.compare(0, pt.replacement.size(), pt.replacement) != 0)
          w = pt.replacement + w;
        if (!pt.splitWords) {
          nextWords.push_back(w);
          continue;
        }
        size_t start = 0;
        for (size_t hit;
             (hit = w.find(pt.replacement, start + 1)) != std::string::npos;
             start = hit)
          nextWords.push_back(w.substr(start, hit - start));
        if (start < w.size())
          nextWords.push_back(w.substr(start));
        continue;
      }
      if (pt.kind == PreTokenizer::ByteLevel && pt.addPrefixSpace &&
          !w.empty() && w[0] != ' ')
        w = " " + w;
      std::vector<std::string> pieces;
      if (pt.regex) {
        for (auto &[piece, isMatch] : pt.regex->split(w))
          if (!(isMatch && pt.removeMatches))
            pieces.push_back(piece);
      } else {
        pieces.push_back(w);
      }
      for (std::string &piece : pieces) {
        if (pt.kind == PreTokenizer::ByteLevel) {
          std::string mapped;
          for (unsigned char c : piece)
            mapped += byteLevel().byteToChar[c];
          piece.swap(mapped);
        }
        nextWords.push_back(std::move(piece));
      }
    }
    words.swap(nextWords);
  }
  for (const std::string &w : words)
    encodeWord(w, out);
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer &&) noexcept = default;
Tokenizer &Tokenizer::operator=(Tokenizer &&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(path + ": cannot open tokenizer file");
  std::stringstream ss;
  ss << in.rdbuf();
  return fromJson(ss.str(), path);
}

Tokenizer Tokenizer::fromJson(const std::string &jsonText,
                              const std::string &origin) {
  auto impl = std::make_unique<Impl>();
  impl->origin = origin;
  json j;
  try {
    j = json::parse(jsonText);
  } catch (const json::exception &e) {
    throw Error(origin + ": malformed JSON: " + e.what());
  }
  try {
    impl->parse(j);
  } catch (const json::exception &e) {
    throw Error(origin + ": unexpected JSON structure: " + e.what());
  }
  return Tokenizer(std::move(impl));
}

std::vector<int32_t> Tokenizer::encode(const std::string &utf8,
                                       bool addSpecial) const {
  if (!isValidUtf8(utf8))
    throw Error(impl->origin + ": encode: input is not valid UTF-8");
  std::vector<int32_t> out;
  if (addSpecial)
    out = impl->prefixIds;
  // Split the added tokens out of the raw text, leftmost-longest.
  size_t segStart = 0, i = 0;
  bool first = true;
  auto flush = [&](size_t end) {
    if (end > segStart)
      impl->encodeSegment(utf8.substr(segStart, end - segStart),
                          first && segStart == 0, out);
  };
  while (i < utf8.size()) {
    const AddedToken *hit = nullptr;
    for (size_t idx :
         impl->addedByFirstByte[static_cast<unsigned char>(utf8[i])]) {
      const AddedToken &t = impl->added[idx];
      if (utf8.compare(i, t.content.size(), t.content) == 0) {
        hit = &t;
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    size_t start = i, end = i + hit->content.size();
    if (hit->lstrip)
      while (start > segStart &&
             std::isspace(static_cast<unsigned char>(utf8[start - 1])))
        --start;
    if (hit->rstrip)
      while (end < utf8.size() &&
             std::isspace(static_cast<unsigned char>(utf8[end])))
        ++end;
    flush(start);
    out.push_back(hit->id);
    segStart = i = end;
  }
  flush(utf8.size());
  if (addSpecial)
    out.insert(out.end(), impl->suffixIds.begin(), impl->suffixIds.end());
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids,
                              bool skipSpecial) const {
  std::vector<std::string> toks;
  for (int32_t id : ids) {
    auto it = impl->addedById.find(id);
    if (it != impl->addedById.end()) {
      if (!(skipSpecial && impl->added[it->second].special))
        toks.push_back(impl->added[it->second].content);
      continue;
    }
    if (id < 0 || static_cast<size_t>(id) >= impl->idToToken.size() ||
        impl->idToToken[id].empty())
      throw Error(impl->origin + ": decode: token id " + std::to_string(id) +
                  " is not in the vocabulary");
    toks.push_back(impl->idToToken[id]);
  }
  if (!impl->hasDecoder) {
    std::string out;
    for (size_t i = 0; i < toks.size(); ++i)
      out += (i ? " " : "") + toks[i];
    return out;
  }
  for (const Decoder &d : impl->decoders) {
    std::vector<std::string> next;
    switch (d.kind) {
    case Decoder::ByteLevel: {
      std::string bytes;
      for (const std::string &t : toks) {
        std::string tb;
        bool ok = true;
        for (size_t i = 0; i < t.size() && ok;) {
          size_t len = std::min(utf8Len(t[i]), t.size() - i);
          auto it = byteLevel().charToByte.find(t.substr(i, len));
          if (it == byteLevel().charToByte.end())
            ok = false;
          else
            tb += static_cast<char>(it->second);
          i += len;
        }
        bytes += ok ? tb : t;
      }
      next.push_back(utf8Lossy(bytes));
      break;
    }
    case Decoder::Replace:
      for (std::string t : toks) {
        replaceAll(t, d.a, d.b);
        next.push_back(t);
      }
      break;
    case Decoder::ByteFallback: {
      std::string pending;
      auto flush = [&] {
        if (pending.empty())
          return;
        if (isValidUtf8(pending)) {
          next.push_back(pending);
        } else {
          std::string repl;
          for (size_t k = 0; k < pending.size(); ++k)
            repl += "\xEF\xBF\xBD";
          next.push_back(repl);
        }
        pending.clear();
      };
      for (const std::string &t : toks) {
        unsigned v;
        if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' &&
            std::isxdigit(static_cast<unsigned char>(t[3])) &&
            std::isxdigit(static_cast<unsigned char>(t[4])) &&
            std::sscanf(t.c_str() + 3, "%2x", &v) == 1) {
          pending += static_cast<char>(v);
        } else {
          flush();
          next.push_back(t);
        }
      }
      flush();
      break;
    }
    case Decoder::Fuse: {
      std::string all;
      for (const std::string &t : toks)
        all += t;
      next.push_back(all);
      break;
    }
    case Decoder::Strip:
      for (std::string t : toks) {
        size_t s = 0, e = t.size();
        for (size_t k = 0;
             k < d.start && s < e && t.compare(s, d.a.size(), d.a) == 0; ++k)
          s += d.a.size();
        for (size_t k = 0; k < d.stop && e >= s + d.a.size() &&
                           t.compare(e - d.a.size(), d.a.size(), d.a) == 0;
             ++k)
          e -= d.a.size();
        next.push_back(t.substr(s, e - s));
      }
      break;
    case Decoder::Metaspace:
      for (size_t i = 0; i < toks.size(); ++i) {
        std::string t = toks[i];
        replaceAll(t, d.a, " ");
        if (i == 0 && d.prefixSpace && !t.empty() && t[0] == ' ')
          t.erase(0, 1);
        next.push_back(t);
      }
      break;
    }
    toks.swap(next);
  }
  std::string out;
  for (const std::string &t : toks)
    out += t;
  return out;
}

int32_t Tokenizer::tokenId(const std::string &token) const {
  auto it = impl->addedByContent.find(token);
  if (it != impl->addedByContent.end())
    return impl->added[it->second].id;
  auto vt = impl->vocab.find(token);
  return vt == impl->vocab.end() ? -1 : vt->second;
}

std::string Tokenizer::tokenString(int32_t id) const {
  auto it = impl->addedById.find(id);
  if (it != impl->addedById.end())
    return impl->added[it->second].content;
  if (id < 0 || static_cast<size_t>(id) >= impl->idToToken.size())
    return "";
  return impl->idToToken[id];
}

int64_t Tokenizer::vocabSize() const {
  int64_t n = static_cast<int64_t>(impl->idToToken.size());
  for (const AddedToken &t : impl->added)
    n = std::max<int64_t>(n, t.id + 1);
  return n;
}

bool Tokenizer::isSpecial(int32_t id) const {
  auto it = impl->addedById.find(id);
  return it != impl->addedById.end() && impl->added[it->second].special;
}

} // namespace kiln::rt
