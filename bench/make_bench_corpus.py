#!/usr/bin/env python3
"""Builds a benchmark corpus of JSONL documents ({"text": ..., "meta": ...})
from text installed on a Debian machine, varied enough that a pre-token cache
or a compressor gets no more out of it than out of real pre-training data
(issue 10: SlimPajama's JSONL compresses about 3x at zstd -19; every part here
should compress no better than about 4x). Three parts:

  prose  English: Python's and Perl's documentation, the Linux kernel's, the
         Debian handbook and reference, man and info pages, GNOME's help,
         package READMEs and NEWS, fortunes, licenses;
  code   many projects in many languages: C (the Linux kernel, /usr/include),
         C++ (Boost, libstdc++, Abseil, oneTBB, GoogleTest), Python (the
         standard library, dist-packages), Rust (its standard library), Go (its
         standard library), Java (the JDK's sources), JavaScript/TypeScript
         (npm's dependencies, TypeScript, Babel, three.js, pdf.js, ...), shell,
         Perl, Ruby;
  multi  every language with text on the machine, from several sources each:
         translated man pages, the Debian reference and handbook, GNOME's help,
         fortunes, Emacs' tutorials, and the translated strings of the gettext
         catalogs (.mo) in those languages (languages with only catalogs are
         left out: UI strings alone compress 6-12x).

bench/setup_bench_corpus.sh installs the Debian packages these come from; a
source that is not installed is left out (said on stderr). Markup (roff, HTML,
Mallard, POD) is stripped to text. Every file is used at most once, identical
files once, and each is cut into documents of varied length (a few hundred
bytes to ~40 KB) at line ends; parts fill their byte share by taking files in
turn from the group (language, programming language, source) that has the
fewest bytes so far, so no source dominates. Documents are shuffled within a
part and the parts interleaved by bytes. A fraction of documents
(--ascii-fraction, default 0.8) is written as Python's json.dumps writes by
default (ensure_ascii: every non-ASCII character as \\uXXXX, surrogate pairs
beyond the BMP), as most of SlimPajama is; the rest as raw UTF-8.
Deterministic for a given machine (the installed packages) and arguments.

    python3 bench/make_bench_corpus.py OUT.jsonl [MEGABYTES=200] [MIX=prose:0.5,code:0.3,multi:0.2]
        [--ascii-fraction 0.8] [--no-stats] [--long] [--build build]

MIX names parts and their byte shares ("multilingual" is accepted for
"multi"); `prose:1`, `code:1`, `multi:1` make the single-part corpora. At the
end it prints, per part and overall: MB, documents, the zstd -19 compression
ratio (the zstd CLI, `zstd -19 -T2`, plus --long=27 with --long) and distinct
GPT-2 pre-tokens per MB of JSONL (build/bin/stage_bench --pretoken-stats, the
library's own pre-tokenizer and JSONL parser). Distinct pre-tokens grow less
than linearly with size, so compare them only between corpora of one size.
The overall figures are also written to OUT.stats.json for the benches.
"""
import argparse
import fnmatch
import gettext
import glob
import gzip
import hashlib
import html
import io
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20261130
PER_FILE_LIMIT = 300_000  # characters of one file at most, so one huge file cannot fill a group


def log(msg):
    print(f"make_bench_corpus: {msg}", file=sys.stderr, flush=True)


# ---- markup to text -------------------------------------------------------

ROFF_CHARS = {"em": "\u2014", "en": "\u2013", "aq": "'", "dq": '"', "lq": "\u201c", "rq": "\u201d", "oq": "\u2018",
              "cq": "\u2019", "bu": "\u2022", "co": "\u00a9", "rg": "\u00ae", "hy": "-", "mi": "-", "pl": "+",
              "mu": "\u00d7", "di": "\u00f7", "<=": "\u2264", ">=": "\u2265", "->": "\u2192", "<-": "\u2190",
              "ga": "`", "ha": "^", "ti": "~", "rs": "\\", "sl": "/", "de": "\u00b0", "tm": "\u2122"}
ROFF_TEXT_MACROS = {"SH", "SS", "B", "I", "BR", "IR", "RB", "BI", "IB", "RI", "SM", "SB", "IP", "Nm", "Nd",
                    "Sh", "Ss", "Fl", "Ar", "Pa", "Xr", "Em", "Sy", "Dq", "Ql", "Li", "Cm", "Op", "It", "UR", "MT"}


def roff_inline(s):
    s = re.sub(r"\\\((..)", lambda m: ROFF_CHARS.get(m.group(1), ""), s)
    s = re.sub(r"\\\[([^\]]*)\]", lambda m: ROFF_CHARS.get(m.group(1), ""), s)
    s = re.sub(r"\\f(\(..|\[[^\]]*\]|.)", "", s)
    s = re.sub(r"\\\*(\(..|\[[^\]]*\]|.)", "", s)
    s = re.sub(r"\\[sn][+-]?(\(..|\[[^\]]*\]|\d)", "", s)
    s = re.sub(r"\\[Nwh]'[^']*'", "", s)
    s = s.replace("\\-", "-").replace("\\e", "\\").replace("\\ ", " ").replace("\\~", " ").replace("\\0", " ")
    s = re.sub(r"\\[&|^%c:)]", "", s)
    return s


def roff_to_text(src):
    out = []
    skip_def = False
    for line in src.split("\n"):
        if skip_def:
            skip_def = not line.startswith("..")
            continue
        if line.startswith((".", "'")):
            parts = line[1:].strip().split(None, 1)
            if not parts:
                continue
            name, args = parts[0], (parts[1] if len(parts) > 1 else "")
            if name in ("de", "am", "ig"):
                skip_def = True
            elif name in ("PP", "LP", "P", "sp", "Pp", "br"):
                out.append("")
            elif name in ROFF_TEXT_MACROS and args:
                words = [w.strip('"') for w in re.findall(r'"[^"]*"|\S+', args)]
                joiner = "" if name in ("BR", "IR", "RB", "BI", "IB", "RI") else " "
                if name == "IP":
                    words = words[:1]
                out.append(roff_inline(joiner.join(words)))
            continue
        if line.startswith('\\"'):
            continue
        out.append(roff_inline(line))
    return "\n".join(out)


BLOCK_TAGS = r"p|div|br|h[1-6]|li|tr|pre|dt|dd|section|table|title|item|note|code|screen|blockquote"


def html_to_text(src):
    # Documentation generators wrap every page in the same navigation: keep the main content when it is marked.
    for start in ('role="main"', 'class="body"', '<div class="chapter"', '<div class="section"', "<page"):
        i = src.find(start)
        if i >= 0:
            src = src[i:]
            break
    for end in ('class="sphinxsidebar"', 'class="footer"', 'class="navfooter"', 'id="footer"'):
        i = src.find(end)
        if i >= 0:
            src = src[:i]
    src = re.sub(r"(?is)<(script|style|info|head)\b.*?</\1>", "", src)
    src = re.sub(r"(?s)<!--.*?-->", "", src)
    src = re.sub(rf"(?i)</?({BLOCK_TAGS})\b[^>]*>", "\n", src)
    src = re.sub(r"(?s)<[^>]+>", "", src)
    src = html.unescape(src)
    lines = [l.rstrip() for l in src.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def pod_to_text(src):
    out = []
    for line in src.split("\n"):
        if line.startswith("="):
            cmd, _, rest = line[1:].partition(" ")
            if cmd.startswith(("head", "item")) and rest:
                out.append(rest)
            continue
        out.append(line)
    s = "\n".join(out)
    s = re.sub(r"E<lt>", "<", s)
    s = re.sub(r"E<gt>", ">", s)
    for _ in range(3):
        s = re.sub(r"L<([^<>|]*)\|[^<>]*>", r"\1", s)
        s = re.sub(r"[BICFSLXZE]<([^<>]*)>", r"\1", s)
    return s


def fortune_to_text(src):
    return "\n".join(l for l in src.split("\n") if l.strip() != "%")


def mo_to_text(data):
    try:
        catalog = gettext.GNUTranslations(io.BytesIO(data))._catalog
    except Exception:  # noqa: BLE001  (a damaged or non-UTF-8 catalog is just skipped)
        return None
    strings = [v for k, v in catalog.items() if k != "" and isinstance(v, str) and v.strip()]
    return "\n".join(strings)


# ---- sources --------------------------------------------------------------

def decode(data):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


LICENSE_WORDS = re.compile(r"(?i)copyright|licen[cs]e|spdx|all rights reserved|warranty")
CODE_EXTENSIONS = (".c", ".h", ".cc", ".cpp", ".hpp", ".hh", ".rs", ".go", ".java", ".js", ".mjs", ".ts", ".py",
                   ".pm", ".rb", ".sh", ".el")


def strip_license_header(text):
    """A source file without the comment block at its top when that block is a license notice: each project
    repeats its notice in every file, which in a corpus of a few dozen projects makes the code far more
    repetitive than code from many repositories."""
    lines = text.split("\n")
    i = 1 if lines and lines[0].startswith("#!") else 0
    start = i
    in_block = False
    while i < min(len(lines), 80):
        l = lines[i].strip()
        if in_block:
            in_block = "*/" not in l
        elif l.startswith("/*"):
            in_block = "*/" not in l[2:]
        elif not (l.startswith(("//", "#", ";;", "--")) or l == "" or l.startswith("*")):
            break
        i += 1
    if i > start and LICENSE_WORDS.search("\n".join(lines[start:i])):
        return "\n".join(lines[:start] + lines[i:])
    return text


def convert(name, data):
    """Text of a file by its name: gzip undone, markup stripped; None when it is not UTF-8 text."""
    if name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return None
        name = name[:-3]
    if name.endswith(".mo"):
        return mo_to_text(data)
    if b"\0" in data[:8192]:
        return None
    text = decode(data)
    if text is None:
        return None
    if "/man/" in name and re.search(r"\.\d\w*$", name):
        return roff_to_text(text)
    if name.endswith((".html", ".htm", ".xhtml", ".page")):
        return html_to_text(text)
    if name.endswith((".pod", ".pm.pod")) or "/pod/" in name and name.endswith(".pod"):
        return pod_to_text(text)
    if "/fortunes/" in name:
        return fortune_to_text(text)
    if name.endswith(CODE_EXTENSIONS) or name.startswith(("/usr/bin", "/usr/sbin", "/etc/init.d")):
        return strip_license_header(text)
    return text


class Source:
    """Files of one origin, in a seeded shuffled order, read lazily."""

    def __init__(self, name, files):
        self.name = name
        self.files = files  # list of (name, loader) or a callable returning it
        self.pos = 0
        self.bytes = 0

    def next_text(self):
        if callable(self.files):
            self.files = self.files()
            random.Random(f"{SEED}:{self.name}").shuffle(self.files)
        while self.pos < len(self.files):
            fname, load = self.files[self.pos]
            self.pos += 1
            try:
                data = load()
            except OSError:
                continue
            text = convert(fname, data)
            if text and len(text.strip()) >= 200:
                return fname, text
        return None

    def exhausted(self):
        return not callable(self.files) and self.pos >= len(self.files)


def file_loader(path):
    def load():
        with open(path, "rb") as f:
            return f.read(PER_FILE_LIMIT * 4)
    return load


def expand(pattern):
    """glob, with "DIR/**/NAME" walking DIR without following symbolic links (glob's ** follows them, and some
    trees under /usr link back up)."""
    if "/**/" not in pattern:
        return glob.glob(pattern)
    base, name = pattern.split("/**/", 1)
    out = []
    for top in glob.glob(base):
        for d, _, files in os.walk(top):
            out.extend(os.path.join(d, f) for f in fnmatch.filter(files, name))
    return out


def globbed(*patterns, exclude=None):
    def listing():
        seen = set()
        for p in patterns:
            for f in sorted(expand(p)):
                if f in seen or os.path.islink(f) or not os.path.isfile(f):
                    continue
                if exclude and re.search(exclude, f):
                    continue
                seen.add(f)
        return [(f, file_loader(f)) for f in sorted(seen)]
    return listing


def shell_scripts():
    out = []
    for d in ("/usr/bin", "/usr/sbin", "/usr/lib/git-core", "/etc/init.d"):
        for f in sorted(glob.glob(d + "/*")):
            if os.path.islink(f) or not os.path.isfile(f):
                continue
            try:
                with open(f, "rb") as fh:
                    head = fh.read(64)
            except OSError:
                continue
            if re.match(rb"#! ?/(usr/)?bin/(env )?(ba|da|z|k)?sh\b", head):
                out.append((f, file_loader(f)))
    return out + globbed("/usr/share/bash-completion/completions/*", "/usr/share/**/*.sh", "/usr/lib/**/*.sh")()


def tar_members(path, pattern, one_in):
    """Files of a tarball whose names match, one in `one_in` by a hash of the name (the archive is read once)."""
    def listing():
        out = []
        if not os.path.exists(path):
            return out
        with tarfile.open(path, "r|*") as tar:
            for m in tar:
                if m.isfile() and re.search(pattern, m.name) and zlib.crc32(m.name.encode()) % one_in == 0:
                    data = tar.extractfile(m).read(PER_FILE_LIMIT * 4)
                    out.append((m.name, lambda data=data: data))
        return out
    return listing


def dictionary_slices(path, slice_chars=200_000, max_chars=6_000_000):
    """A dictd dictionary (.dict.dz, gzip) as consecutive slices of its text, markup stripped."""
    def listing():
        if not os.path.exists(path):
            return []
        with gzip.open(path, "rb") as f:
            text = f.read(max_chars * 2).decode("utf-8", "ignore")[:max_chars]
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
        return [(f"{path}#{i}", lambda i=i: text[i:i + slice_chars].encode())
                for i in range(0, len(text), slice_chars)]
    return listing


def zip_members(path, pattern):
    def listing():
        if not os.path.exists(path):
            return []
        z = zipfile.ZipFile(path)
        return [(n, lambda n=n: z.read(n)) for n in sorted(z.namelist()) if re.search(pattern, n)]
    return listing


def language_of(code):
    """A locale or language tag to a group key: the language, with Chinese split by script."""
    code = code.replace("-", "_")
    lang = re.split(r"[_@.]", code)[0].lower()
    if lang == "zh":
        return "zh_Hant" if re.search(r"TW|HK|Hant", code) else "zh_Hans"
    if lang == "sr" and "latin" in code.lower():
        return "sr_Latn"
    return lang


def prose_sources():
    g = globbed
    return {
        "python docs": [Source("python3.11-doc", g("/usr/share/doc/python3.11/html/**/*.html"))],
        "perl docs": [Source("perl-doc", g("/usr/share/perl/*/pod/*.pod", "/usr/share/doc/perl-doc/**/*.pod"))],
        "linux docs": [Source("linux-doc", g("/usr/share/doc/linux-doc-*/Documentation/**/*.gz",
                                             exclude=r"\.(png|svg|dot|jpg)\.gz$"))],
        "debian books": [Source("debian-handbook en", g("/usr/share/doc/debian-handbook/html/en-US/*.html")),
                         Source("debian-reference en", g("/usr/share/doc/debian-reference-en/docs/*.en.html")),
                         Source("debian faq, history", g("/usr/share/doc/debian/FAQ/*.en.html",
                                                         "/usr/share/doc/debian-history/docs/*.en.html",
                                                         "/usr/share/doc/debian/*.txt*",
                                                         exclude=r"\.\d\.\d\.txt"))],
        # Google Cloud SDK's 16,000 generated gcloud pages would be most of the man pages on a machine that has it.
        "man pages": [Source("man pages (en)", g("/usr/share/man/man[1-9]/*.gz", exclude=r"/(gcloud|gsutil|bq)[_.-]"))],
        "info manuals": [Source("info", g("/usr/share/info/*.info*.gz", "/usr/share/info/*.info",
                                          exclude=r"/python3"))],
        "gnome help": [Source("gnome-user-docs C", g("/usr/share/help/C/**/*.page"))],
        "package docs": [Source("READMEs, NEWS", g("/usr/share/doc/*/README*", "/usr/share/doc/*/NEWS*",
                                                   "/usr/share/doc/*/*.txt", "/usr/share/doc/*/*.txt.gz",
                                                   "/usr/share/doc/*/*.md", "/usr/share/doc/*/*.md.gz",
                                                   exclude=r"changelog|copyright")),
                         Source("licenses", g("/usr/share/common-licenses/*"))],
        "fortunes": [Source("fortunes en", g("/usr/share/games/fortunes/*", exclude=r"\.(dat|u8)$"))],
        "dictionaries": [Source(f"{d} dictionary", dictionary_slices(f"/usr/share/dictd/{d}.dict.dz"))
                         for d in ("gcide", "foldoc", "jargon", "devil")],
    }


def code_sources():
    g = globbed
    include = "/usr/include/**/"
    return {
        "C": [Source("linux kernel", tar_members("/usr/src/linux-source-6.1.tar.xz", r"\.[ch]$", 48)),
              Source("/usr/include C headers",
                     g(include + "*.h", exclude=r"/(boost|c\+\+|absl|oneapi|tbb|gtest|gmock)/")),
              Source("python C headers, go runtime C", g("/usr/include/python3*/**/*.h",
                                                          "/usr/share/go-*/src/runtime/**/*.c"))],
        # Boost's preprocessed and preprocessor-iteration headers are generated repetition, not code anyone wrote.
        "C++": [Source("boost", g("/usr/include/boost/**/*.hpp", exclude=r"/preprocessed/|/preprocessor/")),
                Source("libstdc++", g("/usr/include/c++/*/**/*", exclude=r"\.gch")),
                Source("abseil, oneTBB", g("/usr/include/absl/**/*.h", "/usr/include/oneapi/**/*.h",
                                           "/usr/include/tbb/**/*.h")),
                Source("googletest", g("/usr/src/googletest/**/*.cc", "/usr/src/googletest/**/*.h",
                                       "/usr/include/gtest/**/*.h", "/usr/include/gmock/**/*.h"))],
        "Python": [Source("python stdlib", g("/usr/lib/python3.11/**/*.py")),
                   Source("dist-packages", g("/usr/lib/python3/dist-packages/**/*.py"))],
        "Rust": [Source("rust library", g("/usr/src/rustc-*/library/**/*.rs"))],
        "Go": [Source("go stdlib", g("/usr/share/go-*/src/**/*.go"))],
        "Java": [Source("openjdk 17", zip_members("/usr/lib/jvm/java-17-openjdk-amd64/lib/src.zip", r"\.java$"))],
        "JavaScript": [Source("npm and its dependencies", g("/usr/lib/node_modules/**/*.js",
                                                            exclude=r"\.min\.js$")),
                       Source("typescript", g("/usr/share/nodejs/typescript/lib/typescript.js")),
                       Source("nodejs packages", g("/usr/share/nodejs/**/*.js", "/usr/share/nodejs/**/*.mjs",
                                                   exclude=r"\.min\.js$|/typescript/")),
                       Source("javascript libraries", g("/usr/share/javascript/**/*.js", exclude=r"\.min\.js$"))],
        "shell": [Source("shell scripts", shell_scripts)],
        "Perl": [Source("perl modules", g("/usr/share/perl/*/**/*.pm", "/usr/share/perl5/**/*.pm",
                                          "/usr/lib/x86_64-linux-gnu/perl*/**/*.pm"))],
        "Ruby": [Source("ruby stdlib", g("/usr/lib/ruby/*/**/*.rb", "/usr/lib/ruby/gems/**/*.rb"))],
        "Emacs Lisp": [Source("emacs lisp",
                              g("/usr/share/emacs/*/lisp/**/*.el.gz", "/usr/share/emacs/*/lisp/**/*.el"))],
    }


def multi_sources():
    """Group -> sources, one group per language (English left out)."""
    groups = {}

    def add(code, name, files):
        lang = language_of(code)
        if lang in ("en", "c", "posix", ""):
            return
        groups.setdefault(lang, []).append(Source(f"{name} {lang}", files))

    for d in sorted(glob.glob("/usr/share/man/*/")):
        code = os.path.basename(d.rstrip("/"))
        if not code.startswith("man"):
            add(code, "man pages", globbed(d + "man*/*.gz"))
    for d in sorted(glob.glob("/usr/share/doc/debian-reference-*/docs/")):
        for code in sorted({f.split(".")[-2] for f in glob.glob(d + "*.*.html")}):
            add(code, "debian-reference", globbed(d + f"*.{code}.html"))
    for d in sorted(glob.glob("/usr/share/doc/debian-handbook/html/*/")):
        add(os.path.basename(d.rstrip("/")), "debian-handbook", globbed(d + "*.html"))
    for d in sorted(glob.glob("/usr/share/help/*/")):
        add(os.path.basename(d.rstrip("/")), "gnome help", globbed(d + "**/*.page"))
    for d in sorted(glob.glob("/usr/share/games/fortunes/*/")):
        add(os.path.basename(d.rstrip("/")), "fortunes", globbed(d + "*", exclude=r"\.(dat|u8)$"))
    for f in ("chinese", "tang300", "song100"):  # fortunes-zh installs its files at the top level
        if os.path.exists(f"/usr/share/games/fortunes/{f}"):
            add("zh_CN", f"fortunes-{f}", globbed(f"/usr/share/games/fortunes/{f}"))
    for f in sorted(glob.glob("/usr/share/emacs/*/etc/tutorials/TUTORIAL.*")):
        code = {"cn": "zh_CN", "zh": "zh_TW", "translators": "en"}.get(f.rsplit(".", 1)[1], f.rsplit(".", 1)[1])
        add(code, "emacs tutorial", globbed(f))
    # Gettext catalogs (short UI strings) only in languages that have running text too, and as one source of several.
    for d in sorted(glob.glob("/usr/share/locale/*/LC_MESSAGES/")):
        if language_of(d.split("/")[4]) in groups:
            add(d.split("/")[4], "gettext catalogs", globbed(d + "*.mo"))
    return groups


PARTS = {"prose": prose_sources, "code": code_sources, "multi": multi_sources}


# ---- documents -------------------------------------------------------------

def cut_documents(text, rng):
    """Consecutive, non-overlapping documents of varied length, cut at line ends."""
    if len(text) > PER_FILE_LIMIT:
        start = text.rfind("\n", 0, rng.randint(0, len(text) - PER_FILE_LIMIT)) + 1
        text = text[start:start + PER_FILE_LIMIT]
    docs = []
    pos = 0
    while pos < len(text):
        n = int(min(40_000, max(300, rng.lognormvariate(8.0, 1.0))))  # median ~3 KB, like web pages
        end = text.find("\n", pos + n)
        end = len(text) if end < 0 or len(text) - end < 200 else end + 1
        doc = text[pos:end].strip("\n")
        if doc.strip():
            docs.append(doc)
        pos = end
    return docs


def build_part(part, target, rng, ascii_fraction, used):
    """JSONL lines of one part, about `target` bytes, shuffled."""
    groups = {k: v for k, v in PARTS[part]().items() if v}
    lines, total, files = [], 0, 0
    group_bytes = {k: 0 for k in groups}
    while total < target and groups:
        gname = min(groups, key=lambda k: (group_bytes[k], k))
        sources = groups[gname]
        src = min(sources, key=lambda s: (s.bytes, s.name))
        got = src.next_text()
        if got is None:
            sources.remove(src)
            if not sources:
                del groups[gname]
            continue
        fname, text = got
        digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()
        if digest in used:
            continue
        used.add(digest)
        files += 1
        for doc in cut_documents(text, rng):
            escaped = rng.random() < ascii_fraction
            line = json.dumps({"text": doc, "meta": {"source": part, "set": src.name}}, ensure_ascii=escaped) + "\n"
            b = len(line.encode("utf-8", "surrogatepass"))
            src.bytes += b
            group_bytes[gname] += b
            total += b
            lines.append(line)
    if total < target:
        log(f"{part}: only {total / 1e6:.1f} MB of text found for {target / 1e6:.1f} MB (install more: "
            f"bench/setup_bench_corpus.sh)")
    rng.shuffle(lines)
    shares = sorted(group_bytes.items(), key=lambda kv: -kv[1])
    log(f"{part}: {total / 1e6:.1f} MB from {files} files in {len(group_bytes)} groups: "
        + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in shares[:40]) + (" ..." if len(shares) > 40 else ""))
    return lines


# ---- statistics ------------------------------------------------------------

def zstd_ratio(path, long=False):
    cmd = ["zstd", "-19", "-T2", "-c", "-q"] + (["--long=27"] if long else []) + [path]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    n = 0
    while True:
        chunk = p.stdout.read(1 << 20)
        if not chunk:
            break
        n += len(chunk)
    if p.wait() != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed")
    return os.path.getsize(path) / max(1, n)


def pretoken_stats(path, build):
    binary = os.path.join(build, "bin", "stage_bench")
    if not os.path.exists(binary):
        return None
    out = subprocess.run([binary, path, "--pretoken-stats"], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def corpus_stats(path, build=os.path.join(ROOT, "build"), long=False):
    """{mb, documents, zstd19, [zstd19_long], distinct_per_mb}; cached in PATH.stats.json by size and mtime."""
    cache = path + ".stats.json"
    key = [os.path.getsize(path), int(os.path.getmtime(path))]
    if os.path.exists(cache):
        with open(cache) as f:
            s = json.load(f)
        if s.get("key") == key and (not long or "zstd19_long" in s):
            return s
    s = {"key": key, "mb": os.path.getsize(path) / 1e6, "zstd19": zstd_ratio(path)}
    if long:
        s["zstd19_long"] = zstd_ratio(path, long=True)
    p = pretoken_stats(path, build)
    s["documents"] = p["documents"] if p else sum(1 for _ in open(path, "rb"))
    s["distinct_per_mb"] = p["distinct_per_mb"] if p else None
    with open(cache, "w") as f:
        json.dump(s, f)
    return s


def describe(s):
    """One line for bench table headers."""
    long = f", {s['zstd19_long']:.2f}x with --long=27" if "zstd19_long" in s else ""
    distinct = f"{s['distinct_per_mb']:,.0f}" if s.get("distinct_per_mb") else "n/a (build stage_bench)"
    return (f"{s['mb']:.1f} MB JSONL, {s['documents']:,} documents, zstd -19 ratio {s['zstd19']:.2f}x{long}, "
            f"{distinct} distinct GPT-2 pre-tokens per MB")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("megabytes", nargs="?", type=float, default=200)
    ap.add_argument("mix", nargs="?", default="prose:0.5,code:0.3,multi:0.2")
    ap.add_argument("--ascii-fraction", type=float, default=0.8,
                    help="share of documents written with \\uXXXX escapes (json.dumps' default), as in SlimPajama")
    ap.add_argument("--no-stats", action="store_true", help="skip the compression and pre-token figures")
    ap.add_argument("--long", action="store_true", help="also give zstd -19 --long=27 ratios")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="where bin/stage_bench is")
    a = ap.parse_args()
    target = int(a.megabytes * 1e6)
    mix = []
    for part in a.mix.split(","):
        k, v = part.split(":")
        k = {"multilingual": "multi"}.get(k, k)
        if k not in PARTS:
            sys.exit(f"make_bench_corpus: unknown part '{k}' (parts: {', '.join(PARTS)})")
        if float(v) > 0:
            mix.append((k, float(v)))
    mix = [(k, w / sum(w for _, w in mix)) for k, w in mix]
    rng = random.Random(SEED)
    used = set()
    parts = {k: build_part(k, int(target * w), rng, a.ascii_fraction, used) for k, w in mix}

    # Interleave: keep each part at its share of the bytes written so far.
    written = {k: 0 for k, _ in mix}
    index = {k: 0 for k, _ in mix}
    total = 0
    with open(a.out, "w", encoding="utf-8", errors="surrogatepass") as f:
        while True:
            open_parts = [(k, w) for k, w in mix if index[k] < len(parts[k])]
            if not open_parts:
                break
            k = min(open_parts, key=lambda kw: written[kw[0]] - kw[1] * total)[0]
            line = parts[k][index[k]]
            index[k] += 1
            f.write(line)
            b = len(line.encode("utf-8", "surrogatepass"))
            written[k] += b
            total += b
    log(f"{total / 1e6:.1f} MB -> {a.out} (" + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in written.items())
        + f"; {100 * a.ascii_fraction:.0f}% of documents with \\u escapes)")
    if a.no_stats:
        return
    rows = []
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(a.out))) as tmp:
        if len(mix) > 1:
            for k, _ in mix:
                p = os.path.join(tmp, f"{k}.jsonl")
                with open(p, "w", encoding="utf-8", errors="surrogatepass") as f:
                    f.writelines(parts[k])
                rows.append((k, corpus_stats(p, a.build, a.long)))
                os.remove(p + ".stats.json")
    rows.append(("all", corpus_stats(a.out, a.build, a.long)))
    long_col = " | zstd -19 --long=27" if a.long else ""
    print(f"| part | MB | documents | zstd -19 -T2 ratio{long_col} | distinct GPT-2 pre-tokens per MB |",
          file=sys.stderr)
    print("|---|---:|---:|---:|" + ("---:|" if a.long else "") + "---:|", file=sys.stderr)
    for k, s in rows:
        long = f" | {s['zstd19_long']:.2f}x" if a.long else ""
        distinct = f"{s['distinct_per_mb']:,.0f}" if s.get("distinct_per_mb") else "n/a (build stage_bench)"
        print(f"| {k} | {s['mb']:.1f} | {s['documents']:,} | {s['zstd19']:.2f}x{long} | {distinct} |", file=sys.stderr)


if __name__ == "__main__":
    main()
