#!/usr/bin/python3
"""Builds the tokenizer test fixtures under runtime/unittests/data/tokenizers.

Two toy tokenizers in exactly the Hugging Face tokenizer.json formats the
runtime's kiln::rt::Tokenizer supports, each trained here by a small
pure-python BPE trainer on an embedded multilingual text:

  * byte_bpe.tokenizer.json: Llama 3 style byte-level BPE (Split with the
    Llama 3 regex + ByteLevel pre-tokenizer, ignore_merges, added special
    tokens, TemplateProcessing with <|begin_of_text|>);
  * sp_bpe.tokenizer.json: Llama 2 / TinyLlama style SentencePiece BPE
    (Prepend/Replace normalizer, byte_fallback, fuse_unk, the Replace /
    ByteFallback / Fuse / Strip decoder, TemplateProcessing with <s>).

and, from an independent pure-python encoder and decoder for each (no
`tokenizers` or `regex` package needed), the expected encodings
{name}.expected.json: a list of {text, ids, ids_special, decoded,
decoded_skip}. Run with /usr/bin/python3 from the repository root:

  /usr/bin/python3 python/tokenizer_fixtures.py
"""

import heapq
import json
import os
import unicodedata
from collections import Counter

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "runtime", "unittests", "data", "tokenizers")

CORPUS = """\
The quick brown fox jumps over the lazy dog. The dog didn't mind; it's a lazy dog.
I'm sure they're going to the market, and we'll see what they've bought.
Language models read text as tokens: the tokenizer splits the text into pieces.
There are 365 days in a year, 24 hours in a day and 60 minutes in an hour.
In 2024 the price was 1234.56 dollars, in 2025 it was 7890.12 dollars.
Hello world! Hello again, world. This is the end of the English part.
Die Straße in München ist schön. Grüße aus Köln und Düsseldorf!
Äpfel, Birnen und Öl sind im Überfluss vorhanden. Das Mädchen läuft schnell.
Der Bär hat große Füße. Wir müssen über die Brücke gehen.
Le café est très bon à Paris. Où est la bibliothèque? C'est l'été.
El niño está en la escuela. ¿Dónde está la estación? Mañana será otro día.
我们喜欢学习语言。中文的文字很美。我爱北京。今天是好日子。
日本語を勉強しています。ひらがなとカタカナを書きます。東京は大きい。
مرحبا بكم في العالم. اللغة العربية جميلة. شكرا لكم.
Привет, мир! Как дела? Москва — столица России.
def main(): return [x * 2 for x in range(10)]  # a comment
    indented line with    several   spaces
and a line after a blank line.

Tabs\tand\tnewlines\nare whitespace too. Smile :) 🙂 👍
"""

TESTS = [
    "Hello world! This is a test.",
    "Grüße aus München: Äpfel, Öl und Übermut — schön!",
    "我爱自然语言处理。今天天气很好。",
    "日本語のテキストです。カタカナとひらがな。",
    "مرحبا بالعالم، كيف حالك؟",
    "Emoji: 😀👍🏽 👨\u200d👩\u200d👧\u200d👦 🏳\ufe0f\u200d🌈 ❤\ufe0f",
    "Numbers: 1234567 3.14159 -42 1,000,000 and 2024-05-17",
    "  multiple   spaces\n\nand\n\n\nnewlines\t tabs  \r\n end  ",
    "I'm sure you're right, they've said we'll see; it's DON'T vs don't, I'd.",
    "Code: def f(x): return x**2  # comment",
    " leading space",
    "trailing space ",
    "",
    "a",
    "\n",
    "Привет, мир! Как дела?",
]
BYTE_SPECIAL_TESTS = [
    "<|begin_of_text|>Hello<|eot_id|> world<|end_of_text|>",
    "x<|eot_id|><|eot_id|>y <|begin_of_text|>",
    "not special: <|begin_of_text| and <|eot_id",
]
SP_SPECIAL_TESTS = [
    "<s>Hello</s> world <s>",
    "a</s></s>b",
    "not special: <s and s>",
]

# --------------------------------------------------------------------------
# Character classes as PCRE2 sees them with PCRE2_UTF | PCRE2_UCP.


def is_letter(c):
    return unicodedata.category(c)[0] == "L"


def is_number(c):
    return unicodedata.category(c)[0] == "N"


def is_space(c):
    return c in "\t\n\x0b\x0c\r" or unicodedata.category(c)[0] == "Z"


LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
    r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def llama3_split(text):
    """A hand-written matcher for LLAMA3_PATTERN (leftmost-first)."""
    out = []
    i, n = 0, len(text)

    def run(j, pred):
        while j < n and pred(text[j]):
            j += 1
        return j

    def other(c):
        return not (is_space(c) or is_letter(c) or is_number(c))

    while i < n:
        c = text[i]
        end = None
        # (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if c == "'":
            for suf in ("s", "t", "re", "ve", "m", "ll", "d"):
                if text[i + 1:i + 1 + len(suf)].lower() == suf:
                    end = i + 1 + len(suf)
                    break
        # [^\r\n\p{L}\p{N}]?\p{L}+
        if end is None:
            if (c not in "\r\n" and not is_letter(c) and not is_number(c)
                    and i + 1 < n and is_letter(text[i + 1])):
                end = run(i + 1, is_letter)
            elif is_letter(c):
                end = run(i, is_letter)
        # \p{N}{1,3}
        if end is None and is_number(c):
            end = i + 1
            while end < n and end - i < 3 and is_number(text[end]):
                end += 1
        # ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        if end is None:
            start = None
            if c == " " and i + 1 < n and other(text[i + 1]):
                start = i + 1
            elif other(c):
                start = i
            if start is not None:
                end = run(run(start, other), lambda ch: ch in "\r\n")
        if end is None:
            j = run(i, is_space)
            # \s*[\r\n]+
            last_nl = max((k for k in range(i, j) if text[k] in "\r\n"),
                          default=None)
            if last_nl is not None:
                end = last_nl + 1
            # \s+(?!\S)
            elif j == n:
                end = j
            elif j - i >= 2:
                end = j - 1
            # \s+
            else:
                end = j
        out.append(text[i:end])
        i = end
    return out


# --------------------------------------------------------------------------
# GPT-2 byte <-> unicode mapping.


def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) +
          list(range(ord("¡"), ord("¬") + 1)) +
          list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def byte_level(s):
    return "".join(BYTE_TO_CHAR[b] for b in s.encode("utf-8"))


# --------------------------------------------------------------------------
# A tiny BPE trainer and the rank-based merger.


def train_bpe(word_counts, num_merges):
    """word_counts: {tuple(symbols): count}. Returns the list of merges: each
    step merges the most frequent adjacent pair (ties: the smallest pair).
    Pair counts are updated incrementally, only for the words that hold the
    merged pair, so corpora of megabytes train in seconds."""
    words = [list(w) for w in word_counts]
    counts = list(word_counts.values())
    pair_count = Counter()
    where = {}
    for i, w in enumerate(words):
        for p in zip(w, w[1:]):
            pair_count[p] += counts[i]
            where.setdefault(p, set()).add(i)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < num_merges and heap:
        negc, best = heapq.heappop(heap)
        if pair_count.get(best, 0) != -negc or negc == 0:
            continue  # stale entry; the current count was pushed again
        a, b = best
        merges.append(best)
        changed = set()
        for i in sorted(where.pop(best, ())):
            w, c = words[i], counts[i]
            for p in zip(w, w[1:]):
                pair_count[p] -= c
                changed.add(p)
            out, k = [], 0
            while k < len(w):
                if k + 1 < len(w) and w[k] == a and w[k + 1] == b:
                    out.append(a + b)
                    k += 2
                else:
                    out.append(w[k])
                    k += 1
            words[i] = out
            for p in zip(out, out[1:]):
                pair_count[p] += c
                changed.add(p)
                where.setdefault(p, set()).add(i)
        for p in changed:
            if pair_count[p] > 0:
                heapq.heappush(heap, (-pair_count[p], p))
            else:
                pair_count.pop(p, None)
    return merges


def apply_merges(symbols, ranks):
    """GPT-2 style: repeatedly merge every occurrence of the best pair."""
    symbols = list(symbols)
    while len(symbols) > 1:
        cands = [(ranks[p], p) for p in zip(symbols, symbols[1:]) if p in ranks]
        if not cands:
            break
        _, (a, b) = min(cands)
        out, k = [], 0
        while k < len(symbols):
            if (k + 1 < len(symbols) and symbols[k] == a and
                    symbols[k + 1] == b):
                out.append(a + b)
                k += 2
            else:
                out.append(symbols[k])
                k += 1
        symbols = out
    return symbols


def split_added(text, specials):
    """Splits text into (piece, is_special), longest special first."""
    out, buf, i = [], "", 0
    ordered = sorted(specials, key=len, reverse=True)
    while i < len(text):
        for s in ordered:
            if text.startswith(s, i):
                if buf:
                    out.append((buf, False))
                    buf = ""
                out.append((s, True))
                i += len(s)
                break
        else:
            buf += text[i]
            i += 1
    if buf:
        out.append((buf, False))
    return out


def added_token(id_, content):
    return {"id": id_, "content": content, "single_word": False,
            "lstrip": False, "rstrip": False, "normalized": False,
            "special": True}


def template(bos, bos_id):
    return {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": bos, "type_id": 0}},
                   {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": bos, "type_id": 0}},
                 {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": bos, "type_id": 1}},
                 {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {bos: {"id": bos, "ids": [bos_id],
                                 "tokens": [bos]}},
    }


# --------------------------------------------------------------------------
# Llama 3 style byte-level BPE.


class ByteBpe:
    SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]

    def __init__(self, texts=(CORPUS,), num_merges=400):
        counts = Counter()
        for text in texts:
            for piece in llama3_split(text):
                counts[tuple(byte_level(piece))] += 1
        self.merges = train_bpe(counts, num_merges)
        self.vocab = {}
        for b in range(256):
            self.vocab[BYTE_TO_CHAR[b]] = b
        for a, b in self.merges:
            self.vocab.setdefault(a + b, len(self.vocab))
        self.ranks = {m: r for r, m in enumerate(self.merges)}
        base = len(self.vocab)
        self.special_ids = {s: base + k for k, s in enumerate(self.SPECIALS)}
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.id_to_token.update({i: s for s, i in self.special_ids.items()})

    def encode(self, text, add_special):
        ids = [self.special_ids["<|begin_of_text|>"]] if add_special else []
        for piece, special in split_added(text, self.SPECIALS):
            if special:
                ids.append(self.special_ids[piece])
                continue
            for word in llama3_split(piece):
                bl = byte_level(word)
                if bl in self.vocab:  # ignore_merges
                    ids.append(self.vocab[bl])
                    continue
                ids += [self.vocab[s] for s in apply_merges(bl, self.ranks)]
        return ids

    def decode(self, ids, skip_special):
        out = bytearray()
        for i in ids:
            tok = self.id_to_token[i]
            if tok in self.special_ids:
                if not skip_special:
                    out += tok.encode("utf-8")
                continue
            out += bytes(CHAR_TO_BYTE[c] for c in tok)
        return out.decode("utf-8", errors="replace")

    def tokenizer_json(self):
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [added_token(i, s)
                             for s, i in self.special_ids.items()],
            "normalizer": None,
            "pre_tokenizer": {
                "type": "Sequence",
                "pretokenizers": [
                    {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN},
                     "behavior": "Isolated", "invert": False},
                    {"type": "ByteLevel", "add_prefix_space": False,
                     "trim_offsets": True, "use_regex": False},
                ],
            },
            "post_processor": {
                "type": "Sequence",
                "processors": [
                    {"type": "ByteLevel", "add_prefix_space": True,
                     "trim_offsets": False, "use_regex": True},
                    template(self.SPECIALS[0],
                             self.special_ids[self.SPECIALS[0]]),
                ],
            },
            "decoder": {"type": "ByteLevel", "add_prefix_space": True,
                        "trim_offsets": True, "use_regex": True},
            "model": {
                "type": "BPE", "dropout": None, "unk_token": None,
                "continuing_subword_prefix": None,
                "end_of_word_suffix": None, "fuse_unk": False,
                "byte_fallback": False, "ignore_merges": True,
                "vocab": self.vocab,
                "merges": [[a, b] for a, b in self.merges],
            },
        }


# --------------------------------------------------------------------------
# Llama 2 / TinyLlama style SentencePiece BPE with byte fallback.

SPACE = "\u2581"


class SpBpe:
    SPECIALS = ["<unk>", "<s>", "</s>"]

    def __init__(self):
        self.vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
        for b in range(256):
            self.vocab["<0x%02X>" % b] = len(self.vocab)
        norm = self.normalize(CORPUS)
        chars = Counter(norm)
        # Rare characters stay out of the vocabulary: they exercise the
        # byte fallback.
        for c in sorted(ch for ch, n in chars.items() if n >= 2):
            self.vocab[c] = len(self.vocab)
        words = Counter()
        for w in norm.split(SPACE):
            if w:
                words[tuple(SPACE + w)] += 1
        words = Counter({w: c for w, c in words.items()
                         if all(ch in self.vocab for ch in w)})
        self.merges = train_bpe(words, 350)
        for a, b in self.merges:
            self.vocab.setdefault(a + b, len(self.vocab))
        self.ranks = {m: r for r, m in enumerate(self.merges)}
        self.id_to_token = {i: t for t, i in self.vocab.items()}

    @staticmethod
    def normalize(s):
        return SPACE + s.replace(" ", SPACE) if s else s

    def encode(self, text, add_special):
        ids = [1] if add_special else []
        for piece, special in split_added(text, self.SPECIALS):
            if special:
                ids.append(self.vocab[piece])
                continue
            syms = []
            for c in self.normalize(piece):
                if c in self.vocab:
                    syms.append(c)
                else:
                    syms += ["<0x%02X>" % b for b in c.encode("utf-8")]
            # Byte tokens never merge: no merge mentions them.
            ids += [self.vocab[s] for s in apply_merges(syms, self.ranks)]
        return ids

    def decode(self, ids, skip_special):
        toks = [self.id_to_token[i] for i in ids
                if not (skip_special and self.id_to_token[i] in self.SPECIALS)]
        toks = [t.replace(SPACE, " ") for t in toks]
        # ByteFallback: runs of <0xNN> become the string of their bytes.
        out, pending = [], bytearray()

        def flush():
            if pending:
                try:
                    out.append(pending.decode("utf-8"))
                except UnicodeDecodeError:
                    out.append("\ufffd" * len(pending))
                pending.clear()

        for t in toks:
            if len(t) == 6 and t.startswith("<0x") and t.endswith(">"):
                pending.append(int(t[3:5], 16))
            else:
                flush()
                out.append(t)
        flush()
        s = "".join(out)  # Fuse
        return s[1:] if s.startswith(" ") else s  # Strip start=1

    def tokenizer_json(self):
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [added_token(self.vocab[s], s)
                             for s in self.SPECIALS],
            "normalizer": {
                "type": "Sequence",
                "normalizers": [
                    {"type": "Prepend", "prepend": SPACE},
                    {"type": "Replace", "pattern": {"String": " "},
                     "content": SPACE},
                ],
            },
            "pre_tokenizer": None,
            "post_processor": template("<s>", 1),
            "decoder": {
                "type": "Sequence",
                "decoders": [
                    {"type": "Replace", "pattern": {"String": SPACE},
                     "content": " "},
                    {"type": "ByteFallback"},
                    {"type": "Fuse"},
                    {"type": "Strip", "content": " ", "start": 1, "stop": 0},
                ],
            },
            "model": {
                "type": "BPE", "dropout": None, "unk_token": "<unk>",
                "continuing_subword_prefix": None,
                "end_of_word_suffix": None, "fuse_unk": True,
                "byte_fallback": True,
                "vocab": self.vocab,
                "merges": ["%s %s" % (a, b) for a, b in self.merges],
            },
        }


def expected(tok, texts):
    out = []
    for t in texts:
        ids = tok.encode(t, False)
        out.append({
            "text": t,
            "ids": ids,
            "ids_special": tok.encode(t, True),
            "decoded": tok.decode(ids, False),
            "decoded_skip": tok.decode(ids, True),
        })
    return out


def write(name, obj):
    path = os.path.join(OUT_DIR, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.relpath(path), os.path.getsize(path), "bytes")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    byte = ByteBpe()
    write("byte_bpe.tokenizer.json", byte.tokenizer_json())
    write("byte_bpe.expected.json",
          expected(byte, TESTS + BYTE_SPECIAL_TESTS))
    sp = SpBpe()
    write("sp_bpe.tokenizer.json", sp.tokenizer_json())
    write("sp_bpe.expected.json", expected(sp, TESTS + SP_SPECIAL_TESTS))


if __name__ == "__main__":
    main()
