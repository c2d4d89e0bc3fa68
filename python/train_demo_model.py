#!/usr/bin/python3
"""Trains Kiln's demo model: a ~3.5M-parameter Llama on the King James Bible.

The README's main command compiles and runs the model this script writes to
models/kiln-demo: a Hugging Face directory (config.json, model.safetensors
in bf16, tokenizer.json, tokenizer_config.json, generation_config.json) that
any Llama loader reads. Everything comes from Debian:

  * the corpus: the King James Version from the bible-kjv-text package (the
    text's copyright has expired; the package's data file is "for
    unrestricted use"), read through the package's `bible` program
    (bible-kjv);
  * the trainer: Debian's python3-torch on the CPU (`/usr/bin/python3`);
  * the tokenizer: a byte-level BPE (Llama 3 pre-tokenizer regex) trained
    here by python/tokenizer_fixtures.py's pure-python BPE trainer.

Training is seeded and runs a fixed number of steps, so a rerun gives the
same loss curve up to floating-point summation order (the weights are not
bit-for-bit reproducible across torch builds or thread counts). On the
2-core development machine the default settings take about 20 minutes:

  apt-get install bible-kjv bible-kjv-text python3-torch
  /usr/bin/python3 python/train_demo_model.py --out models/kiln-demo
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_model_dir  # noqa: E402
import safetensors_np  # noqa: E402
import tokenizer_fixtures as tf  # noqa: E402

BOS, EOS = "<s>", "</s>"
# Each verse on its own line, each chapter one document between <s> and </s>.
VERSE = re.compile(r"^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$")


def read_kjv(bible_program):
    """Returns the chapters of the KJV as lists of verse strings."""
    try:
        text = subprocess.run([bible_program, "-f", "Gen1:1-Rev22:21"],
                              check=True, capture_output=True,
                              text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"train_demo_model: cannot run '{bible_program}' ({e}); "
                 "apt-get install bible-kjv bible-kjv-text")
    chapters, key = [], None
    for line in text.splitlines():
        m = VERSE.match(line)
        if not m:
            sys.exit(f"train_demo_model: unexpected line from bible: {line!r}")
        book, chapter, _, verse = m.groups()
        if (book, chapter) != key:
            chapters.append([])
            key = (book, chapter)
        chapters[-1].append(verse.strip())
    return chapters


# --------------------------------------------------------------------------
# Tokenizer: byte-level BPE with <s> and </s> as added special tokens.


class DemoTokenizer(tf.ByteBpe):
    SPECIALS = [BOS, EOS]

    def __init__(self, texts, vocab_size):
        super().__init__(texts, vocab_size - 256 - len(self.SPECIALS))
        self.cache = {}

    @classmethod
    def from_json(cls, path):
        """The tokenizer a tokenizer.json written by this script describes
        (vocab, merges, added tokens), without training."""
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
        tok = cls.__new__(cls)
        tok.vocab = j["model"]["vocab"]
        tok.merges = [tuple(m) for m in j["model"]["merges"]]
        tok.ranks = {m: r for r, m in enumerate(tok.merges)}
        tok.special_ids = {t["content"]: t["id"] for t in j["added_tokens"]}
        tok.id_to_token = {i: t for t, i in tok.vocab.items()}
        tok.id_to_token.update({i: s for s, i in tok.special_ids.items()})
        tok.cache = {}
        return tok

    def encode(self, text, add_special):
        ids = [self.special_ids[BOS]] if add_special else []
        for word in tf.llama3_split(text):
            if word not in self.cache:
                bl = tf.byte_level(word)
                self.cache[word] = ([self.vocab[bl]] if bl in self.vocab else
                                    [self.vocab[s] for s in
                                     tf.apply_merges(bl, self.ranks)])
            ids += self.cache[word]
        return ids

# --------------------------------------------------------------------------
# Model: the Hugging Face Llama decoder (rotate-half RoPE), in torch.


def build_model(torch, cfg):
    nn = torch.nn
    h, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], \
        cfg["num_key_value_heads"]
    hd = h // nh
    inv_freq = 1.0 / (cfg["rope_theta"] ** (
        torch.arange(0, hd, 2, dtype=torch.float32) / hd))

    class RMSNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(h))

        def forward(self, x):
            v = x.pow(2).mean(-1, keepdim=True)
            return x * torch.rsqrt(v + cfg["rms_norm_eps"]) * self.weight

    def rotate_half(x):
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((-x2, x1), dim=-1)

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.input_layernorm = RMSNorm()
            self.post_attention_layernorm = RMSNorm()
            a = nn.Module()
            a.q_proj = nn.Linear(h, nh * hd, bias=False)
            a.k_proj = nn.Linear(h, nkv * hd, bias=False)
            a.v_proj = nn.Linear(h, nkv * hd, bias=False)
            a.o_proj = nn.Linear(nh * hd, h, bias=False)
            self.self_attn = a
            m = nn.Module()
            m.gate_proj = nn.Linear(h, cfg["intermediate_size"], bias=False)
            m.up_proj = nn.Linear(h, cfg["intermediate_size"], bias=False)
            m.down_proj = nn.Linear(cfg["intermediate_size"], h, bias=False)
            self.mlp = m

        def forward(self, x, cos, sin, mask):
            b, s, _ = x.shape
            a = self.self_attn
            y = self.input_layernorm(x)
            q = a.q_proj(y).view(b, s, nh, hd).transpose(1, 2)
            k = a.k_proj(y).view(b, s, nkv, hd).transpose(1, 2)
            v = a.v_proj(y).view(b, s, nkv, hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(nh // nkv, dim=1)
            v = v.repeat_interleave(nh // nkv, dim=1)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
            o = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, s, nh * hd)
            x = x + a.o_proj(o)
            m = self.mlp
            y = self.post_attention_layernorm(x)
            y = m.down_proj(nn.functional.silu(m.gate_proj(y)) * m.up_proj(y))
            return x + y

    class Llama(nn.Module):
        def __init__(self):
            super().__init__()
            inner = nn.Module()
            inner.embed_tokens = nn.Embedding(cfg["vocab_size"], h)
            inner.layers = nn.ModuleList(
                [Layer() for _ in range(cfg["num_hidden_layers"])])
            inner.norm = RMSNorm()
            self.model = inner

        def forward(self, ids):
            s = ids.shape[1]
            t = torch.arange(s, dtype=torch.float32)
            freqs = torch.outer(t, inv_freq)
            emb = torch.cat((freqs, freqs), dim=-1)
            cos, sin = emb.cos(), emb.sin()
            mask = torch.full((s, s), float("-inf")).triu(1)
            x = self.model.embed_tokens(ids)
            for layer in self.model.layers:
                x = layer(x, cos, sin, mask)
            x = self.model.norm(x)
            return x @ self.model.embed_tokens.weight.t()  # tied lm_head

    model = Llama()
    for name, p in model.named_parameters():
        if p.dim() == 2:
            std = 0.02
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                std /= math.sqrt(2 * cfg["num_hidden_layers"])
            nn.init.normal_(p, 0.0, std)
    return model


def config_json(args, vocab_size, tok):
    cfg = make_model_dir.hf_config(dict(
        architecture="llama", hidden_size=args.hidden,
        intermediate_size=args.intermediate, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
        head_dim=args.hidden // args.heads, vocab_size=vocab_size,
        max_position_embeddings=args.max_positions, rms_norm_eps=1e-5,
        rope_theta=10000.0, rope_scaling=None, sliding_window=None,
        tie_word_embeddings=True), dtype="BF16")
    cfg.update(bos_token_id=tok.special_ids[BOS],
               eos_token_id=tok.special_ids[EOS])
    return cfg


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "..", "models",
                                                  "kiln-demo"))
    ap.add_argument("--bible", default="bible",
                    help="the bible-kjv program (default: bible on PATH)")
    ap.add_argument("--vocab-size", type=int, default=2048)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--intermediate", type=int, default=768)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--max-positions", type=int, default=512)
    ap.add_argument("--seq", type=int, default=128,
                    help="training sequence length")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import torch
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    t0 = time.time()

    chapters = read_kjv(args.bible)
    texts = ["\n".join(c) + "\n" for c in chapters]
    print(f"corpus: {len(chapters)} chapters, "
          f"{sum(len(t) for t in texts)} characters", flush=True)
    tok = DemoTokenizer(texts, args.vocab_size)
    vocab_size = len(tok.vocab) + len(tok.SPECIALS)
    stream = []
    for t in texts:
        stream += tok.encode(t, True) + [tok.special_ids[EOS]]
    data = torch.tensor(stream, dtype=torch.long)
    print(f"tokenizer: {vocab_size} tokens, corpus {len(stream)} tokens "
          f"({time.time() - t0:.0f} s)", flush=True)

    cfg = config_json(args, vocab_size, tok)
    model = build_model(torch, cfg)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"model: {nparams / 1e6:.2f}M parameters", flush=True)

    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    warmup = max(1, args.steps // 30)

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        frac = (step - warmup) / max(1, args.steps - warmup)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))

    gen = torch.Generator().manual_seed(args.seed)
    n = len(stream) - args.seq - 1
    avg = None
    for step in range(args.steps):
        starts = torch.randint(0, n, (args.batch,), generator=gen)
        idx = starts[:, None] + torch.arange(args.seq + 1)[None, :]
        chunk = data[idx]
        logits = model(chunk[:, :-1])
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, vocab_size), chunk[:, 1:].reshape(-1))
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step:5d}  loss {avg:.3f}  lr {lr_at(step):.2e}  "
                  f"{time.time() - t0:.0f} s", flush=True)

    os.makedirs(args.out, exist_ok=True)
    tensors = {name: p.detach().float().numpy()
               for name, p in model.named_parameters()}
    safetensors_np.save_file(
        tensors, os.path.join(args.out, "model.safetensors"), dtype="BF16",
        metadata={"format": "pt"})
    write_json(os.path.join(args.out, "config.json"), cfg)
    write_json(os.path.join(args.out, "generation_config.json"), {
        "bos_token_id": tok.special_ids[BOS],
        "eos_token_id": tok.special_ids[EOS],
        "do_sample": False,
        "transformers_version": "4.44.0",
    })
    write_json(os.path.join(args.out, "tokenizer_config.json"), {
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": BOS,
        "eos_token": EOS,
        "clean_up_tokenization_spaces": False,
        "model_max_length": args.max_positions,
        "tokenizer_class": "PreTrainedTokenizerFast",
    })
    with open(os.path.join(args.out, "tokenizer.json"), "w",
              encoding="utf-8") as f:
        json.dump(tok.tokenizer_json(), f, ensure_ascii=False,
                  separators=(",", ":"))
        f.write("\n")
    print(f"wrote {args.out}: final loss {avg:.3f}, "
          f"{time.time() - t0:.0f} s in all", flush=True)


if __name__ == "__main__":
    main()
