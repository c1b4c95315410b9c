// Reference timing for bench/tokenize_bench.sh: encodes the "text" of every
// line of a JSONL file with Hugging Face tokenizers' native GPT-2 BPE
// (ByteLevel pre-tokenizer + BPE from vocab.json/merges.txt, encodeBatch,
// threads from RAYON_NUM_THREADS) and reports MB/s of JSONL. Only the encode
// call is timed: reading and JSON parsing are excluded, which favours the
// reference.
//
// Usage: node encode_bench.mjs CORPUS.jsonl VOCAB_DIR [hf|tiktoken]
import fs from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const [corpusPath, vocabDir, which = "hf"] = process.argv.slice(2);
const raw = fs.readFileSync(corpusPath, "utf8");
const lines = raw.split("\n").filter((l) => l.length > 0);
const texts = lines.map((l) => JSON.parse(l).text);
const jsonlBytes = Buffer.byteLength(raw, "utf8");

let tokens = 0;
const t0 = process.hrtime.bigint();
if (which === "hf") {
  const { Tokenizer } = require("@anush008/tokenizers");
  const vocab = JSON.parse(fs.readFileSync(`${vocabDir}/vocab.json`, "utf8"));
  const merges = fs.readFileSync(`${vocabDir}/merges.txt`, "utf8").split("\n").filter((l, i) => i > 0 && l.length > 0);
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tok = Tokenizer.fromString(JSON.stringify({
    version: "1.0", truncation: null, padding: null, added_tokens: [], normalizer: null,
    pre_tokenizer: byteLevel, post_processor: null, decoder: byteLevel,
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "",
      fuse_unk: false, vocab, merges },
  }));
  const start = process.hrtime.bigint();
  const batch = 1024;
  for (let i = 0; i < texts.length; i += batch) {
    const encs = await tok.encodeBatch(texts.slice(i, i + batch), { addSpecialTokens: false });
    for (const e of encs) tokens += e.getIds().length;
  }
  report(start);
} else {
  const { get_encoding } = await import("tiktoken");
  const enc = get_encoding("gpt2");
  const start = process.hrtime.bigint();
  for (const t of texts) tokens += enc.encode_ordinary(t).length;
  enc.free();
  report(start);
}

function report(start) {
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(JSON.stringify({ tool: which, seconds: s, jsonl_mb: jsonlBytes / 1e6, mb_per_s: jsonlBytes / 1e6 / s, tokens,
    setup_seconds: Number(start - t0) / 1e9 }));
}
