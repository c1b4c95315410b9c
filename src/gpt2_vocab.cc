// GPT-2's vocabulary files: vocab.json ({"unicode-ized token": id}) and
// merges.txt ("#version" line, then "A B" per line, rank = line order), in
// GPT-2's bytes_to_unicode spelling, parsed into a BpeVocabulary and built.
#include <absl/container/flat_hash_map.h>
#include <simdjson.h>

#include <algorithm>

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
  absl::flat_hash_map<std::string, uint32_t> id_of;  // token bytes -> id, for the merges
  {
    const std::string& path = vocab_json_path;
    const simdjson::padded_string json(read_file(path));
    simdjson::dom::parser parser;
    simdjson::dom::object obj;
    if (auto err = parser.parse(json).get_object().get(obj))
      throw InputError(path, 0, std::string("not a JSON object of token -> id: ") + simdjson::error_message(err));
    constexpr int64_t kMaxTokens = (int64_t{1} << 21) - 2;
    std::vector<bool> seen;
    std::string bytes;
    bool has_eod = false;
    id_of.reserve(obj.size());
    for (auto field : obj) {
      int64_t id;
      if (field.value.get_int64().get(id) || id < 0)
        throw InputError(path, 0, "token " + std::string(field.key) + " has no valid integer id");
      if (id >= kMaxTokens)
        throw InputError(path, 0, "token " + std::string(field.key) + " has id " + std::to_string(id) +
                                      ": more than " + std::to_string(kMaxTokens) + " tokens are not supported");
      const auto uid = static_cast<size_t>(id);
      if (uid >= v.tokens.size()) v.tokens.resize(uid + 1), seen.resize(uid + 1);
      if (seen[uid]) throw InputError(path, 0, "id " + std::to_string(id) + " used twice");
      seen[uid] = true;
      if (field.key == "<|endoftext|>") {  // GPT-2's one special token: never made from text
        v.tokens[uid] = "<|endoftext|>";
        v.specials.push_back(static_cast<uint32_t>(uid));
        has_eod = true;
        continue;
      }
      if (!gpt2_unicode_to_bytes(field.key, bytes))
        throw InputError(path, 0, "token " + std::string(field.key) + " is not GPT-2 byte-level text");
      if (!id_of.emplace(bytes, static_cast<uint32_t>(uid)).second)
        throw InputError(path, 0, "token " + std::string(field.key) + " appears twice");
      v.tokens[uid] = bytes;
    }
    for (size_t id = 0; id < seen.size(); ++id)
      if (!seen[id]) throw InputError(path, 0, "ids are not contiguous: id " + std::to_string(id) + " is missing");
    if (!has_eod) throw InputError(path, 0, "no \"<|endoftext|>\" token");
  }
  {
    const std::string& path = merges_txt_path;
    const std::string file = read_file(path);
    const std::string_view text(file);
    std::string left, right;
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
      if (!id_of.contains(left + right))
        throw InputError(path, line_no,
                         "merge result " + std::string(a) + std::string(b) + " is not in the vocabulary");
      const uint64_t pair = uint64_t{l->second} << 32 | r->second;
      if (auto [it, fresh] = line_of.emplace(pair, line_no); !fresh)
        throw InputError(path, line_no,
                         "duplicate merge " + std::string(line) + " (first on line " + std::to_string(it->second) + ")");
      v.merges.push_back({l->second, r->second, rank++});
    }
    if (v.merges.empty()) throw InputError(path, 0, "no merges");
  }
  return build(std::move(v), vocab_json_path);
}

}  // namespace sp
