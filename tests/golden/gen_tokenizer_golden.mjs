// Encodes every text of tests/data/tokenizer_corpus.jsonl with the reference implementations and writes one
// golden file per model, tests/golden/tok_<model>.jsonl, one line per corpus line, same order:
//   Hugging Face tokenizer.json models (llama3, qwen3, llama2, gemma), oracle: Hugging Face `tokenizers`
//     (npm 0.23.2, the Rust library's own Node binding):
//       {"text", "ids": encode(text, add_special_tokens=true), "ids_no_special": add_special_tokens=false}
//   tiktoken cl100k_base and o200k_base, oracle: npm tiktoken 1.0.22 (WASM build of OpenAI's Rust core):
//       {"text", "ids": encode_ordinary(text)}   (Megatron's TikTokenizer encodes ordinary text only)
//   Megatron-LM's TikTokenizer over tiktoken/cl100k_megatron.json (tok_megatron_cl100k_v1/v2): the same
//     tiktoken core configured as Megatron's CustomTikTokenizer does it (see megatronTiktoken below):
//       {"text", "ids": Megatron tokenize(text) = encode_ordinary, ids offset by the special tokens}
// and tests/golden/tok_manifest.json: per golden file, the oracle and version, the model file and its
// SHA-256, and what each field means.
//
// Cross-checks, reported on stderr and never written: every tokenizer.json model is also run through an
// independent build of Hugging Face tokenizers (@anush008/tokenizers 0.6.0); tiktoken's bundled encodings
// are compared with the rank files in MODELS_DIR loaded into tiktoken's core.
//
// Usage: cd tests/golden && npm ci && node gen_tokenizer_golden.mjs [MODELS_DIR]
//        (MODELS_DIR: from third_party/tokenizers/fetch_models.sh; default $SP_TOKENIZERS_DIR or its cache)
import crypto from "node:crypto";
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
const { Tokenizer: OtherTokenizer } = require("@anush008/tokenizers");
// Read from node_modules directly: tiktoken's "exports" map hides its package.json.
const version = (pkg) =>
  JSON.parse(fs.readFileSync(path.join(here, "node_modules", pkg, "package.json"), "utf8")).version;

const modelsDir = process.argv[2] ?? process.env.SP_TOKENIZERS_DIR ??
  path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "sp_toolkit", "tokenizers");
const corpusPath = path.join(here, "..", "data", "tokenizer_corpus.jsonl");
const texts = fs.readFileSync(corpusPath, "utf8").split("\n").filter((l) => l.length > 0)
  .map((l) => JSON.parse(l).text);
const sha256 = (file) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const manifest = {};
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const show = (t) => JSON.stringify(t.length > 60 ? t.slice(0, 60) + "…" : t);
let disagreements = 0;
function crossCheck(what, text, expected, got) {
  if (same(expected, Array.from(got))) return;
  disagreements++;
  console.error(`${what} differs from the oracle on ${show(text)}`);
}

function writeGolden(name, rows, entry) {
  const out = path.join(here, `tok_${name}.jsonl`);
  fs.writeFileSync(out, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  manifest[`tok_${name}.jsonl`] = entry;
  console.error(`wrote ${rows.length} lines to ${out}`);
}

// ---------------------------------------------------------------- Hugging Face tokenizer.json
for (const model of ["llama3", "qwen3", "llama2", "gemma"]) {
  const file = path.join(modelsDir, model, "tokenizer.json");
  const tok = Tokenizer.fromFile(file);
  const other = OtherTokenizer.fromFile(file);
  const rows = [];
  for (const text of texts) {
    const ids = Array.from((await tok.encode(text, null, { addSpecialTokens: true })).getIds());
    const idsNoSpecial = Array.from((await tok.encode(text, null, { addSpecialTokens: false })).getIds());
    crossCheck(`@anush008/tokenizers ${model}`, text, ids,
      (await other.encode(text, null, { addSpecialTokens: true })).getIds());
    crossCheck(`@anush008/tokenizers ${model} (no special)`, text, idsNoSpecial,
      (await other.encode(text, null, { addSpecialTokens: false })).getIds());
    rows.push({ text, ids, ids_no_special: idsNoSpecial });
  }
  writeGolden(model, rows, {
    oracle: `tokenizers (npm) ${version("tokenizers")}`,
    model: `${model}/tokenizer.json`,
    model_sha256: sha256(file),
    ids: "Tokenizer.encode(text, add_special_tokens=true).ids",
    ids_no_special: "Tokenizer.encode(text, add_special_tokens=false).ids",
  });
}

// ---------------------------------------------------------------- tiktoken
for (const name of ["cl100k_base", "o200k_base"]) {
  const enc = get_encoding(name);
  const file = path.join(modelsDir, "tiktoken", `${name}.tiktoken`);
  // The rank file as tiktoken's compact text: ranks are 0.. in line order.
  const ranks = fs.readFileSync(file, "ascii").split("\n").filter((l) => l).map((l) => l.split(" ")[0]);
  const fromFile = new Tiktoken(`! 0 ${ranks.join(" ")}`, {}, JSON.parse(fs.readFileSync(
    path.join(here, "node_modules", "tiktoken", "encoders", `${name}.json`), "utf8")).pat_str);
  const rows = texts.map((text) => {
    const ids = Array.from(enc.encode_ordinary(text));
    crossCheck(`${name}.tiktoken`, text, ids, fromFile.encode_ordinary(text));
    return { text, ids };
  });
  enc.free();
  fromFile.free();
  writeGolden(name.replace("_base", ""), rows, {
    oracle: `tiktoken (npm) ${version("tiktoken")}, get_encoding("${name}") (ranks identical to the model file)`,
    model: `tiktoken/${name}.tiktoken`,
    model_sha256: sha256(file),
    ids: "encode_ordinary(text)",
  });
}

// ---------------------------------------------------------------- Megatron-LM TikTokenizer
// Megatron's CustomTikTokenizer (megatron/training/tokenizer/tokenizer.py), with its defaults
// (--tiktoken-num-special-tokens 1000, no --vocab-size so 2**17, no --tokenizer-special-tokens): special
// tokens <unk>, <s>, </s>, then <SPECIAL_3>..<SPECIAL_999> take ids 0..999; mergeable token of rank r gets
// id r + 1000; the vocabulary is cut to its first 2**17 - 1000 ranks (cl100k has fewer); tokenize() is
// encode_ordinary with Megatron's pattern v1 or v2 (--tiktoken-pattern). Both patterns are Megatron's.
const MEGATRON_PATTERNS = {
  v1: String.raw`[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+`,
  v2: String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|` +
    String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}|` +
    String.raw` ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
};
const NUM_SPECIAL = 1000;
const MEGATRON_VOCAB = 2 ** 17;
function megatronTiktoken(vocabFile, pattern) {
  const vocab = JSON.parse(fs.readFileSync(vocabFile, "utf8")).slice(0, MEGATRON_VOCAB - NUM_SPECIAL);
  vocab.forEach((e, i) => { if (e.rank !== i) throw new Error(`${vocabFile}: entry ${i} has rank ${e.rank}`); });
  // tiktoken's compact rank text: "<name> <first id> <base64 token>...", ids consecutive.
  const bfe = `! ${NUM_SPECIAL} ` + vocab.map((e) => e.token_bytes).join(" ");
  const special = { "<unk>": 0, "<s>": 1, "</s>": 2 };
  for (let i = 3; i < NUM_SPECIAL; i++) special[`<SPECIAL_${i}>`] = i;
  return new Tiktoken(bfe, special, pattern);
}
const megatronFile = path.join(modelsDir, "tiktoken", "cl100k_megatron.json");
for (const [p, pattern] of Object.entries(MEGATRON_PATTERNS)) {
  const enc = megatronTiktoken(megatronFile, pattern);
  const rows = texts.map((text) => ({ text, ids: Array.from(enc.encode_ordinary(text)) }));
  enc.free();
  writeGolden(`megatron_cl100k_${p}`, rows, {
    oracle: `tiktoken (npm) ${version("tiktoken")} core, configured as Megatron-LM CustomTikTokenizer ` +
      `(tiktoken_pattern ${p}, tiktoken_num_special_tokens ${NUM_SPECIAL}, vocab_size ${MEGATRON_VOCAB}, ` +
      "special tokens <unk> <s> </s> <SPECIAL_3>..<SPECIAL_999>)",
    model: "tiktoken/cl100k_megatron.json",
    model_sha256: sha256(megatronFile),
    ids: "CustomTikTokenizer.tokenize(text) = encode_ordinary(text), ids = rank + 1000",
  });
}

// ---------------------------------------------------------------- manifest
// The SentencePiece goldens (gen_spm_golden.py) add their own entries; keep them.
const manifestPath = path.join(here, "tok_manifest.json");
const previous = fs.existsSync(manifestPath) ? JSON.parse(fs.readFileSync(manifestPath, "utf8")) : {};
const merged = { ...previous, ...manifest };
const sorted = Object.fromEntries(Object.keys(merged).sort().map((k) => [k, merged[k]]));
fs.writeFileSync(manifestPath, JSON.stringify(sorted, null, 2) + "\n");
console.error(`cross-check disagreements: ${disagreements}`);
