#!/usr/bin/python3
"""Trains a small GPT-style character language model on the King James Bible and exports it to ONNX.

The text is the Authorized (King James) Version, public domain, as Debian's bible-kjv-text package ships it
(apt-get install -y bible-kjv bible-kjv-text; `bible -f Gen1:1-Rev22:21` prints one verse a line). The verse
references are dropped and the verses joined by newlines: 4.3 M characters. The first 95% trains, the rest is
held out; the script writes a slice of the held-out text and the training-text calibration windows next to the
model so the Java tests and benchmarks need neither torch nor the package.

Model: token + learned position embeddings, pre-LayerNorm blocks of causal multi-head self-attention and a GELU
MLP (4x), a final LayerNorm and an untied output head; exported with opset 17 (LayerNormalization), dynamic batch
and sequence length, input `tokens` int64 [batch, sequence], output `logits` float [batch, sequence, vocabulary].

Run with Debian's python3-torch 1.13 (only /usr/bin/python3 has it), from the project root:

    /usr/bin/python3 integration-tests/src/test/python/train_char_lm.py \
        --out plugins/quantization/src/test/resources/char-lm

Seeded (torch, numpy and the data order): a rerun on the same machine gives the same model up to
floating-point nondeterminism of multi-threaded CPU kernels.
"""
import argparse
import math
import os
import re
import subprocess
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_text():
    raw = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True, text=True).stdout
    verses = [re.sub(r"^\S+\d+:\d+ ", "", line) for line in raw.splitlines() if line.strip()]
    return "\n".join(verses) + "\n"


class Block(nn.Module):
    def __init__(self, width, heads, context):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.up = nn.Linear(width, 4 * width)
        self.down = nn.Linear(4 * width, width)
        mask = torch.triu(torch.full((context, context), float("-inf")), diagonal=1)
        self.register_buffer("mask", mask, persistent=False)

    def attention(self, x):
        batch, length, width = x.shape
        size = width // self.heads
        q = self.query(x).view(batch, length, self.heads, size).transpose(1, 2)
        k = self.key(x).view(batch, length, self.heads, size).transpose(1, 2)
        v = self.value(x).view(batch, length, self.heads, size).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) / math.sqrt(size) + self.mask[:length, :length]
        out = F.softmax(scores, dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(batch, length, width))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.down(F.gelu(self.up(self.norm2(x))))


class CharGpt(nn.Module):
    def __init__(self, vocabulary, width, layers, heads, context):
        super().__init__()
        self.tokens = nn.Embedding(vocabulary, width)
        self.positions = nn.Embedding(context, width)
        self.blocks = nn.ModuleList([Block(width, heads, context) for _ in range(layers)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocabulary)
        self.apply(self.initialise)

    @staticmethod
    def initialise(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, tokens):
        length = tokens.shape[1]
        positions = torch.arange(length, device=tokens.device)
        x = self.tokens(tokens) + self.positions(positions)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def evaluate(model, data, context, windows):
    model.eval()
    losses = []
    with torch.no_grad():
        for start in range(0, min(len(data) - context - 1, windows * context), context):
            chunk = torch.from_numpy(data[start:start + context + 1][None, :])
            logits = model(chunk[:, :-1])
            losses.append(F.cross_entropy(logits[0], chunk[0, 1:]).item())
    model.train()
    return float(np.mean(losses))


def write_description(args, alphabet, parameters, held_loss):
    """The alphabet (token id = position, UTF-8, newline included) and the figures the Java tests read."""
    with open(os.path.join(args.out, "char_gpt_alphabet.txt"), "w", encoding="utf-8", newline="") as f:
        f.write("".join(alphabet))
    with open(os.path.join(args.out, "char_gpt.properties"), "w", encoding="utf-8") as f:
        f.write(f"context={args.context}\nparameters={parameters}\nheld_out_loss_torch={held_loss!r}\n")
        for name, value in sorted(vars(args).items()):
            if name != "out":
                f.write(f"training.{name}={value}\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--width", type=int, default=192)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--context", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--held-out-chars", type=int, default=65536)
    parser.add_argument("--calibration-windows", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    text = load_text()
    alphabet = sorted(set(text))
    index = {c: i for i, c in enumerate(alphabet)}
    data = np.array([index[c] for c in text], dtype=np.int64)
    split = int(len(data) * 0.95)
    train, held_out = data[:split], data[split:]
    print(f"text {len(text)} chars, alphabet {len(alphabet)}, train {len(train)}, held out {len(held_out)}")

    model = CharGpt(len(alphabet), args.width, args.layers, args.heads, args.context)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"parameters {parameters}")
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, betas=(0.9, 0.99), weight_decay=0.1)
    warmup = max(1, args.steps // 20)
    started = time.time()
    for step in range(1, args.steps + 1):
        rate = args.learning_rate * min(step / warmup, 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        for group in optimiser.param_groups:
            group["lr"] = rate
        starts = rng.integers(0, len(train) - args.context - 1, size=args.batch)
        chunk = torch.from_numpy(np.stack([train[s:s + args.context + 1] for s in starts]))
        logits = model(chunk[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, len(alphabet)), chunk[:, 1:].reshape(-1))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        if step % 10 == 0 or step == args.steps:
            print(f"step {step} loss {loss.item():.4f} lr {rate:.5f} {time.time() - started:.0f} s", flush=True)

    held_loss = evaluate(model, held_out, args.context, 64)  # the first 64 windows of context + 1, as the Java side
    print(f"held-out loss {held_loss:.4f} perplexity {math.exp(held_loss):.4f} (64 windows of {args.context})")

    os.makedirs(args.out, exist_ok=True)
    model.eval()
    path = os.path.join(args.out, "char_gpt.onnx")
    torch.onnx.export(model, torch.zeros((1, args.context), dtype=torch.int64), path, opset_version=17,
                      input_names=["tokens"], output_names=["logits"],
                      dynamic_axes={"tokens": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}})
    write_description(args, alphabet, parameters, held_loss)
    with open(os.path.join(args.out, "kjv_held_out.txt"), "w", encoding="utf-8") as f:
        f.write("".join(alphabet[i] for i in held_out[:args.held_out_chars]))
    starts = rng.integers(0, len(train) - args.context, size=args.calibration_windows)
    np.save(os.path.join(args.out, "kjv_calibration_tokens.npy"),
            np.stack([train[s:s + args.context] for s in starts]).astype(np.int64))
    print(f"wrote {path} ({os.path.getsize(path)} bytes) in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
