#!/usr/bin/env python3
"""Kiln's tokenizer against Hugging Face's `tokenizers` library.

Encodes the multilingual and emoji texts of python/tokenizer_fixtures.py
(and their special-token cases) with `kiln-tokenize` and with
`tokenizers.Tokenizer.from_file` for each tokenizer.json given (default:
the two fixture tokenizers and the demo model's), with and without the
post-processor's special tokens, and requires equal ids. Needs the
`tokenizers` package (the GPU machine has it; Debian's python3 here does
not).

  python3 python/hf_tokenizer_check.py --kiln-tokenize build/bin/kiln-tokenize
"""

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import tokenizer_fixtures as tf  # noqa: E402

DEFAULT_TOKENIZERS = [
    os.path.join(ROOT, "runtime", "unittests", "data", "tokenizers",
                 "byte_bpe.tokenizer.json"),
    os.path.join(ROOT, "runtime", "unittests", "data", "tokenizers",
                 "sp_bpe.tokenizer.json"),
    os.path.join(ROOT, "models", "kiln-demo", "tokenizer.json"),
]


def kiln_ids(tool, path, text, special):
    cmd = [tool, path] + (["--add-special"] if special else []) + [text]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return [int(t) for t in out.stdout.split()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln-tokenize", required=True)
    ap.add_argument("tokenizers", nargs="*", default=DEFAULT_TOKENIZERS)
    args = ap.parse_args(argv)
    from tokenizers import Tokenizer

    texts = tf.TESTS + tf.BYTE_SPECIAL_TESTS + tf.SP_SPECIAL_TESTS
    failures = 0
    for path in args.tokenizers:
        hf = Tokenizer.from_file(path)
        same = 0
        for text in texts:
            if text.startswith("-"):
                continue  # would read as a flag
            for special in (False, True):
                want = hf.encode(text, add_special_tokens=special).ids
                got = kiln_ids(args.kiln_tokenize, path, text, special)
                if got == want:
                    same += 1
                else:
                    failures += 1
                    print(f"MISMATCH {os.path.basename(path)} "
                          f"special={special} {text!r}:\n  hf   {want}\n"
                          f"  kiln {got}")
        print(f"{os.path.basename(path):28} {same} encodings equal")
    print("tokenizers agree" if not failures else f"{failures} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
