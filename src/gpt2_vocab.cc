// GPT-2's vocabulary files: vocab.json ({"unicode-ized token": id}) and
// merges.txt ("#version" line, then "A B" per line, rank = line order), in
// GPT-2's bytes_to_unicode spelling, parsed into a BpeVocabulary and built.
#include <absl/container/flat_hash_map.h>
#include <simdjson.h>

#include <algorithm>

#include "json_file.h"
#include "sp/bpe.h"
#include "sp/error.h"
#include "sp/io.h"
#include "sp/unicode.h"

namespace sp {

namespace {

// Inverse of gpt2_byte_to_codepoint over the 324 code points it uses; -1 for
// code points that stand for no byte.
struct UnicodeToByte {
  int16_t byte_of[324];
  UnicodeToByte() {
    std::fill(std::begin(byte_of), std::end(byte_of), int16_t{-1});
    for (int b = 0; b < 256; ++b) byte_of[gpt2_byte_to_codepoint(static_cast<uint8_t>(b))] = int16_t(b);
  }
};

}  // namespace

char32_t gpt2_byte_to_codepoint(uint8_t b) {
  // Printable bytes: '!'..'~', U+00A1..U+00AC, U+00AE..U+00FF keep their value;
  // the rest (controls, space, DEL, U+0080..U+00A0, soft hyphen) are numbered
  // from U+0100 in byte order.
  auto printable = [](int x) { return (x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE; };
  if (printable(b)) return b;
  char32_t n = 0;
  for (int x = 0; x < b; ++x) n += !printable(x);
  return 0x100 + n;
}

bool gpt2_unicode_to_bytes(std::string_view s, std::string& out) {
  static const UnicodeToByte table;
  out.clear();
  for (size_t i = 0; i < s.size();) {
    const size_t len = utf8_sequence_length(s, i);
    if (len == 0 || len > 2) return false;  // every bytes_to_unicode code point is < U+0800
    size_t decoded;
    const char32_t cp = decode_utf8(s.data() + i, &decoded);
    i += len;
    if (cp >= 324 || table.byte_of[cp] < 0) return false;
    out.push_back(static_cast<char>(table.byte_of[cp]));
  }
  return true;
}

BpeModel BpeModel::load_gpt2(const std::string& vocab_json_path, const std::string& merges_txt_path) {
  BpeVocabulary v;
  // Token bytes -> id, for the merges: views into one blob that is reserved
  // up front (never more bytes than the JSON), so no view moves.
  std::string blob;
  absl::flat_hash_map<std::string_view, uint32_t> id_of;
  {
    const std::string& path = vocab_json_path;
    const JsonFile json(path);
    simdjson::dom::parser parser;
    simdjson::dom::object obj;
    if (auto err = json.parse(parser).get_object().get(obj))
      throw InputError(path, 0, std::string("not a JSON object of token -> id: ") + simdjson::error_message(err));
    constexpr int64_t kMaxTokens = (int64_t{1} << 21) - 2;
    struct Entry {
      uint32_t offset = 0, length = UINT32_MAX;  // UINT32_MAX: id not seen
    };
    std::vector<Entry> entries;
    entries.reserve(obj.size());
    blob.reserve(json.text().size());
    std::string bytes;
    int64_t eod = -1;
    id_of.reserve(obj.size());
    for (auto field : obj) {
      int64_t id;
      if (field.value.get_int64().get(id) || id < 0)
        throw InputError(path, 0, "token " + std::string(field.key) + " has no valid integer id");
      if (id >= kMaxTokens)
        throw InputError(path, 0, "token " + std::string(field.key) + " has id " + std::to_string(id) +
                                      ": more than " + std::to_string(kMaxTokens) + " tokens are not supported");
      const auto uid = static_cast<size_t>(id);
      if (uid >= entries.size()) entries.resize(uid + 1);
      if (entries[uid].length != UINT32_MAX) throw InputError(path, 0, "id " + std::to_string(id) + " used twice");
      if (field.key == "<|endoftext|>") {  // GPT-2's one special token: never made from text
        bytes = "<|endoftext|>";
        eod = id;
      } else if (!gpt2_unicode_to_bytes(field.key, bytes)) {
        throw InputError(path, 0, "token " + std::string(field.key) + " is not GPT-2 byte-level text");
      }
      entries[uid] = {static_cast<uint32_t>(blob.size()), static_cast<uint32_t>(bytes.size())};
      blob += bytes;
      const std::string_view stored = std::string_view(blob).substr(entries[uid].offset, bytes.size());
      if (id != eod && !id_of.emplace(stored, static_cast<uint32_t>(uid)).second)
        throw InputError(path, 0, "token " + std::string(field.key) + " appears twice");
    }
    for (size_t id = 0; id < entries.size(); ++id)
      if (entries[id].length == UINT32_MAX)
        throw InputError(path, 0, "ids are not contiguous: id " + std::to_string(id) + " is missing");
    if (eod < 0) throw InputError(path, 0, "no \"<|endoftext|>\" token");
    v.specials.push_back(static_cast<uint32_t>(eod));
    v.tokens.reserve(entries.size());
    for (const Entry& e : entries) v.tokens.emplace_back(blob, e.offset, e.length);
  }
  {
    const std::string& path = merges_txt_path;
    const std::string file = read_file(path);
    const std::string_view text(file);
    std::string left, right, joined;
    uint64_t line_no = 0;
    uint32_t rank = 0;
    absl::flat_hash_map<uint64_t, uint64_t> line_of;  // (left, right) -> line, for duplicates
    for (size_t pos = 0; pos < text.size();) {
      size_t eol = text.find('\n', pos);
      if (eol == std::string::npos) eol = text.size();
      std::string_view line(text.data() + pos, eol - pos);
      pos = eol + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty() || (line_no == 1 && line.starts_with("#"))) continue;
      const size_t space = line.find(' ');
      if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos)
        throw InputError(path, line_no, "expected two tokens separated by one space");
      const std::string_view a = line.substr(0, space), b = line.substr(space + 1);
      if (!gpt2_unicode_to_bytes(a, left) || !gpt2_unicode_to_bytes(b, right) || left.empty() || right.empty())
        throw InputError(path, line_no, "not GPT-2 byte-level text");
      const auto l = id_of.find(left), r = id_of.find(right);
      if (l == id_of.end() || r == id_of.end())
        throw InputError(path, line_no, "merge of unknown token " + std::string(l == id_of.end() ? a : b));
      joined.assign(left).append(right);
      if (!id_of.contains(joined))
        throw InputError(path, line_no,
                         "merge result " + std::string(a) + std::string(b) + " is not in the vocabulary");
      const uint64_t pair = uint64_t{l->second} << 32 | r->second;
      if (auto [it, fresh] = line_of.emplace(pair, line_no); !fresh)
        throw InputError(path, line_no,
                         "duplicate merge " + std::string(line) + " (first on line " +
                             std::to_string(it->second) + ")");
      v.merges.push_back({l->second, r->second, rank++});
    }
    if (v.merges.empty()) throw InputError(path, 0, "no merges");
  }
  return build(std::move(v), vocab_json_path);
}

}  // namespace sp
