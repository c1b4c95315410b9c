// The node reference for one tokenizer family, for bench/tokenizer_families_bench.py on machines without the
// Python packages: npm tiktoken (Rust compiled to WASM, one thread) for the tiktoken encodings, and Hugging Face
// tokenizers' native binding (@anush008/tokenizers, encodeBatch, RAYON_NUM_THREADS threads) for tokenizer.json
// models. Times the encode calls only (the JSONL is read and parsed first, which favours the reference) and prints
// one JSON line: {tool, version, threads, seconds, tokens}.
//
//   node families_reference.mjs CORPUS.jsonl tiktoken ENCODING        (gpt2, cl100k_base, o200k_base)
//   RAYON_NUM_THREADS=N node families_reference.mjs CORPUS.jsonl hf TOKENIZER_JSON
import fs from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const [corpusPath, kind, model] = process.argv.slice(2);
const texts = fs.readFileSync(corpusPath, "utf8").split("\n").filter((l) => l.length > 0)
  .map((l) => JSON.parse(l).text);
const runs = Number(process.env.REF_RUNS || "1");
// Packages' versions from their package.json (tiktoken's "exports" does not allow require() of it).
const versionOf = (pkg) =>
  JSON.parse(fs.readFileSync(new URL(`./node_modules/${pkg}/package.json`, import.meta.url), "utf8")).version;

let tokens = 0;
let best = Infinity;
let version = "";
let threads = 1;
if (kind === "tiktoken") {
  const { get_encoding } = await import("tiktoken");
  version = `npm tiktoken ${versionOf("tiktoken")}`;
  const enc = get_encoding(model);
  for (let r = 0; r < runs; ++r) {
    tokens = 0;
    const start = process.hrtime.bigint();
    for (const t of texts) tokens += enc.encode_ordinary(t).length;
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  enc.free();
} else {
  const { Tokenizer } = require("@anush008/tokenizers");
  version = `npm @anush008/tokenizers ${versionOf("@anush008/tokenizers")}`;
  threads = Number(process.env.RAYON_NUM_THREADS || "1");
  const tok = Tokenizer.fromFile(model);
  for (let r = 0; r < runs; ++r) {
    tokens = 0;
    const start = process.hrtime.bigint();
    for (let i = 0; i < texts.length; i += 1024) {
      const encs = await tok.encodeBatch(texts.slice(i, i + 1024), { addSpecialTokens: true });
      for (const e of encs) tokens += e.getIds().length;
    }
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
}
console.log(JSON.stringify({ tool: kind, version, threads, seconds: best, tokens }));
