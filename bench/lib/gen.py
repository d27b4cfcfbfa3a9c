#!/usr/bin/env python3
"""Seeded data generators for bench/compare.sh.

    gen.py text   PATH BYTES SEED                  prose-like ASCII text, exactly BYTES long
    gen.py sparse PATH BYTES EXTENTS DATA SEED     a sparse file: EXTENTS runs of random data, DATA bytes in all
    gen.py tree   DIR FILES BYTES SEED             FILES small text files (BYTES on average) in subdirectories

The same arguments always give the same bytes. Each output gets a stamp (PATH.stamp, or DIR.stamp) holding
its arguments; when the stamp matches and the output is still there (with the right size for files), the
generator does nothing, so a kept BENCH_DIR is reused across runs.
"""

import os
import random
import sys

CHUNK = 16 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")


def fresh(path, stamp, size=None):
    """True when `path` was already generated with these arguments."""
    try:
        with open(path + ".stamp") as f:
            if f.read() != stamp:
                return False
        return size is None or os.path.getsize(path) == size
    except OSError:
        return False


def mark(path, stamp):
    with open(path + ".stamp", "w") as f:
        f.write(stamp)


def vocabulary(rng, n=6000):
    """Pronounceable words of 1 to 4 syllables, most frequent first, with cumulative Zipf weights."""
    onsets = ["", "b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "w",
              "br", "ch", "cl", "dr", "fr", "gr", "pl", "pr", "sh", "st", "th", "tr"]
    nuclei = ["a", "e", "i", "o", "u", "ea", "ou", "ai", "ee", "oo"]
    codas = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "ck"]
    words = set()
    while len(words) < n:
        k = rng.choice((1, 1, 1, 2, 2, 2, 3, 3, 4))
        words.add("".join(rng.choice(onsets) + rng.choice(nuclei) + rng.choice(codas) for _ in range(k)))
    words = sorted(words, key=len)  # short words are the frequent ones, as in prose
    head, tail = words[:300], words[300:]
    rng.shuffle(head)
    rng.shuffle(tail)
    words = head + tail
    cum, total = [], 0.0
    for rank in range(len(words)):
        total += 1.0 / (rank + 1) ** 1.05
        cum.append(total)
    return words, cum


def sentence_lines(rng, n_lines):
    words, cum = vocabulary(rng)
    lines = []
    for _ in range(n_lines):
        r = rng.random()
        if r < 0.04:
            lines.append("\n")  # paragraph break
            continue
        n = rng.randint(1, 4) if r < 0.10 else rng.randint(6, 16)
        picked = rng.choices(words, cum_weights=cum, k=n)
        picked[0] = picked[0].capitalize()
        for i in range(n - 1):
            c = rng.random()
            if c < 0.07:
                picked[i] += ","
            elif c < 0.09:
                picked[i] += "."
                picked[i + 1] = picked[i + 1].capitalize()
        picked[-1] += rng.choice((".", ".", ".", ",", ";", "?", ":"))
        indent = "    " if rng.random() < 0.03 else ""
        lines.append(indent + " ".join(picked) + "\n")
    return [line.encode("ascii") for line in lines]


def text(path, size, seed):
    stamp = f"text {size} {seed} v1\n"
    if fresh(path, stamp, size):
        return
    rng = random.Random(seed)
    pool = sentence_lines(rng, 60000)
    mean = sum(map(len, pool)) / len(pool)
    per_chunk = max(1, int(CHUNK / mean))
    left = size
    with open(path, "wb") as out:
        while left > 0:
            chunk = b"".join(rng.choices(pool, k=per_chunk))
            if len(chunk) >= left:
                chunk = chunk[:left]
                if left > 0:
                    chunk = chunk[:-1] + b"\n"  # end on a line, like a text file
            out.write(chunk)
            left -= len(chunk)
    mark(path, stamp)


def sparse(path, size, extents, data, seed):
    stamp = f"sparse {size} {extents} {data} {seed} v1\n"
    if fresh(path, stamp, size):
        return
    rng = random.Random(seed)
    extents = max(1, extents)
    each = max(PAGE, (data // extents) // PAGE * PAGE)
    stride = size // extents
    if each > stride:
        sys.exit(f"gen.py sparse: {extents} extents of {each} bytes do not fit in {size} bytes")
    with open(path, "wb") as out:
        out.truncate(size)
        for i in range(extents):
            # Page-aligned, evenly spread, with a seeded jitter so holes differ in length.
            slack = stride - each
            at = i * stride + (rng.randrange(slack + 1) // PAGE * PAGE if slack else 0)
            out.seek(at)
            left = each
            while left > 0:
                n = min(left, CHUNK)
                out.write(rng.randbytes(n))
                left -= n
    mark(path, stamp)


def tree(root, files, mean, seed):
    stamp = f"tree {files} {mean} {seed} v1\n"
    if fresh(root, stamp) and os.path.isdir(root):
        return
    rng = random.Random(seed)
    pool = b"".join(sentence_lines(rng, 4000))
    os.makedirs(root, exist_ok=True)
    per_dir = 100
    for i in range(files):
        d = os.path.join(root, f"d{i // per_dir // per_dir:02d}", f"d{i // per_dir % per_dir:02d}")
        if i % per_dir == 0:
            os.makedirs(d, exist_ok=True)
        n = min(len(pool), int(rng.expovariate(1.0 / mean)) + 1)
        at = rng.randrange(len(pool) - n + 1)
        with open(os.path.join(d, f"f{i:06d}.txt"), "wb") as out:
            out.write(pool[at:at + n])
    mark(root, stamp)


def main(argv):
    try:
        kind, args = argv[1], argv[2:]
        if kind == "text" and len(args) == 3:
            return text(args[0], int(args[1]), int(args[2]))
        if kind == "sparse" and len(args) == 5:
            return sparse(args[0], *map(int, args[1:]))
        if kind == "tree" and len(args) == 4:
            return tree(args[0], *map(int, args[1:]))
    except (IndexError, ValueError):
        pass
    sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
