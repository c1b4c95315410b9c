#!/usr/bin/env python3
"""Builds the bundled sample corpus: a few SlimPajama-shaped shards
(train/chunk{1,2}/example_train_{i}.jsonl.zst, one JSON object per line with
"text" and "meta.redpajama_set_name") mixing English prose, source code and
multilingual text. Deterministic (seeded), written by this project; the demo
and tests use it. Needs the `zstd` command.

    python3 scripts/make_sample_corpus.py tests/data/sample
"""
import json
import os
import random
import subprocess
import sys

PROSE = [
    "The river had been rising for three days before anyone in the valley thought to move the grain. "
    "By the time the mill owner sent his sons up the hill with the first cart, the water was already "
    "lapping at the lowest step of the granary, and the road behind them had turned to a brown, "
    "slow-moving sheet.",
    "Distributed training jobs fail in boring ways. A node loses its network link, a file system "
    "stalls for ninety seconds, or a single rank runs out of memory while the other 127 wait at a "
    "barrier. Good tooling assumes all of this will happen and makes every step restartable.",
    "She didn't answer at first. \"We'll see,\" she said finally, folding the letter twice and "
    "tucking it into her coat. \"I've been wrong before, and I'm sure I'll be wrong again.\"",
    "In 1987 the committee published its report: 312 pages, 14 appendices and a single "
    "recommendation that nobody implemented. The estimated cost was $4.2 million (about 3.1% of "
    "the annual budget).",
    "Photosynthesis converts light energy into chemical energy stored in glucose. In the first "
    "stage, the light-dependent reactions split water molecules, releasing oxygen; in the second, "
    "the Calvin cycle fixes carbon dioxide into three-carbon sugars.",
    "Q: How do I resume an interrupted download?\nA: Run the same command again. Files that were "
    "already verified are skipped, and partial files continue from where they stopped.\n",
    "Chapter 7\n\nThe Lighthouse\n\nThere were forty-one steps to the lamp room, and Tomas had "
    "counted every one of them each night for eleven years.",
    "Ingredients: 2 cups flour, 1 tsp salt, 3/4 cup warm water, 2 tbsp olive oil.\n"
    "1. Mix the dry ingredients.\n2. Add water and oil; knead for 10 minutes.\n"
    "3. Rest, covered, for 30 minutes before rolling out.",
]

CODE = [
    "def tokenize(text: str) -> list[int]:\n    \"\"\"Return the token ids of `text`.\"\"\"\n"
    "    ids = []\n    for piece in pretokenize(text):\n        ids.extend(bpe(piece))\n"
    "    return ids\n",
    "#include <stdio.h>\n\nint main(int argc, char **argv) {\n    for (int i = 1; i < argc; i++) {\n"
    "        printf(\"%d: %s\\n\", i, argv[i]);\n    }\n    return 0;\n}\n",
    "SELECT shard, COUNT(*) AS documents, SUM(bytes) / 1e9 AS gigabytes\nFROM corpus\n"
    "WHERE split = 'train'\nGROUP BY shard\nORDER BY gigabytes DESC\nLIMIT 10;\n",
    "{\n  \"name\": \"example\",\n  \"version\": \"1.0.0\",\n  \"scripts\": {\n    \"test\": \"node test.js\"\n"
    "  },\n  \"dependencies\": {}\n}\n",
    "fn main() {\n    let words: Vec<&str> = \"a b c\".split(' ').collect();\n"
    "    println!(\"{:?} has {} words\", words, words.len());\n}\n",
    "#!/bin/bash\nset -euo pipefail\nfor f in data/*.jsonl.zst; do\n\tzstd -dc \"$f\" | wc -l\ndone\n",
]

MULTILINGUAL = [
    "Le train de nuit est arrivé à Lyon avec quarante minutes de retard, mais personne ne s'en est plaint.",
    "Die Bibliothek öffnet um neun Uhr; Studierende müssen ihren Ausweis an der Tür zeigen.",
    "El mercado del sábado vende frutas, pan recién hecho y queso de cabra de la sierra.",
    "Москва — крупнейший город России; метро перевозит более шести миллионов пассажиров в день.",
    "東京の朝は早い。駅のホームには、始発電車を待つ人々が静かに並んでいる。",
    "我们今天下午三点在图书馆见面，然后一起去吃晚饭。",
    "서울의 가을은 짧지만 아름답다. 단풍이 산을 붉게 물들인다.",
    "القهوة العربية تُقدَّم عادةً مع التمر في المجالس.",
    "הספרייה העירונית פתוחה עד שמונה בערב.",
    "दिल्ली में सर्दियों की सुबह अक्सर कोहरे से ढकी रहती है।",
    "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ ทำให้การตัดคำเป็นเรื่องยาก",
    "Η Αθήνα είναι μία από τις αρχαιότερες πόλεις του κόσμου.",
    "Tiếng Việt dùng chữ Latinh với nhiều dấu thanh điệu.",
    "Emoji in chat: 😀 👍🏽 👨‍👩‍👧‍👦 🇯🇵 ❤️ — and a few symbols: ∑ √ ∞ ≠ ±.",
]

ODDITIES = [
    "Numbers: 1,234,567.89 and ٣٤٥ (Arabic-Indic) and Ⅻ (Roman) and x² + y³.",
    "Whitespace:\ttab\u00a0nbsp\u3000ideographic\u2028line-sep   triple  double \n\n\n  indented",
    "Contractions: it's, IT'S, they're, we've, I'm, you'll, he'd, rock'n'roll, ’curly’s",
    "A literal <|endoftext|> inside a document is just text.",
    "Trailing spaces at the end   ",
]

SETS = ["RedPajamaCommonCrawl", "RedPajamaC4", "RedPajamaGithub", "RedPajamaWikipedia",
        "RedPajamaBook", "RedPajamaArXiv", "RedPajamaStackExchange"]


def document(rng):
    kind = rng.random()
    if kind < 0.55:
        parts = rng.choices(PROSE, k=rng.randint(1, 6))
        joiner = "\n\n"
    elif kind < 0.75:
        parts = rng.choices(CODE, k=rng.randint(1, 4))
        joiner = "\n"
    elif kind < 0.95:
        parts = rng.choices(MULTILINGUAL + PROSE[:2], k=rng.randint(1, 6))
        joiner = " "
    else:
        parts = rng.choices(ODDITIES, k=rng.randint(1, 3))
        joiner = "\n"
    return joiner.join(parts)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/sample"
    rng = random.Random(627)
    for chunk in (1, 2):
        d = os.path.join(out, "train", f"chunk{chunk}")
        os.makedirs(d, exist_ok=True)
        for shard in range(3):
            path = os.path.join(d, f"example_train_{shard}.jsonl")
            with open(path, "w", encoding="utf-8") as f:
                for _ in range(rng.randint(150, 250)):
                    doc = {"text": document(rng), "meta": {"redpajama_set_name": rng.choice(SETS)}}
                    f.write(json.dumps(doc, ensure_ascii=rng.random() < 0.3) + "\n")
            subprocess.run(["zstd", "-q", "-f", "--rm", "-19", path], check=True)
    print(out)


if __name__ == "__main__":
    main()
