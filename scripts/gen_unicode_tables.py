#!/usr/bin/env python3
"""Generates src/unicode_tables.inc: the character classes the pre-tokenizers
need, as two-stage lookup tables over U+0000..U+10FFFF plus 256-entry byte
tables for the ASCII fast paths:
  - classes (GPT-2, cl100k and kin): Letter = L*, Number = N*, White_Space,
    everything else Other;
  - case classes (o200k and kin, whose letter rule tells cased letters and
    marks apart): Lu/Lt, Ll, Lm/Lo, M*, N*, White_Space, Other.

Input is the Unicode Character Database as Debian's `unicode-data` package
installs it (/usr/share/unicode). Python 3 standard library only.

    python3 scripts/gen_unicode_tables.py [--ucd-dir DIR] [--output FILE]

The output is byte-for-byte deterministic for a given UCD version, so a test
can regenerate it and compare with the committed file.
"""

import argparse
import re
import sys

MAX_CP = 0x10FFFF
N_CP = MAX_CP + 1

# Class numbers; must match sp::CharClass in include/sp/unicode.h.
OTHER, LETTER, NUMBER, SPACE = 0, 1, 2, 3
# Byte-table value for bytes 0x80..0xFF: "part of a multi-byte character,
# decode it" (the fast path stops on it without a separate range check).
MULTIBYTE = 4

# Case class numbers; must match sp::CaseClass in include/sp/unicode.h.
C_OTHER, C_LETTER, C_NUMBER, C_SPACE, C_UPPER, C_LOWER, C_MARK = range(7)
C_MULTIBYTE = 7

# log2 of the second-stage block size; must match sp::detail::kClassBlockBits.
# 256-code-point blocks give the smallest tables (~36 KiB for Unicode 15) with
# few enough distinct blocks (127) for a one-byte first stage.
BLOCK_BITS = 8

COMMAND = ("python3 scripts/gen_unicode_tables.py "
           "--ucd-dir /usr/share/unicode --output src/unicode_tables.inc")


def read_version(ucd_dir):
    """The UCD version from PropList.txt's first line ("# PropList-15.0.0.txt")."""
    with open(f"{ucd_dir}/PropList.txt", encoding="utf-8") as f:
        first = f.readline()
    m = re.match(r"#\s*PropList-(\d+\.\d+\.\d+)\.txt", first)
    if not m:
        sys.exit(f"gen_unicode_tables: cannot find the version in {ucd_dir}/PropList.txt")
    return m.group(1)


def read_categories(ucd_dir):
    """General category per code point; None for unassigned ones."""
    cats = [None] * N_CP
    range_first = None  # (code point, category) of a pending "<..., First>" line
    with open(f"{ucd_dir}/UnicodeData.txt", encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split(";")
            if len(fields) < 3:
                continue
            cp, name, cat = int(fields[0], 16), fields[1], fields[2]
            # Large blocks (CJK, Hangul, planes 15/16 private use, ...) are
            # listed as a First/Last pair covering every code point between.
            if name.endswith(", First>"):
                range_first = (cp, cat)
                continue
            if name.endswith(", Last>"):
                if range_first is None or range_first[1] != cat:
                    sys.exit(f"gen_unicode_tables: unpaired range end at {fields[0]}")
                for c in range(range_first[0], cp + 1):
                    cats[c] = cat
                range_first = None
                continue
            cats[cp] = cat
    if range_first is not None:
        sys.exit("gen_unicode_tables: range start without an end")
    return cats


def read_white_space(ucd_dir):
    spaces = set()
    with open(f"{ucd_dir}/PropList.txt", encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            cps, prop = [s.strip() for s in line.split(";")]
            if prop != "White_Space":
                continue
            lo, _, hi = cps.partition("..")
            spaces.update(range(int(lo, 16), int(hi or lo, 16) + 1))
    return spaces


def classify(cats, spaces):
    classes = bytearray(N_CP)
    for cp, cat in enumerate(cats):
        if cat is None:
            continue
        if cat[0] == "L":
            classes[cp] = LETTER
        elif cat[0] == "N":
            classes[cp] = NUMBER
    for cp in spaces:
        # White_Space chars are Zs/Zl/Zp/Cc; overlap with L/N would make the
        # classes ambiguous, so refuse rather than pick one silently.
        if classes[cp] != OTHER:
            sys.exit(f"gen_unicode_tables: U+{cp:04X} is White_Space and L/N")
        classes[cp] = SPACE
    return classes


def case_classify(cats, spaces):
    """Lm/Lo stay C_LETTER: they count as both upper and lower in o200k's rule."""
    by_cat = {"Lu": C_UPPER, "Lt": C_UPPER, "Ll": C_LOWER, "Lm": C_LETTER, "Lo": C_LETTER,
              "Mn": C_MARK, "Mc": C_MARK, "Me": C_MARK}
    classes = bytearray(N_CP)
    for cp, cat in enumerate(cats):
        if cat is None:
            continue
        if cat in by_cat:
            classes[cp] = by_cat[cat]
        elif cat[0] == "N":
            classes[cp] = C_NUMBER
    for cp in spaces:
        if classes[cp] != C_OTHER:
            sys.exit(f"gen_unicode_tables: U+{cp:04X} is White_Space and L/M/N")
        classes[cp] = C_SPACE
    return classes


def two_stage(classes):
    size = 1 << BLOCK_BITS
    index, blocks, seen = [], [], {}
    for start in range(0, N_CP, size):
        block = bytes(classes[start:start + size])
        if block not in seen:
            seen[block] = len(blocks)
            blocks.append(block)
        index.append(seen[block])
    return index, blocks


def c_array(values, per_line, width):
    out = []
    for i in range(0, len(values), per_line):
        out.append("    " + ",".join(f"{v:>{width}}" for v in values[i:i + per_line]) + ",")
    return "\n".join(out)


def table_lines(prefix, classes, multibyte):
    index, blocks = two_stage(classes)
    if len(blocks) > 0x100:
        sys.exit("gen_unicode_tables: too many blocks for a uint8_t index")
    stage2 = [v for block in blocks for v in block]
    byte_class = [classes[b] for b in range(0x80)] + [multibyte] * 0x80
    return [
        f"const uint8_t k{prefix}ByteClass[256] = {{",
        c_array(byte_class, 32, 1),
        "};",
        "",
        f"// Block number of each {1 << BLOCK_BITS}-code-point block of U+0000..U+10FFFF.",
        f"const uint8_t k{prefix}ClassStage1[{len(index)}] = {{",
        c_array(index, 20, 3),
        "};",
        "",
        f"// {len(blocks)} distinct blocks of {1 << BLOCK_BITS} classes each.",
        f"const uint8_t k{prefix}ClassStage2[{len(stage2)}] = {{",
        c_array(stage2, 64, 1),
        "};",
        "",
    ]


def render(version, classes, case_classes):
    counts = [classes.count(k) for k in (OTHER, LETTER, NUMBER, SPACE)]
    case_counts = [case_classes.count(k) for k in range(C_MULTIBYTE)]
    lines = [
        f"// Character classes of Unicode {version} for the pre-tokenizers.",
        "// GENERATED FILE, do not edit. Made from Debian's unicode-data package by:",
        f"//   {COMMAND}",
        "// Classes: 0 other, 1 letter (L*), 2 number (N*), 3 White_Space; in",
        "// kByteClass, 4 marks bytes 0x80..0xFF (part of a multi-byte character).",
        f"// Counts: letter {counts[LETTER]}, number {counts[NUMBER]}, "
        f"white space {counts[SPACE]}, other {counts[OTHER]}.",
        "// Case classes (kCase*): 0 other, 1 Lm/Lo, 2 number (N*), 3 White_Space, 4 Lu/Lt,",
        "// 5 Ll, 6 mark (M*); in kCaseByteClass, 7 marks bytes 0x80..0xFF.",
        "// Counts: " + ", ".join(f"{n} {c}" for n, c in zip(
            ("other", "Lm/Lo", "number", "white space", "Lu/Lt", "Ll", "mark"), case_counts)) + ".",
        "// Included by src/unicode.cc inside namespace sp::detail.",
        "",
        f'const char kUnicodeVersion[] = "{version}";',
        f"static_assert(kClassBlockBits == {BLOCK_BITS}, \"regenerate: block size changed\");",
        "",
    ]
    lines += table_lines("", classes, MULTIBYTE)
    lines += table_lines("Case", case_classes, C_MULTIBYTE)
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ucd-dir", default="/usr/share/unicode")
    ap.add_argument("--output", default="src/unicode_tables.inc")
    args = ap.parse_args()

    version = read_version(args.ucd_dir)
    spaces = read_white_space(args.ucd_dir)
    if len(spaces) != 25:  # stable since Unicode 6.3; a change deserves a look
        sys.exit(f"gen_unicode_tables: expected 25 White_Space code points, got {len(spaces)}")
    cats = read_categories(args.ucd_dir)
    text = render(version, classify(cats, spaces), case_classify(cats, spaces))
    with open(args.output, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


if __name__ == "__main__":
    main()
