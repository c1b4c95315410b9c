#!/usr/bin/env python3
"""Builds a benchmark corpus of JSONL documents ({"text": ...}) from text that
is already on a Debian machine: English prose (license texts and package
documentation under /usr/share), source code (C/C++ headers, Python's
standard library) and multilingual text (Vim's translated tutors, GnuPG's
translated help, the bundled sample corpus). Deterministic for a given
machine and size; nothing is downloaded.

    python3 bench/make_bench_corpus.py OUT.jsonl [MEGABYTES=200] [MIX=prose:0.5,code:0.3,multilingual:0.2]

Prints the byte mix it produced on stderr.
"""
import glob
import gzip
import json
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def read_text(path, limit=400_000):
    try:
        if path.endswith(".gz"):
            data = gzip.open(path).read(limit)
        else:
            with open(path, "rb") as f:
                data = f.read(limit)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError):
        return None


def collect(patterns, max_files=4000):
    files = []
    for p in patterns:
        files.extend(sorted(glob.glob(p, recursive=True)))
    out = []
    for f in files[:max_files]:
        if os.path.isfile(f) and not os.path.islink(f):
            t = read_text(f)
            if t and len(t) > 400:
                out.append(t)
    return out


def sample_texts():
    texts = []
    for f in sorted(glob.glob(os.path.join(HERE, "..", "tests", "data", "sample", "**", "*.jsonl.zst"), recursive=True)):
        raw = subprocess.run(["zstd", "-dc", f], check=True, capture_output=True).stdout.decode("utf-8")
        texts.extend(json.loads(l)["text"] for l in raw.split("\n") if l.strip())
    return texts


def main():
    out = sys.argv[1]
    target = int(float(sys.argv[2]) * 1e6) if len(sys.argv) > 2 else 200_000_000
    rng = random.Random(20261128)
    sources = {
        "prose": collect(["/usr/share/common-licenses/*", "/usr/share/doc/*/README*", "/usr/share/doc/*/NEWS*",
                          "/usr/share/doc/*/changelog*.gz", "/usr/share/doc/*/*.txt"]),
        "code": collect(["/usr/include/**/*.h", "/usr/lib/python3.11/*.py", "/usr/lib/python3/dist-packages/**/*.py"]),
        "multilingual": collect(["/usr/share/vim/vim*/tutor/tutor.*.utf-8", "/usr/share/gnupg/help.*.txt"]),
    }
    fallback = sample_texts()
    for k, v in sources.items():
        if not v:
            print(f"make_bench_corpus: no local {k} found; using the bundled sample corpus", file=sys.stderr)
            sources[k] = fallback
    mix_arg = sys.argv[3] if len(sys.argv) > 3 else "prose:0.5,code:0.3,multilingual:0.2"
    mix = [(k, float(v)) for k, v in (part.split(":") for part in mix_arg.split(","))]
    mix = [(k, w / sum(w for _, w in mix)) for k, w in mix if w > 0]
    written = {k: 0 for k, _ in mix}
    kinds = [k for k, _ in mix]
    total = 0
    with open(out, "w", encoding="utf-8") as f:
        while total < target:
            # Keep each kind at its share of the bytes written so far (multilingual
            # text has more bytes per character, so choosing by count would drift).
            kind = min(mix, key=lambda kw: written[kw[0]] - kw[1] * total)[0] if total else kinds[0]
            src = rng.choice(sources[kind])
            n = rng.randint(500, 12000)
            start = rng.randint(0, max(0, len(src) - n))
            text = src[start:start + n]
            line = json.dumps({"text": text, "meta": {"source": kind}}, ensure_ascii=False) + "\n"
            f.write(line)
            b = len(line.encode("utf-8"))
            written[kind] += b
            total += b
    mixdesc = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in written.items())
    print(f"make_bench_corpus: {total / 1e6:.1f} MB ({mixdesc}) -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
