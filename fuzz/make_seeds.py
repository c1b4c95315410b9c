#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/ for the libFuzzer targets in
fuzz/: a handful of small valid and invalid inputs each, in the input layout
each target documents (several start with a mode byte). Deterministic; run it
again after changing it and commit the result. Needs the zstd command.

    python3 fuzz/make_seeds.py
"""
import os
import shutil
import struct
import subprocess

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def zstd(data, *flags):
    return subprocess.run(["zstd", "-q", "-c", *flags], input=data, stdout=subprocess.PIPE, check=True).stdout


def jsonl_seeds():
    t = "jsonl_fuzz"
    # First byte: how the source splits its reads; the rest is the file.
    write(t, "valid", b"\x00" + b'{"text":"hello world","meta":"m"}\n{"meta":"x","text":["a","b\\u00e9"]}\n')
    write(t, "bom_crlf_blank", b"\x05\xef\xbb\xbf" + b'{"text":"caf\xc3\xa9","meta":""}\r\n\r\n  \t\n{"text":"","meta":"z"}')
    write(t, "escapes", b"\x01" + b'{"text":"tab\\t nl\\n quote\\" \\ud83d\\ude00 \\/","meta":"\\u0000","text":"last wins"}\n')
    write(t, "bad_lines", b"\x02" + b"\n".join([
        b'{"text":"unterminated',
        b'{"text":"x"} trailing',
        b'[1,2,3]',
        b'{"text":"\xff\xfe","meta":"m"}',
        b'{"text":"\\ud800","meta":"m"}',
        b'{"text":"raw\x01control","meta":"m"}',
        b'{"meta":"m"}',
        b'{"text":5,"meta":"m"}',
        b'{"text":["a",null],"meta":"m"}',
        b'{"text":NaN,"meta":"m"}',
    ]) + b"\n")
    # Several 4 KiB blocks, one line longer than a block, no final newline.
    lines = [b'{"text":"line %d %s","meta":"m"}' % (i, b"x" * (i % 70)) for i in range(120)]
    lines.insert(60, b'{"text":"' + b"long " * 1000 + b'","meta":"m"}')
    write(t, "multi_block", b"\x03" + b"\n".join(lines))


def unicode_seeds():
    t = "unicode_fuzz"
    write(t, "ascii", b"The quick brown fox jumps over the lazy dog 0123456789")
    write(t, "mixed", "héllo wörld € 𝄞 日本語 ١٢٣ \u00a0\u2028 end".encode())
    write(t, "boundaries", "\u007f\u0080\u07ff\u0800\ud7ff\ue000\uffff\U00010000\U0010ffff".encode("utf-8", "surrogatepass"))
    write(t, "overlong", b"ok \xc0\x80 \xe0\x80\x80 \xf0\x80\x80\x80")
    write(t, "surrogate", b"ab\xed\xa0\x80cd")
    write(t, "too_large", b"\xf4\x90\x80\x80\xf5\x80\x80\x80")
    write(t, "truncated", b"12345678\xe2\x82")
    write(t, "stray_continuation", b"\x80abcdefgh\xbf")


def pretokenizer_seeds():
    t = "pretokenizer_fuzz"
    # Byte 0: the pattern (0 gpt2 .. 6 megatron v2); then alphabet indices
    # (tests/pretoken_reference.h): 0 a, 16 apostrophe, 18 space, 22 LF,
    # 24 CR, 28 7, 36 long s, 44 hiragana a, 46 combining acute, 56 U+1680, 63 U+180E.
    for p in range(7):
        write(t, f"mixed_{p}", bytes([p, 0, 16, 3, 18, 18, 22, 24, 22, 18, 28, 28, 28, 28, 46, 0, 4, 16, 36,
                                      44, 56, 0, 63, 18, 22, 18, 18]))
        write(t, f"case_{p}", bytes([p, 2, 2, 0, 1, 2, 46, 46, 4, 16, 12, 12, 18, 30, 22, 30, 22]))


def manifest_seeds():
    t = "manifest_fuzz"
    sha = b"0123456789abcdefABCDEF0123456789abcdef0123456789abcdef0123456789"
    write(t, "valid", b"# a comment\n\n"
          b"https://h/a/x.jsonl.zst\n"
          b"https://h/a/y.zst?download=true\t-\t-\n"
          b"https://h/b/x.zst\t" + sha + b"\t123\tb/x.zst\n"
          b"  http://h/c\t-\t0\tc/file.bin  \r\n")
    write(t, "bad_sha", b"https://h/x.zst\tnot-a-sha\t1\n")
    write(t, "bad_size", b"https://h/x.zst\t-\t-5\n")
    write(t, "unsafe_paths", b"https://h/x.zst\t-\t-\t../etc/passwd\nhttps://h/y\t-\t-\t/abs\nhttps://h/z\t-\t-\ta//b\n")
    write(t, "duplicate", b"https://h/a/x.zst\nhttps://other/b/x.zst\n")
    write(t, "part_and_fields", b"https://h/a.part\nhttps://h/a\t-\t-\tp\textra\n")
    write(t, "no_name", b"https://host\nftp://h/x\n")


def record_seeds():
    t = "record_fuzz"
    good = (b'{\n  "sp_record": 1,\n  "tool": "sp_test",\n  "tool_version": "0.1.0",\n  "host": "h",\n'
            b'  "written_unix": 1,\n  "options": {"key": "text"},\n  "inputs": [\n'
            b'    {"path": "/tmp/x/in.jsonl", "size": 13, "mtime_ns": 1, "fingerprint": "xxh3ends64k:00"}],\n'
            b'  "outputs": [\n    {"name": "out.bin", "size": 12, "mtime_ns": 1, "checksum": "xxh3tree16m:00"}],\n'
            b'  "counts": {"documents": 1}\n}\n')
    write(t, "shaped_like_a_record", good)
    write(t, "other_version", good.replace(b'"sp_record": 1', b'"sp_record": 2'))
    write(t, "wrong_types", good.replace(b'"size": 12', b'"size": "12"'))
    write(t, "truncated", good[: len(good) // 2])
    write(t, "not_json", b"out.bin 12\n")


def idx_bytes(dtype, lengths, doc_index):
    item = {8: 2, 4: 4, 1: 1, 5: 8}[dtype]
    out = b"MMIDIDX\x00\x00" + struct.pack("<QBQQ", 1, dtype, len(lengths), len(doc_index))
    out += b"".join(struct.pack("<i", n) for n in lengths)
    ptr = 0
    for n in lengths:
        out += struct.pack("<q", ptr)
        ptr += n * item
    out += b"".join(struct.pack("<q", d) for d in doc_index)
    return out


def indexed_dataset_seeds():  # both targets
    t = "indexed_dataset_fuzz"
    # First byte: bit 0 = .bin sized as the index asks, else bits 1-7 its size.
    write(t, "uint16", b"\x01" + idx_bytes(8, [3, 2, 2], [0, 1, 1, 3]))
    write(t, "int32", b"\x03" + idx_bytes(4, [1, 0, 4], [0, 2, 3]))
    write(t, "empty", b"\x05" + idx_bytes(8, [], [0]))
    write(t, "uint8", b"\x01" + idx_bytes(1, [2, 5], [0, 2]))
    write(t, "bin_too_small", b"\x08" + idx_bytes(8, [3], [0, 1]))
    write(t, "bad_magic", b"\x01MMIDIDY\x00\x00" + idx_bytes(8, [1], [0, 1])[9:])
    write(t, "bad_version", b"\x01" + idx_bytes(8, [1], [0, 1])[:9] + struct.pack("<Q", 2) + idx_bytes(8, [1], [0, 1])[17:])
    write(t, "decreasing_docs", b"\x01" + idx_bytes(8, [1, 1, 1], [0, 2, 1, 3]))

    t = "indexed_dataset_roundtrip_fuzz"
    # First byte: bit 1 = int32 (else uint16), bit 2 = two-step batches. Then
    # a byte below 32 ends a document, any other adds a sequence of (byte % 8) tokens.
    write(t, "uint16_whole", b"\x00abc\x00\x00defgh\x01ijk")
    write(t, "int32_batches", b"\x06 !\"#\x01$%&'\x02()*+\x03\x04")
    write(t, "empty_documents", b"\x04\x00\x00\x00\x00")


def byte_source_seeds():
    t = "byte_source_fuzz"
    text = b"".join(b'{"text":"document %d %s"}\n' % (i, b"abc" * (i % 9)) for i in range(40))
    # First byte, bit 0 clear: the rest is the .zst file; bits 6-7 the read size.
    frame = zstd(text)
    write(t, "frame", b"\x00" + frame)
    write(t, "frame_checksum_1byte_reads", b"\x40" + zstd(text, "-19", "--check"))
    write(t, "two_frames", b"\x80" + frame + zstd(b"second frame\n"))
    skippable = struct.pack("<II", 0x184D2A50, 4) + b"skip"
    write(t, "skippable_first", b"\xc0" + skippable + frame)
    write(t, "truncated", b"\x00" + frame[:-3])
    write(t, "corrupt", b"\x00" + frame[:12] + bytes(b ^ 0x5A for b in frame[12:30]) + frame[30:])
    write(t, "empty_file", b"\x00")
    write(t, "not_zstd", b"\x00" + text[:64])
    # Bit 0 set: the rest is plain text, written as frames and read back.
    write(t, "roundtrip", b"\x1f" + text)
    write(t, "roundtrip_empty", b"\x45")


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    jsonl_seeds()
    unicode_seeds()
    pretokenizer_seeds()
    manifest_seeds()
    record_seeds()
    indexed_dataset_seeds()
    byte_source_seeds()


if __name__ == "__main__":
    main()
