"""Converts an encoder file of the npm package `tiktoken` (encoders/<name>.json: {"pat_str", "special_tokens",
"bpe_ranks"}) into the two vocabulary formats the tokenizer tests read:

  --tiktoken OUT   OpenAI's rank file: one "base64(token bytes) rank" line per mergeable token, by rank; for
                   cl100k_base and o200k_base this is byte-for-byte the file OpenAI publishes.
  --megatron OUT   Megatron-LM's TikTokenizer vocabulary (read by reload_mergeable_ranks): a JSON list whose
                   i-th entry is {"rank": i, "token_bytes": base64, "token_str": UTF-8 text or null}.
                   Megatron requires entry i < 256 to be the single byte i, while OpenAI orders the 256 byte
                   tokens differently, so the byte tokens are renumbered to their byte values; every longer
                   token keeps its rank. Merges never produce a single byte, so BPE merge order is unchanged;
                   only the ids of single-byte tokens differ from the source encoding.

The "bpe_ranks" text holds lines "<name> <first rank> <token> <token> ...", tokens base64 and consecutive in
rank from <first rank>.
"""
import argparse
import base64
import json
import sys


def load_ranks(path):
    with open(path, encoding="utf-8") as f:
        encoder = json.load(f)
    ranks = {}
    for line in encoder["bpe_ranks"].split("\n"):
        if not line:
            continue
        fields = line.split(" ")
        first = int(fields[1])
        for offset, token in enumerate(fields[2:]):
            ranks[first + offset] = base64.b64decode(token, validate=True)
    if sorted(ranks) != list(range(len(ranks))):
        sys.exit(f"{path}: ranks are not 0..{len(ranks) - 1} without gaps")
    if len(set(ranks.values())) != len(ranks):
        sys.exit(f"{path}: a token has two ranks")
    return [ranks[i] for i in range(len(ranks))]


def write_tiktoken(tokens, path):
    with open(path, "w", encoding="ascii", newline="\n") as f:
        for rank, token in enumerate(tokens):
            f.write(f"{base64.b64encode(token).decode('ascii')} {rank}\n")


def write_megatron(tokens, path):
    singles = sorted(t for t in tokens if len(t) == 1)
    if singles != [bytes([b]) for b in range(256)] or any(len(t) == 1 for t in tokens[256:]):
        sys.exit("the first 256 ranks are not the 256 single bytes; cannot renumber them for Megatron")
    ordered = [bytes([b]) for b in range(256)] + tokens[256:]
    entries = []
    for rank, token in enumerate(ordered):
        try:
            text = token.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        entries.append({"rank": rank, "token_bytes": base64.b64encode(token).decode("ascii"), "token_str": text})
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(entries, f, ensure_ascii=False)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("encoder_json")
    parser.add_argument("--tiktoken")
    parser.add_argument("--megatron")
    args = parser.parse_args()
    tokens = load_ranks(args.encoder_json)
    if args.tiktoken:
        write_tiktoken(tokens, args.tiktoken)
    if args.megatron:
        write_megatron(tokens, args.megatron)


if __name__ == "__main__":
    main()
