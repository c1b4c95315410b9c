// Decodes ids with the reference implementations and writes tests/golden/dec_<model>.jsonl, the goldens of
// TextTokenizer::decode (tests/tokenizer_decode_test.cc). Each line is one of:
//   {"line": i, "field": "ids" | "ids_no_special", "same": true}  or  {..., "text" | "bytes": ...}
//       the reference's decode of line i (0-based) of tok_<model>.jsonl's ids (the corpus round trip):
//       "same" when it gives that line's text back exactly, else what it gives;
//   {"what": ..., "ids": [...], "text" | "bytes": ...}  or  {"what": ..., "ids": [...], "error": true}
//       constructed ids: special and added tokens, bytes that are not a whole UTF-8 character, byte-fallback
//       ids, leading ▁ cases, and seeded random id sequences; "error" when the reference has no entry for
//       an id (tiktoken throws).
// "text" is the reference's string (Hugging Face tokenizers: Rust strings, U+FFFD where bytes are not
// UTF-8); "bytes" is base64 of the reference's bytes (tiktoken's decode gives bytes, before Python's
// errors="replace").
//
//   dec_llama3/qwen3/llama2/gemma.jsonl: tokenizers (npm 0.23.2), Tokenizer.decode(ids, skipSpecialTokens=false)
//       on <model>/tokenizer.json (Megatron-LM's detokenize, convert_tokens_to_string, runs the same
//       decoder over the same tokens).
//   dec_cl100k.jsonl, dec_o200k.jsonl: tiktoken (npm 1.0.22), get_encoding(name).decode(ids).
//   dec_megatron_cl100k.jsonl: the tiktoken core configured as Megatron-LM main's TikTokenizer
//       (megatron/core/tokenizers/text/libraries/tiktoken_tokenizer.py) over tiktoken/cl100k_megatron.json:
//       1000 special tokens (<unk> <s> </s> <mask> <pad> <cls> <sep> <SPECIAL_7>..<SPECIAL_999>), vocab
//       size 101256; ids_to_text is tiktoken's decode.
//   dec_synthetic.jsonl: {"decoder": <tokenizer.json "decoder">, "ids": [...], "text": ...} rows over the
//       small tokenizer dec_synthetic_tokenizer.json (written here too) with that decoder put in: every
//       decoder type we support, alone and chained, through tokenizers' own tokenizer.json parsing.
//
// Usage: cd tests/golden && npm ci && node gen_decode_golden.mjs [MODELS_DIR]
//        (MODELS_DIR: from third_party/tokenizers/fetch_models.sh; default $SP_TOKENIZERS_DIR or its cache)
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { get_encoding } from "tiktoken";
import { Tiktoken } from "tiktoken/lite";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const { Tokenizer } = require("tokenizers");

const modelsDir = process.argv[2] ?? process.env.SP_TOKENIZERS_DIR ??
  path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "sp_toolkit", "tokenizers");
const goldenLines = (name) => fs.readFileSync(path.join(here, `tok_${name}.jsonl`), "utf8").split("\n")
  .filter((l) => l.length > 0).map((l) => JSON.parse(l));
const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const utf8 = (text) => Buffer.from(text, "utf8");

// Seeded (mulberry32): the same files on every run.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function randomSequences(seed, count, maxLength, idLimit) {
  const next = rng(seed);
  const out = [];
  for (let i = 0; i < count; i++) {
    const n = 1 + Math.floor(next() * maxLength);
    out.push(Array.from({ length: n }, () => Math.floor(next() * idLimit)));
  }
  return out;
}

function write(name, rows) {
  const out = path.join(here, `dec_${name}.jsonl`);
  fs.writeFileSync(out, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  console.error(`wrote ${rows.length} lines to ${out}`);
}

// Bytes that are not a whole UTF-8 character, alone and beside text: truncated sequences, lone continuation
// bytes, bytes UTF-8 never uses, a surrogate's encoding, an overlong form; and whole characters from bytes.
const BYTE_CASES = [
  [0xc3], [0xa9], [0xc3, 0xa9], [0xe4, 0xb8], [0xe4, 0xb8, 0xad], [0xf0, 0x9f, 0x98], [0xf0, 0x9f, 0x98, 0x80],
  [0xff], [0x80], [0x80, 0x80], [0xed, 0xa0, 0x80], [0xc0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe4, 0x41],
  [0x41, 0xe4, 0xb8], [0xe4, 0xb8, 0x41], [0xf0, 0x9f, 0x41, 0x98], [0x0a], [0x20], [0x00],
];

// ---------------------------------------------------------------- Hugging Face tokenizer.json
// GPT-2's bytes_to_unicode: the vocab spelling of byte b in byte-level models.
function byteLevelChar(b) {
  const direct = (x) => (x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff);
  if (direct(b)) return String.fromCodePoint(b);
  let n = 0;
  for (let x = 0; x < b; x++) if (!direct(x)) n++;
  return String.fromCodePoint(256 + n);
}

for (const [model, seed] of [["llama3", 1], ["qwen3", 2], ["llama2", 3], ["gemma", 4]]) {
  const file = path.join(modelsDir, model, "tokenizer.json");
  const json = JSON.parse(fs.readFileSync(file, "utf8"));
  const tok = Tokenizer.fromFile(file);
  const decode = (ids) => tok.decode(ids, false);
  const rows = [];
  const corpus = goldenLines(model);
  for (let i = 0; i < corpus.length; i++) {
    for (const field of ["ids", "ids_no_special"]) {
      const text = await decode(corpus[i][field]);
      rows.push(text === corpus[i].text ? { line: i, field, same: true } : { line: i, field, text });
    }
  }
  const ids = async (what, list) => {
    if (list.some((id) => id === null || id === undefined)) throw new Error(`${model}: ${what}: a token is missing`);
    rows.push({ what, ids: list, text: await decode(list) });
  };
  const idOf = (token) => tok.tokenToId(token);
  const hello = Array.from((await tok.encode("Hello world", null, { addSpecialTokens: false })).getIds());
  for (const added of json.added_tokens) {
    await ids(`added token ${added.content}`, [added.id]);
    await ids(`added token ${added.content} between text`, [...hello, added.id, ...hello]);
  }
  const byteLevel = json.decoder?.type === "ByteLevel";
  const byteId = (b) =>
    byteLevel ? idOf(byteLevelChar(b)) : idOf(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  for (const bytes of BYTE_CASES) {
    const name = bytes.map((b) => b.toString(16).padStart(2, "0")).join(" ");
    await ids(`bytes ${name}`, bytes.map(byteId));
    await ids(`bytes ${name} after text`, [...hello, ...bytes.map(byteId)]);
  }
  if (!byteLevel) {
    // Metaspace-style vocabularies: ▁ at the start, alone, doubled, after a special token and after bytes.
    const bos = idOf("<s>") ?? idOf("<bos>");
    const sp = idOf("▁"), spHello = idOf("▁Hello"), plain = idOf("Hello");
    const spsp = idOf("▁▁");
    await ids("▁Hello first", [spHello]);
    await ids("Hello first", [plain, spHello]);
    await ids("▁ first", [sp, plain]);
    await ids("▁ alone", [sp]);
    await ids("▁▁ first", [spsp, spHello]);
    await ids("▁ ▁Hello", [sp, spHello]);
    await ids("special then ▁Hello", [bos, spHello, spHello]);
    await ids("byte then ▁Hello", [byteId(0x41), spHello]);
    await ids("byte ▁ then ▁Hello", [byteId(0x20), spHello]);
  } else {
    await ids("space first", [idOf("Ġ"), idOf("ĠHello")]);
  }
  const limit = tok.getVocabSize(true);
  for (const list of randomSequences(seed, 300, 10, limit)) {
    if (list.some((id) => tok.idToToken(id) === null)) continue;  // HF drops ids it has no token for
    await ids("random", list);
  }
  write(model, rows);
}

// ---------------------------------------------------------------- tiktoken
function tiktokenRows(name, enc, corpus, specials, gaps, idLimit, seed) {
  const rows = [];
  for (let i = 0; i < corpus.length; i++) {
    const bytes = enc.decode(Uint32Array.from(corpus[i].ids));
    rows.push(Buffer.compare(Buffer.from(bytes), utf8(corpus[i].text)) === 0
      ? { line: i, field: "ids", same: true } : { line: i, field: "ids", bytes: b64(bytes) });
  }
  const ids = (what, list) => {
    try {
      rows.push({ what, ids: list, bytes: b64(enc.decode(Uint32Array.from(list))) });
    } catch {
      rows.push({ what, ids: list, error: true });
    }
  };
  const hello = Array.from(enc.encode_ordinary("Hello world"));
  for (const id of specials) {
    ids(`special ${id}`, [id]);
    ids(`special ${id} between text`, [...hello, id, ...hello]);
  }
  for (const id of gaps) ids(`no token ${id}`, [...hello, id]);
  for (const bytes of BYTE_CASES) {
    const list = bytes.map((b) => enc.encode_single_token(Uint8Array.of(b)));
    const label = bytes.map((b) => b.toString(16).padStart(2, "0")).join(" ");
    ids(`bytes ${label}`, list);
    ids(`bytes ${label} after text`, [...hello, ...list]);
  }
  for (const list of randomSequences(seed, 300, 10, idLimit)) ids("random", list);
  write(name, rows);
}

tiktokenRows("cl100k", get_encoding("cl100k_base"), goldenLines("cl100k"),
  [100257, 100258, 100259, 100260, 100276], [100256, 100261, 100275, 100277], 100277, 5);
tiktokenRows("o200k", get_encoding("o200k_base"), goldenLines("o200k"),
  [199999, 200018], [199998, 200000, 200017, 200019], 200019, 6);

{
  // Megatron-LM main's TikTokenizer: ids 0..999 special, rank r is id r + 1000, vocab cut to 101256 - 1000.
  const NUM_SPECIAL = 1000, VOCAB = 100256 + NUM_SPECIAL;
  const file = path.join(modelsDir, "tiktoken", "cl100k_megatron.json");
  const vocab = JSON.parse(fs.readFileSync(file, "utf8")).slice(0, VOCAB - NUM_SPECIAL);
  const bfe = `! ${NUM_SPECIAL} ` + vocab.map((e) => e.token_bytes).join(" ");
  const named = ["<unk>", "<s>", "</s>", "<mask>", "<pad>", "<cls>", "<sep>"];
  const special = {};
  for (let i = 0; i < NUM_SPECIAL; i++) special[i < named.length ? named[i] : `<SPECIAL_${i}>`] = i;
  const v2 = String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|` +
    String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}|` +
    String.raw` ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
  const enc = new Tiktoken(bfe, special, v2);
  tiktokenRows("megatron_cl100k", enc, goldenLines("megatron_cl100k_v2"), [0, 1, 2, 3, 6, 7, 500, 999],
    [VOCAB, VOCAB + 1], VOCAB, 7);
}

// ---------------------------------------------------------------- synthetic decoder chains
{
  const vocabList = [
    "<unk>", "a", "b", "x", "é", "中", " ", "  ", "▁", "▁▁", "▁a", "a▁b", "▁▁a", "a▁", "hello", "a</w>", "</w>",
    "b</w>", "Ġ", "Ċ", "Ãī", "ä¸Ń", "Ġhello", "<0x41>", "<0xC3>", "<0xA9>", "<0xE4>", "<0xB8>", "<0xAD>",
    "<0xFF>", "<0x20>", "<0x+F>", "<0xzz>", "<0x4>", "##ing", "aaa", "x x", "\u2581x\u2581",
  ];
  const vocab = Object.fromEntries(vocabList.map((t, i) => [t, i]));
  const added = [["<s>", true], ["<tool>", false], ["▁added", false]];
  const base = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added.map(([content, special], k) => ({
      id: vocabList.length + k, content, single_word: false, lstrip: false, rstrip: false,
      normalized: !special, special,
    })),
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    model: { type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: [] },
  };
  fs.writeFileSync(path.join(here, "dec_synthetic_tokenizer.json"), JSON.stringify(base, null, 1) + "\n");
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false };
  const replaceSpace = { type: "Replace", pattern: { String: "▁" }, content: " " };
  const decoders = [
    null,
    { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
    { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: true },
    { type: "Metaspace", replacement: "▁", prepend_scheme: "never", split: true },
    { type: "Metaspace", replacement: "▁", add_prefix_space: false, prepend_scheme: "never" },
    { type: "Metaspace", replacement: "▁", add_prefix_space: true },
    { type: "Metaspace", replacement: "a" },
    replaceSpace,
    { type: "Replace", pattern: { String: "" }, content: "!" },
    { type: "Replace", pattern: { Regex: "a+" }, content: "<A>" },
    { type: "Replace", pattern: { Regex: "\\s" }, content: "_" },
    { type: "ByteFallback" },
    { type: "Fuse" },
    { type: "Strip", content: " ", start: 1, stop: 0 },
    { type: "Strip", content: "a", start: 2, stop: 2 },
    { type: "Strip", content: "▁", start: 3, stop: 1 },
    { type: "BPEDecoder", suffix: "</w>" },
    { type: "BPEDecoder", suffix: "" },
    { type: "Sequence", decoders: [replaceSpace, { type: "ByteFallback" }, { type: "Fuse" },
      { type: "Strip", content: " ", start: 1, stop: 0 }] },
    { type: "Sequence", decoders: [replaceSpace, { type: "ByteFallback" }, { type: "Fuse" }] },
    { type: "Sequence", decoders: [{ type: "ByteFallback" }, { type: "Metaspace", replacement: "▁" }] },
    { type: "Sequence", decoders: [byteLevel, { type: "Strip", content: " ", start: 1, stop: 1 }] },
    { type: "Sequence", decoders: [{ type: "ByteFallback" }, { type: "Fuse" }, byteLevel] },
    { type: "Sequence", decoders: [{ type: "Sequence", decoders: [{ type: "BPEDecoder", suffix: "</w>" }] },
      { type: "Metaspace", replacement: "▁", prepend_scheme: "first" }] },
  ];
  const id = (t) => {
    if (t in vocab) return vocab[t];
    const k = added.findIndex(([c]) => c === t);
    if (k < 0) throw new Error(`synthetic: no token ${t}`);
    return vocabList.length + k;
  };
  const fixed = [
    ["▁a", "b", "▁▁a", "a▁"], ["▁▁", "a"], ["▁", "▁"], ["a", "▁a"], ["<s>", "▁a", "▁added"], ["▁added", "a"],
    ["<0xC3>", "<0xA9>"], ["<0xC3>"], ["<0xE4>", "<0xB8>"], ["<0xE4>", "<0xB8>", "<0xAD>", "a"],
    ["a", "<0xE4>", "<0xB8>", "a", "<0xC3>"], ["<0x41>", "<0xE4>"], ["<0xFF>", "<0x41>"], ["<0x20>", "▁a"],
    ["<0x+F>", "<0x41>"], ["<0xzz>", "<0x4>"], ["Ġhello", "Ġ", "Ċ", "Ãī", "ä¸Ń"], ["Ġ", "é", "中", "<tool>"],
    ["Ġ", "<0xC3>", "Ãī"], ["a</w>", "b</w>", "a</w>"], ["a</w>", "</w>"], ["hello", "##ing"],
    [" ", "a", " "], ["  ", "x", "  "], ["aaa", "b", "aaa"], ["x x"], ["▁x▁", "▁x▁"], ["a", "a", "a", "a"],
    ["<unk>", "a"], ["<tool>", "<s>"],
  ].map((l) => l.map(id));
  const sequences = [...fixed, ...randomSequences(8, 60, 8, vocabList.length + added.length)];
  // A Strip that would cut past a token's end makes tokenizers panic (and abort the process): not a case.
  const tokenOf = (i) => (i < vocabList.length ? vocabList[i] : added[i - vocabList.length][0]);
  const stripPanics = (d, ids) => d?.type === "Strip" && ids.some((i) => {
    const chars = Array.from(tokenOf(i));
    let startCut = 0, stopCut = chars.length;
    for (let k = 0; k < Math.min(d.start, chars.length) && chars[k] === d.content; k++) startCut = k + 1;
    for (let k = 0; k < d.stop; k++) {
      const index = chars.length - k - 1;
      if (index < 0) return true;
      if (chars[index] !== d.content) break;
      stopCut = index;
    }
    return startCut > stopCut;
  });
  const rows = [];
  for (const decoder of decoders) {
    const tok = Tokenizer.fromString(JSON.stringify({ ...base, decoder }));
    for (const ids of sequences)
      if (!stripPanics(decoder, ids)) rows.push({ decoder, ids, text: await tok.decode(ids, false) });
  }
  write("synthetic", rows);
}
