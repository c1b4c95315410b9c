// Writes the two committed inputs of the multi-family tokenizer tests:
//   tests/data/tokenizer_corpus.jsonl  edge-case texts, one {"text": ...} per line, encoded by every
//                                      reference tokenizer into tests/golden/tok_*.jsonl;
//   tests/data/spm_train.txt           multilingual text (one sentence-ish line per line) that
//                                      third_party/tokenizers/train_spm.sh trains the SentencePiece models on.
// Both are deterministic (seeded PRNG, no clock, no locale). Needs no packages.
//
// Usage: node tests/golden/gen_tokenizer_corpus.mjs
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = path.join(here, "..", "data");

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
const rand = prng(20261130);
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const randint = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

// ---------------------------------------------------------------- prose in many languages
// Written for this corpus; each entry is a list of sentences.
const prose = {
  en: [
    "The committee met on Tuesday to discuss the budget, and after three hours of debate it agreed to " +
      "postpone the vote.",
    "It was a bright cold day in April, and the old mill by the river had not turned for years.",
    "Photosynthesis converts light energy into chemical energy inside the chloroplasts of green plants.",
    "She said she'd call back, but we'll see whether they're really coming on Friday.",
    "The library's new reading room opens at 9:30 a.m. and closes at 6 p.m. on weekdays.",
    "Researchers measured 1,024 samples and found that 87.5% of them exceeded the threshold.",
    "A small boat drifted past the harbour lights while the fishermen mended their nets.",
    "Nobody could remember who had planted the oak tree in the middle of the village square.",
  ],
  de: [
    "Die Straßenbahn fährt alle zehn Minuten vom Hauptbahnhof zur Universität.",
    "Größere Städte wie München, Köln und Hamburg haben eigene Verkehrsverbünde.",
    "Übermäßiger Lärm in der Nacht ist in den meisten Wohngebieten verboten.",
    "Der Bäcker öffnet schon um sechs Uhr, damit die Nachbarn frische Brötchen bekommen.",
    "Wir müssen die Ergebnisse noch einmal überprüfen, bevor wir sie veröffentlichen.",
  ],
  fr: [
    "Le musée est fermé le lundi, mais l'entrée est gratuite le premier dimanche du mois.",
    "Elle a commandé un café crème et une tarte aux pommes à la terrasse.",
    "Les élèves ont étudié l'œuvre de Victor Hugo pendant tout le trimestre.",
    "Où est la gare ? Il faut traverser le pont et tourner à gauche après l'église.",
    "Ça dépend : si le temps le permet, nous irons à la plage demain matin.",
  ],
  es: [
    "¿Dónde está la biblioteca? Está al lado del ayuntamiento, cerca de la plaza mayor.",
    "El niño comió una manzana y después salió a jugar al fútbol con sus amigos.",
    "La exposición de arte contemporáneo atrajo a más de diez mil visitantes.",
    "¡Qué sorpresa! No esperaba verte aquí después de tantos años.",
    "Mañana lloverá en el norte, pero en el sur hará sol y calor.",
  ],
  ru: [
    "Москва — столица России и крупнейший город страны по численности населения.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Вечером мы гуляли по набережной и смотрели, как зажигаются огни.",
    "Библиотека работает ежедневно, кроме воскресенья, с девяти до восьми.",
    "Учёные обнаружили новый вид бабочек в горах Алтая.",
  ],
  zh: [
    "北京是中华人民共和国的首都，也是全国的政治和文化中心。",
    "今天天气很好，我们一起去公园散步吧。",
    "这本书讲述了一个小村庄在一百年间的变化。",
    "研究人员发现，睡眠不足会影响记忆力和注意力。",
    "长江是中国最长的河流，全长约六千三百公里。",
  ],
  ja: [
    "東京は日本の首都であり、世界で最も人口の多い都市圏の一つです。",
    "今日はとても暑いので、冷たいお茶を飲みたいです。",
    "図書館で本を借りて、週末にゆっくり読みました。",
    "カタカナとひらがなと漢字を組み合わせて文章を書きます。",
    "駅の近くに新しいラーメン屋さんができたそうです。",
  ],
  ko: [
    "서울은 대한민국의 수도이며 가장 큰 도시입니다.",
    "오늘 날씨가 맑아서 친구들과 한강 공원에 갔어요.",
    "이 책은 조선 시대의 생활 모습을 자세히 설명합니다.",
    "한국어를 공부하는 외국인 학생이 점점 늘고 있습니다.",
    "저녁에는 가족과 함께 김치찌개를 먹었습니다.",
  ],
  ar: [
    "القاهرة هي عاصمة مصر وأكبر مدنها من حيث عدد السكان.",
    "ذهبت إلى المكتبة لاستعارة كتاب عن تاريخ العلوم.",
    "تعتبر اللغة العربية من أكثر اللغات انتشارا في العالم.",
    "يبدأ العام الدراسي الجديد في شهر سبتمبر من كل عام.",
  ],
  hi: [
    "भारत एक विशाल देश है जिसमें अनेक भाषाएँ बोली जाती हैं।",
    "आज मौसम बहुत अच्छा है, चलो बगीचे में टहलने चलते हैं।",
    "पुस्तकालय सुबह नौ बजे खुलता है और शाम छह बजे बंद होता है।",
    "विद्यार्थियों ने विज्ञान प्रदर्शनी में अपने प्रोजेक्ट दिखाए।",
  ],
  th: [
    "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย",
    "วันนี้อากาศดีมากเราไปเดินเล่นที่สวนสาธารณะกันเถอะ",
    "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำในประโยค",
    "ห้องสมุดเปิดทุกวันตั้งแต่เก้าโมงเช้าถึงหกโมงเย็น",
  ],
  el: [
    "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας και μία από τις αρχαιότερες πόλεις του κόσμου.",
    "Σήμερα ο καιρός είναι ζεστός και ηλιόλουστος.",
    "Οι μαθητές διάβασαν την Οδύσσεια του Ομήρου στο σχολείο.",
  ],
  tr: [
    "İstanbul, Türkiye'nin en kalabalık şehridir ve iki kıtaya yayılır.",
    "Pijamalı hasta yağız şoföre çabucak güvendi.",
    "Öğrenciler sınavdan önce kütüphanede çalıştılar.",
  ],
  vi: [
    "Hà Nội là thủ đô của Việt Nam, nổi tiếng với những hồ nước đẹp.",
    "Hôm nay trời đẹp, chúng ta đi dạo công viên nhé.",
    "Người dân thường ăn phở vào buổi sáng.",
  ],
  he: [
    "ירושלים היא עיר עתיקה עם היסטוריה ארוכה ומרתקת.",
    "היום מזג האוויר נעים ואנחנו הולכים לים.",
    "הספרייה פתוחה מתשע בבוקר עד שש בערב.",
  ],
  pl: [
    "Zażółć gęślą jaźń — to zdanie zawiera wszystkie polskie litery diakrytyczne.",
    "W sobotę pojechaliśmy nad jezioro, żeby odpocząć od miasta.",
  ],
};
const langs = Object.keys(prose);

const corpus = [];
const add = (...texts) => { for (const t of texts) corpus.push(t); };

// Whole paragraphs per language, then single sentences.
for (const l of langs) add(prose[l].join(l === "zh" || l === "ja" || l === "th" ? "" : " "));
for (const l of langs) for (const s of prose[l]) add(s);

// ---------------------------------------------------------------- whitespace classes
const ws = ["\t", "\r\n", "\r", "\n", "\u000b", "\u000c", "\u00a0", "\u0085", "\u1680", "\u2000", "\u2001", "\u2002",
  "\u2003", "\u2004", "\u2005", "\u2006", "\u2007", "\u2008", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f",
  "\u205f", "\u3000"];
for (const w of ws) add(`a${w}b`, `word${w}${w}word`, `${w}lead`, `trail${w}`, `x ${w} y`, `${w}${w}${w}`);
add(" ", "  ", "   ", "\n", "\n\n", "\n\n\n\n\n", "\r\n\r\n", "\r\r", " \n", "\n ", " \n \n ",
  "trailing spaces   ", "   leading spaces", "  both sides  ", "a  b   c    d", "words    \n    more",
  "end with newline\n", "end with newlines\n\n\n", "tab\tseparated\tvalues\t", "\t\tindented", "line1\r\nline2\r\n",
  "old mac\rline\r", "nbsp\u00a0\u00a0words", "ideographic\u3000space\u3000\u3000here", "x" + " ".repeat(17) + "y",
  "multiple   spaces before words", "spaces at end" + " ".repeat(9), "\u00a0 \u00a0mixed", "\u2002 en\u2003em",
  "a\u0085b\u0085\u0085c", " \t \t ", "\n\t\n\t", "Hello\n\n\nWorld", " Hello", "  Hello", "Hello ", "Hello  ");

// ---------------------------------------------------------------- contractions and quotes
for (const s of ["s", "t", "re", "ve", "m", "ll", "d"]) {
  const S = s.toUpperCase();
  const mixed = s.length > 1 ? s[0].toUpperCase() + s.slice(1) : S;
  add(`it'${s} fine`, `IT'${S} FINE`, `It'${mixed}`, `it’${s}`, `it‘${s}`, `'${s}`, ` '${s}`, `''${s}`, `x'${s}'${s}`);
}
add("'ſ", "it'ſ", "'ſt", "Iſ'ſ", "\"'t'\"", "'t'", "\"quoted\"", "'single'", "‘curly’ “double”", "« guillemets »",
  "don't DON'T Don't dOn'T", "I'll we'll YOU'LL", "she's SHE'S She'S", "rock'n'roll", "'twas 'tis", "o'clock",
  "y'all", "''", "'''", "' '", "'s's's", "the cats' toys", "James's book", "l'homme d'affaires", "aujourd'hui",
  "n't", "can't won't shan't", "'LL 'Ll 'lL", "123's", "a'b'c'd");

// ---------------------------------------------------------------- digits of many scripts
add("0", "1", "12", "123", "1234", "12345", "123456", "1234567", "3.14159265358979", "1,000,000", "1 000 000",
  "-42", "+7", "1e-10", "0x1F", "0b1010", "2026-11-30T14:04:05Z", "v1.2.3-rc.4", "$19.99", "€5,50", "50%",
  "١٢٣٤٥٦٧٨٩٠", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९", "๐๑๒๓๔๕๖๗๘๙", "０１２３４５６７８９", "x² + y³ = z¹", "⁰¹²³⁴⁵⁶⁷⁸⁹",
  "₀₁₂₃₄", "½ ¼ ¾ ⅓ ⅔ ⅛", "Ⅰ Ⅱ Ⅲ Ⅳ Ⅴ Ⅻ ⅰⅱⅲ", "① ② ③ ⑳", "H₂O CO₂", "²²²", "a1b2c3", "abc123def456",
  "9".repeat(64), "1234567890".repeat(10), "3.141592653589793238462643383279502884197169399375105820974944",
  "Phone: +1 (555) 123-4567", "ISBN 978-3-16-148410-0", "IPv4 192.168.0.1 IPv6 fe80::1ff:fe23:4567:890a");

// ---------------------------------------------------------------- scripts without spaces, RTL, Indic
add("中华人民共和国成立于一九四九年十月一日", "我爱北京天安门", "日本語のテキストです", "ひらがなカタカナ", "ｶﾀｶﾅ半角",
  "한국어 텍스트입니다", "한국어텍스트띄어쓰기없음", "ภาษาไทยไม่มีการเว้นวรรค", "العربية من اليمين إلى اليسار",
  "עברית מימין לשמאל", "Arabic with English: مرحبا hello مرحبا", "हिन्दी और English मिश्रित", "ਪੰਜਾਬੀ ਭਾਸ਼ਾ",
  "தமிழ் மொழி",
  "ქართული ენა", "Հայերեն լեզու", "አማርኛ ቋንቋ", "ᏣᎳᎩ", "ꯃꯤꯇꯩ", "𠀀𠀁𠀂 CJK extension B", "〇一二三四五六七八九十");

// ---------------------------------------------------------------- emoji
add("😀", "😀😃😄😁", "👍👍🏻👍🏼👍🏽👍🏾👍🏿", "👨‍👩‍👧‍👦", "👩‍💻", "🧑🏾‍🚀", "🏳️‍🌈", "🏴‍☠️", "🇺🇸🇯🇵🇩🇪🇫🇷", "🇺🇸 🇯🇵",
  "❤️ ♥ ❤", "#️⃣ 1️⃣ *️⃣", "✌🏻 victory", "I ❤️ NY", "emoji😀inside😀words", "🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland");

// ---------------------------------------------------------------- combining marks, normalization-sensitive
add("e\u0301", "cafe\u0301", "café", "a\u0300\u0301\u0302\u0303", "n\u0303o", "\u1100\u1161\u11a8", "한",
  "\u1112\u1161\u11ab\u1100\u1173\u11af", "ﬁ ﬂ ﬃ ﬀ", "ﬁnance ofﬁce", "ＡＢＣ ａｂｃ Ｈｅｌｌｏ", "\u212b \u00c5 A\u030a",
  "\u2126 \u03a9", "\u00b5 \u03bc", "\u1e9b\u0323", "Ǆ ǅ ǆ", "㍿ ㈱ ㎏ ㎞", "™ ℠ ℡", "…", "‥", "\u2024\u2025\u2026",
  "\u00bd\u2044", "ℌℍ ℕℙ", "𝐀𝐁𝐂 𝔸𝔹ℂ", "Ⓐⓑⓒ", "ｱｲｳｴｵ", "ｶﾞｷﾞ", "\u0f73", "\u0344", "\u1e0a\u0323", "\u0958",
  "Z\u0337\u0322\u031b\u032da\u0338\u0327l\u0336g\u0337o\u0337", "i\u0307", "\u00df SS ß ẞ", "İstanbul ıi İI");

// ---------------------------------------------------------------- case
add("camelCaseIdentifier", "PascalCaseIdentifier", "HTTPServer", "XMLHttpRequest", "getHTTPResponseCode",
  "ÉCOLE école École", "ÀÉÎÕÜ àéîõü", "snake_case_name", "SCREAMING_SNAKE_CASE", "kebab-case-name",
  "MiXeD cAsE wOrDs", "iPhone eBay McDonald's", "ΣΊΣΥΦΟΣ σίσυφος", "ПРИВЕТ привет Привет", "ǅemal");

// ---------------------------------------------------------------- punctuation runs
add("!!!", "???", "?!?!", "...", "…", "---", "——", "***", "###", "==>", "<=>", "!=", "===", "&&||", "::", "->",
  "()[]{}<>", "@#$%^&*", "\"\"\"", "'''", "```", "~~~", "||||||||", "................................................",
  "Wait... what?!", "Hello, world!", "(parenthetical)", "[bracketed]", "{braced}", "a.b.c.d", "e.g., i.e., etc.",
  "foo/bar\\baz", "50/50", "C++ C# F#", ".NET", "--help", "-v", "~/.config", "#hashtag @mention");

// ---------------------------------------------------------------- code
add(
  "def main(argv):\n    \"\"\"Entry point.\"\"\"\n    if len(argv) < 2:\n        print(f\"usage: {argv[0]} FILE\")\n" +
    "        return 2\n    return 0\n",
  "class Node:\n\tdef __init__(self, value):\n\t\tself.value = value\n\t\tself.children = []\n",
  "import numpy as np\nx = np.arange(10) ** 2  # squares\nprint(x[x % 2 == 0])\n",
  "#include <vector>\n\nint main() {\n  std::vector<int> v{1, 2, 3};\n  for (auto& x : v) x *= 2;\n" +
    "  return v.size() > 2 ? 0 : 1;\n}\n",
  "template <typename T>\nconstexpr T square(T x) noexcept { return x * x; }\n",
  "{\"name\": \"example\", \"version\": \"1.2.3\", \"tags\": [\"a\", \"b\"], \"nested\": {\"x\": null, \"y\": true}}",
  "{\n  \"key\": \"value\",\n  \"number\": -12.5e3,\n  \"unicode\": \"caf\\u00e9\"\n}\n",
  "https://www.example.org/path/to/page?query=1&lang=en#section-2",
  "http://localhost:8080/api/v1/users/42?fields=name,email",
  "mailto:jane.doe@example.com", "git@github.com:owner/repo.git",
  "SELECT id, COUNT(*) FROM orders WHERE created_at >= '2024-01-01' GROUP BY id;",
  "<div class=\"x\"><p>Hello &amp; <b>world</b></p></div>",
  "fn main() { let v: Vec<u32> = (0..10).map(|x| x * x).collect(); }",
  "x=1;y=2;z=x+y*3/4-5%6**7//8", "if (a && b || !c) { return a << 2 >> 1; }",
  "    four spaces\n        eight spaces\n\t\ttwo tabs\n",
  "$ ls -la /tmp && echo \"done\" | grep -v error > out.txt 2>&1",
);

// ---------------------------------------------------------------- literal special-token strings
const specials = ["<|endoftext|>", "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<s>", "</s>", "<unk>",
  "<pad>", "<bos>", "<eos>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<think>", "<mask>", "<start_of_turn>",
  "[CLS]", "<|reserved_special_token_0|>"];
for (const t of specials) add(t, `Hello${t}world`, ` ${t} `, `${t}${t}`, `text ${t}\nmore`);
add("<|endoftext", "endoftext|>", "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n", "< s >", "<s >",
  "<S>", "<|ENDOFTEXT|>", "<<s>>", "<</s>>");

// ---------------------------------------------------------------- leading/trailing spaces on real sentences
for (const l of ["en", "de", "zh", "ru", "ar", "ja"]) {
  const s = prose[l][0];
  add(" " + s, "  " + s, s + " ", s + "  ", " " + s + " ", "\n" + s, s + "\n", "\t" + s);
}

// ---------------------------------------------------------------- mixed random sentences
const allSentences = langs.flatMap((l) => prose[l]);
for (let i = 0; i < 60; i++) {
  const n = randint(2, 5);
  const parts = [];
  for (let j = 0; j < n; j++) parts.push(pick(allSentences));
  add(parts.join(pick([" ", "\n", "  ", "\n\n", " \t"])));
}
// Random soups of characters from many classes.
const soup = [" ", " ", "  ", "\n", "\t", "a", "Z", "é", "ß", "'", "'s", "’", "1", "42", "٣", "०", "½", "²", "中", "日",
  "ア", "한", "ก", "ع", "ש", "ж", "Ω", "😀", "👍🏽", "\u0301", "ﬁ", "Ａ", "\u00a0", "\u3000", "!", "...", "-", "_",
  "<s>", "</s>", "<|endoftext|>", "\r\n", "\u200d", "\u200b", "\ufeff"];
for (let i = 0; i < 60; i++) {
  let s = "";
  const n = randint(1, 40);
  for (let j = 0; j < n; j++) s += pick(soup);
  add(s);
}
// Random ASCII (printable + controls).
for (let i = 0; i < 20; i++) {
  let s = "";
  const n = randint(1, 60);
  for (let j = 0; j < n; j++) s += String.fromCharCode(randint(1, 127));
  add(s);
}

// ---------------------------------------------------------------- long pieces
// 16 KiB of UTF-8 each, except the mixed one (4 Ki characters): it has the most tokens per byte, and the
// golden files carry its ids for every model.
const K16 = 16 * 1024;
const longMixed = (() => {
  const pieces = ["abc", "XYZ", "123", "中文", "日本", "한글", "ไทย", "éèê", "--", "__", "😀", "Ωμέγα", "приве"];
  let s = "";
  while (s.length < 4096) s += pick(pieces);
  return s.slice(0, 4096);
})();
add("a".repeat(K16), " ".repeat(K16), "7".repeat(K16), "中".repeat(Math.floor(K16 / 3)), "ab".repeat(K16 / 2),
  longMixed);

// ---------------------------------------------------------------- write
// Lone surrogates cannot be UTF-8; keep every text valid.
for (const t of corpus) {
  if (!t.isWellFormed()) throw new Error(`ill-formed text ${JSON.stringify(t)}`);
}
fs.mkdirSync(dataDir, { recursive: true });
const corpusPath = path.join(dataDir, "tokenizer_corpus.jsonl");
fs.writeFileSync(corpusPath, corpus.map((text) => JSON.stringify({ text })).join("\n") + "\n");

// ---------------------------------------------------------------- SentencePiece training text
// Recombines the prose (sentence order, word order within space-separated languages, 1-4 sentence lines),
// plus a little code, digits and the whitespace variety, to about 400 KB.
const trainRand = prng(7);
const tpick = (xs) => xs[Math.floor(trainRand() * xs.length)];
const shuffleWords = (s) => {
  const w = s.split(" ");
  for (let i = w.length - 1; i > 0; i--) {
    const j = Math.floor(trainRand() * (i + 1));
    [w[i], w[j]] = [w[j], w[i]];
  }
  return w.join(" ");
};
const extras = corpus.filter((t) => t.length < 400 && !t.includes("\n") && !t.includes("\r"));
// The prose alone has too few distinct substrings for a 4,000-piece vocabulary, so half the lines are
// pseudo-sentences: words built from each script's syllables, drawn Zipf-like from a fixed lexicon so
// that some words are frequent (as in real text) and many are rare.
const syllables = {
  latin: "ba be bi bo bu ka ke ki ko ku ta te ti to tu ra re ri ro ru sa se si so su na ne ni no nu ma me mi mo mu " +
    "la le li lo lu da de di do du pa pe pi po pu ga ge gi go gu va ve vi vo vu str tr pl gr ch sh th qu ing ion " +
    "er en an in on ung ei au ou é è ü ö ä ñ ç ß ł ą ę ş ğ ı",
  cyrillic: "ба бе би бо бу ка ке ки ко ку та те ти то ту ра ре ри ро ру са се си со су на не ни но ну ма ме ми мо " +
    "му ла ле ли ло лу да де ди до ду ва ве ви во ву жа жи ша ши ща щи ча чи цы ть ый ий ая ое ство ние",
  greek: "βα βε βι βο κα κε κι κο τα τε τι το ρα ρε ρι ρο σα σε σι σο να νε νι νο μα με μι μο λα λε λι λο δα δε " +
    "δι δο πα πε πι πο γα γε γι γο θα θε θι θο ος ης ας ων ού ή ά έ ί ό ύ ώ",
  kana: "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんがぎぐげご" +
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワンガギグゲゴー",
  han: "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心" +
    "多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但" +
    "身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第" +
    "门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华" +
    "报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记",
  hangul: "가나다라마바사아자차카타파하거너더러머버서어저처커터퍼허고노도로모보소오조초코토포호구누두루무부수우주추" +
    "쿠투푸후기니디리미비시이지치키티피히한국어의는을를에서와과도만요습니다했다있고없는같은",
  thai: "กขคงจฉชซญดตถทธนบปผฝพฟภมยรลวศษสหอฮะาิีึืุูเแโใไ่้๊๋ั็์",
  arabic: "ابتثجحخدذرزسشصضطظعغفقكلمنهوية",
  hebrew: "אבגדהוזחטיכלמנסעפצקרשת",
  devanagari: "क ख ग घ च छ ज झ ट ठ ड ढ त थ द ध न प फ ब भ म य र ल व श ष स ह का कि की कु के को ना नि ने मा मे " +
    "रा रि रे ला ले सा से ता ते ्र ं ः",
};
const splitSyl = (s) => (s.includes(" ") ? s.split(" ") : [...s]);
const scripts = Object.fromEntries(Object.entries(syllables).map(([k, v]) => [k, splitSyl(v)]));
const spaced = { latin: true, cyrillic: true, greek: true, hangul: true, arabic: true, hebrew: true, devanagari: true };
const lexicon = {};
for (const [k, syl] of Object.entries(scripts)) {
  const words = [];
  for (let i = 0; i < 1500; i++) {
    const n = 1 + Math.floor(trainRand() * (spaced[k] ? 4 : 3));
    let w = "";
    for (let j = 0; j < n; j++) w += tpick(syl);
    words.push(w);
  }
  lexicon[k] = words;
}
const zipfWord = (words) => words[Math.floor(words.length * Math.pow(trainRand(), 3))];
function pseudoSentence() {
  const k = tpick(Object.keys(lexicon));
  const n = 4 + Math.floor(trainRand() * 14);
  const ws = [];
  for (let i = 0; i < n; i++) {
    let w = zipfWord(lexicon[k]);
    if (k === "latin" && i === 0) w = w[0].toUpperCase() + w.slice(1);
    if (trainRand() < 0.04) w = String(Math.floor(trainRand() * 100000));
    ws.push(w);
  }
  const ends = { han: "。", kana: "。", thai: "", arabic: ".", hebrew: ".", devanagari: "।" };
  const end = ends[k] ?? tpick([".", ".", "?", "!"]);
  return ws.join(spaced[k] ? " " : "") + end;
}
const lines = [];
let size = 0;
while (size < 400 * 1024) {
  let line;
  const r = trainRand();
  if (r < 0.1) line = tpick(extras);
  else if (r < 0.55) line = pseudoSentence() + (trainRand() < 0.5 ? " " + pseudoSentence() : "");
  else {
    const l = tpick(langs);
    const n = 1 + Math.floor(trainRand() * 4);
    const parts = [];
    for (let i = 0; i < n; i++) {
      const s = tpick(prose[l]);
      parts.push(trainRand() < 0.5 && l !== "zh" && l !== "ja" && l !== "th" ? shuffleWords(s) : s);
    }
    line = parts.join(l === "zh" || l === "ja" || l === "th" ? "" : " ");
  }
  if (line.trim().length === 0) continue;
  lines.push(line);
  size += Buffer.byteLength(line, "utf8") + 1;
}
fs.writeFileSync(path.join(dataDir, "spm_train.txt"), lines.join("\n") + "\n");
console.error(`wrote ${corpus.length} texts to ${corpusPath} and ${lines.length} lines (${size} bytes) ` +
  "of spm_train.txt");
