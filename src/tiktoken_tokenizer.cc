// TikTokenizer: byte-level BPE from tiktoken ranks, in either of two files:
//   - OpenAI's .tiktoken ("base64(token bytes) rank" per line), e.g.
//     cl100k_base.tiktoken: ids are the ranks, tiktoken's encode_ordinary;
//   - Megatron-LM's tiktoken JSON, a list of {"rank", "token_bytes" (base64),
//     "token_str"}: read as Megatron-LM's main branch does
//     (megatron/core/tokenizers/text/libraries/tiktoken_tokenizer.py,
//     TikTokenTokenizer and reload_mergeable_ranks): ids 0..S-1 are special
//     tokens (<unk> <s> </s> <mask> <pad> <cls> <sep>, then <SPECIAL_7>...,
//     S = --tiktoken-num-special-tokens, default 1000), the ranks follow
//     shifted by S, the list is cut to its first V - S entries (V =
//     --vocab-size, default 2^17) and must have that many, vocab_size is V,
//     eod is </s> (2), the split regex is "v2" unless --tiktoken-pattern says
//     otherwise, and special tokens written in the text are those tokens
//     (tiktoken's encode(text, allowed_special="all")).
// tiktoken's rule - merge the adjacent pair whose concatenation has the
// lowest rank, leftmost on ties; a whole piece that is a token is that token -
// is BpeModel's with one merge {A, B, rank of A+B} per way of splitting each
// token into two tokens, and ignore_merges. Decoding is tiktoken's: a rank's
// bytes, a special token's text, an error for an id that is neither.
#include <simdjson.h>

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <future>
#include <array>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "json_file.h"
#include "regex_split.h"
#include "sp/bpe.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/io.h"
#include "sp/pretokenizer.h"
#include "sp/sha256.h"
#include "tokenizer_families.h"

namespace sp {

namespace {

constexpr uint32_t kMegatronDefaultSpecialTokens = 1000;
constexpr uint64_t kMegatronDefaultVocabSize = uint64_t{1} << 17;
// Megatron's SPECIAL_TOKENS, in id order; then "<SPECIAL_{id}>" up to S.
constexpr std::array<std::string_view, 7> kMegatronSpecials = {"<unk>", "<s>", "</s>", "<mask>",
                                                               "<pad>", "<cls>", "<sep>"};
constexpr uint32_t kMegatronEos = 2;  // "</s>": Megatron's eod

// OpenAI's encodings, told apart by their number of ranks: the split regex
// each was trained with, the id of <|endoftext|> and tiktoken's n_vocab
// (special tokens included).
struct KnownEncoding {
  const char* name;
  size_t ranks;
  uint32_t endoftext, n_vocab;
};
constexpr KnownEncoding kKnownEncodings[] = {{"r50k_base", 50256, 50256, 50257},
                                             {"p50k_base", 50280, 50256, 50281},
                                             {"cl100k_base", 100256, 100257, 100277},
                                             {"o200k_base", 199998, 199999, 200019}};
// The special tokens of those encodings besides <|endoftext|> (tiktoken's
// openai_public.py): never made from text here, but tiktoken decodes them.
struct ExtraSpecial {
  const char* encoding;
  uint32_t id;
  const char* text;
};
constexpr ExtraSpecial kExtraSpecials[] = {{"cl100k_base", 100258, "<|fim_prefix|>"},
                                           {"cl100k_base", 100259, "<|fim_middle|>"},
                                           {"cl100k_base", 100260, "<|fim_suffix|>"},
                                           {"cl100k_base", 100276, "<|endofprompt|>"},
                                           {"o200k_base", 200018, "<|endofprompt|>"}};

// Strict standard base64 with padding, as Python's b64decode accepts it
// (except that it would skip stray characters, which we refuse).
bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  if (in.empty() || in.size() % 4 != 0) return false;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int v[4];
    size_t pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      if (in[i + k] == '=' && last && k >= 2) {
        v[k] = 0;
        ++pad;
      } else if (pad > 0 || (v[k] = value(in[i + k])) < 0) {
        return false;
      }
    }
    const uint32_t n = (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return !out.empty();
}

struct Ranks {
  std::vector<std::string> tokens;  // by rank; ranks never given stay empty
  std::vector<bool> given;
  std::vector<uint64_t> line;  // where each rank was given (1-based; JSON: its entry + 1)
  size_t count = 0;
};

void set_rank(Ranks& r, std::string bytes, uint64_t rank, const std::string& path, uint64_t line) {
  if (rank >= (uint64_t{1} << 21)) throw InputError(path, line, "rank " + std::to_string(rank) + " is too large");
  if (rank >= r.tokens.size()) {  // ranks come mostly in order: grow by half, trim_ranks cuts the excess
    size_t size = std::max<size_t>(rank + 1, r.tokens.size() + r.tokens.size() / 2);
    if (rank < r.tokens.capacity()) size = std::min(size, r.tokens.capacity());  // reserved: no move
    r.tokens.resize(size);
    r.given.resize(size, false);
    r.line.resize(size, 0);
  }
  if (r.given[rank]) throw InputError(path, line, "rank " + std::to_string(rank) + " given twice");
  r.tokens[rank] = std::move(bytes);
  r.given[rank] = true;
  r.line[rank] = line;
  ++r.count;
}

// Cuts the vectors to one past the highest rank given.
void trim_ranks(Ranks& r) {
  size_t end = r.given.size();
  while (end > 0 && !r.given[end - 1]) --end;
  r.tokens.resize(end), r.given.resize(end), r.line.resize(end);
}

// OpenAI's format: "base64 rank" per line, blank lines skipped.
Ranks read_tiktoken_file(const std::string& path, std::string_view text) {
  Ranks r;
  // Room for a rank per line up front: growing by half moved every string
  // so far each time (o200k_base: 200,000 strings, ~19 MB of fresh memory).
  const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  r.tokens.reserve(lines), r.given.reserve(lines), r.line.reserve(lines);
  std::string bytes;
  uint64_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos)
      throw InputError(path, line_no, "expected 'base64 rank'");
    if (!base64_decode(line.substr(0, space), bytes))
      throw InputError(path, line_no, "the token is not base64 ('" + std::string(line.substr(0, space)) + "')");
    const std::string_view rank_text = line.substr(space + 1);
    uint64_t rank = 0;
    if (rank_text.empty() || rank_text.size() > 9 ||
        !std::all_of(rank_text.begin(), rank_text.end(), [](char c) { return c >= '0' && c <= '9'; }))
      throw InputError(path, line_no, "the rank is not a number ('" + std::string(rank_text) + "')");
    for (char c : rank_text) rank = rank * 10 + static_cast<uint64_t>(c - '0');
    set_rank(r, bytes, rank, path, line_no);
  }
  if (r.count == 0) throw InputError(path, 0, "no tokens");
  trim_ranks(r);
  return r;
}

// Megatron's format, with reload_mergeable_ranks' checks on the first
// max_tokens entries (the ones it keeps).
Ranks read_megatron_json(const std::string& path, const JsonFile& file, uint64_t max_tokens) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = file.parse(parser).get(root))
    throw InputError(path, 0, std::string("not JSON: ") + simdjson::error_message(error));
  simdjson::dom::array list;
  if (root.get_array().get(list))
    throw InputError(path, 0, "Megatron's tiktoken JSON is a list of {\"rank\", \"token_bytes\", \"token_str\"}");
  Ranks r;
  const size_t entries = std::min<size_t>(list.size(), max_tokens);  // room up front, as read_tiktoken_file
  r.tokens.reserve(entries), r.given.reserve(entries), r.line.reserve(entries);
  std::string bytes;
  uint64_t i = 0;
  for (simdjson::dom::element entry : list) {
    if (i == max_tokens) break;
    const std::string where = "entry " + std::to_string(i) + ": ";
    simdjson::dom::object object;
    if (entry.get_object().get(object)) throw InputError(path, 0, where + "not an object");
    size_t keys = 0;
    int64_t rank = -1;
    std::string_view b64;
    bool has_str = false;
    for (auto field : object) {
      ++keys;
      if (field.key == "rank") {
        if (field.value.get_int64().get(rank)) throw InputError(path, 0, where + "\"rank\" is not an integer");
      } else if (field.key == "token_bytes") {
        if (field.value.get_string().get(b64)) throw InputError(path, 0, where + "\"token_bytes\" is not a string");
      } else if (field.key == "token_str") {
        has_str = true;
      } else {
        throw InputError(path, 0, where + "unexpected key \"" + std::string(field.key) + "\"");
      }
    }
    if (keys != 3 || rank < 0 || b64.data() == nullptr || !has_str)
      throw InputError(path, 0, where + "expected exactly the keys rank, token_bytes, token_str");
    if (static_cast<uint64_t>(rank) != i)
      throw InputError(path, 0, where + "rank " + std::to_string(rank) + " is not its position in the list");
    if (!base64_decode(b64, bytes)) throw InputError(path, 0, where + "\"token_bytes\" is not base64");
    if (i < 256 && bytes != std::string(1, static_cast<char>(i)))
      throw InputError(path, 0, where + "the first 256 tokens must be the bytes 0..255 in order");
    set_rank(r, bytes, i, path, i + 1);
    ++i;
  }
  trim_ranks(r);
  return r;
}

// The split rule: a scanner (by encoding name, Megatron's v1/v2, or a regex
// it recognizes) or else PCRE2.
struct Split {
  std::string spelling;  // as given (or implied), for the identity
  std::optional<PretokenPattern> pattern;
  std::shared_ptr<const RegexSplitter> regex;
};

Split choose_split(const std::string& given, const std::string& implied) {
  Split s;
  s.spelling = given.empty() ? implied : given;
  if ((s.pattern = pretoken_pattern_by_name(s.spelling))) return s;
  if ((s.pattern = pretoken_pattern_for_regex(s.spelling))) return s;
  try {
    s.regex = std::make_shared<const RegexSplitter>(s.spelling);
  } catch (const Error& e) {
    throw UsageError("--tiktoken-pattern: not v1, v2, an encoding name (gpt2, r50k_base, p50k_base, cl100k_base, "
                     "o200k_base) or a usable regex: " + std::string(e.what()));
  }
  return s;
}

// Special tokens written in the text (Megatron's format): the named ones and
// "<SPECIAL_k>" for 7 <= k < count. Returns the id and length of the special
// token at text[pos] ('<'), or nullopt.
std::optional<std::pair<uint32_t, size_t>> special_at(std::string_view text, size_t pos, uint32_t count) {
  const std::string_view rest = text.substr(pos);
  for (uint32_t id = 0; id < kMegatronSpecials.size() && id < count; ++id)
    if (rest.starts_with(kMegatronSpecials[id])) return std::pair{id, kMegatronSpecials[id].size()};
  constexpr std::string_view kPrefix = "<SPECIAL_";
  if (!rest.starts_with(kPrefix)) return std::nullopt;
  size_t i = kPrefix.size();
  uint64_t k = 0;
  const size_t digits_begin = i;
  while (i < rest.size() && i - digits_begin < 10 && rest[i] >= '0' && rest[i] <= '9') k = k * 10 + (rest[i++] - '0');
  const size_t digits = i - digits_begin;
  if (digits == 0 || i >= rest.size() || rest[i] != '>') return std::nullopt;
  if (digits > 1 && rest[digits_begin] == '0') return std::nullopt;  // "{id}" has no leading zeros
  if (k < kMegatronSpecials.size() || k >= count) return std::nullopt;
  return std::pair{static_cast<uint32_t>(k), i + 1};
}

// One worker's encoder: splits off special tokens (when there are any), then
// pre-tokenizes and runs BPE on the text between them.
class Encoder {
 public:
  Encoder(std::shared_ptr<const BpeModel> model, Split split, uint32_t specials)
      : model_(std::move(model)), split_(std::move(split)), specials_(specials) {}

  std::span<const uint32_t> operator()(std::string_view text) {
    if (specials_ == 0) return ordinary(text);
    size_t at = next_special(text, 0);
    if (at == std::string_view::npos) return ordinary(text);
    out_.clear();
    size_t pos = 0;
    while (true) {
      const auto span = ordinary(text.substr(pos, at - pos));
      out_.insert(out_.end(), span.begin(), span.end());
      if (at == text.size()) break;
      const auto [id, length] = *special_at(text, at, specials_);
      out_.push_back(id);
      pos = at + length;
      at = next_special(text, pos);
      if (at == std::string_view::npos) at = text.size();
    }
    return out_;
  }

 private:
  size_t next_special(std::string_view text, size_t pos) const {
    while ((pos = text.find('<', pos)) != std::string_view::npos) {
      if (special_at(text, pos, specials_)) return pos;
      ++pos;
    }
    return std::string_view::npos;
  }

  std::span<const uint32_t> ordinary(std::string_view text) {
    if (text.empty()) return {};
    if (split_.regex) {
      split_.regex->find_matches(text, matches_);
      pieces_.clear();
      // tiktoken encodes the matches only: text between them is dropped.
      for (const auto& [b, e] : matches_)
        if (e > b) pieces_.push_back(text.substr(b, e - b));
      return model_->encode_pieces(pieces_, cache_);
    }
    return model_->encode_span(text, *split_.pattern, cache_);
  }

  std::shared_ptr<const BpeModel> model_;
  Split split_;
  uint32_t specials_;
  BpeCache cache_;
  std::vector<uint32_t> out_;
  std::vector<std::pair<size_t, size_t>> matches_;
  std::vector<std::string_view> pieces_;
};

}  // namespace

TextTokenizer load_tiktoken_tokenizer(const TokenizerOptions& options) {
  const std::string& path = options.model;
  if (!path_exists(path)) throw InputError(path, 0, "no such file (--tokenizer-model)");
  if (std::error_code ec; std::filesystem::is_directory(path, ec))
    throw InputError(path, 0, "is a directory; TikTokenizer reads a .tiktoken file or Megatron's tiktoken JSON");
  const JsonFile file(path);  // mapped (json_file.h); a .tiktoken file is read from there too
  const std::string_view text = file.text();
  // Hashed for the identity on another thread while the model builds.
  auto text_sha256 = std::async(std::launch::async, [text] { return sha256_hex(text); });
  const size_t first = text.find_first_not_of(" \t\r\n");
  const bool megatron = first != std::string::npos && (text[first] == '[' || text[first] == '{');

  const uint32_t specials =
      options.tiktoken_num_special_tokens.value_or(megatron ? kMegatronDefaultSpecialTokens : 0);
  if (specials > 0 && specials < kMegatronSpecials.size())
    throw UsageError("--tiktoken-num-special-tokens " + std::to_string(specials) + ": Megatron's special tokens "
                     "<unk> <s> </s> <mask> <pad> <cls> <sep> need at least 7 (or 0 for none, .tiktoken files)");
  if (megatron && specials == 0)
    throw UsageError("--tiktoken-num-special-tokens 0: Megatron's tiktoken JSON needs its special tokens (>= 7)");
  std::optional<uint64_t> vocab_size = options.vocab_size;
  if (megatron && !vocab_size) vocab_size = kMegatronDefaultVocabSize;
  if (vocab_size && *vocab_size <= specials)
    throw UsageError("--vocab-size " + std::to_string(*vocab_size) + " leaves no room beside " +
                     std::to_string(specials) + " special tokens");
  const uint64_t max_ranks = vocab_size ? *vocab_size - specials : UINT64_MAX;

  Ranks ranks = megatron ? read_megatron_json(path, file, max_ranks) : read_tiktoken_file(path, text);
  if (megatron && ranks.count < max_ranks)
    throw InputError(path, 0, "has " + std::to_string(ranks.count) + " tokens; a vocabulary size of " +
                                  std::to_string(*vocab_size) + " with " + std::to_string(specials) +
                                  " special tokens needs " + std::to_string(max_ranks) +
                                  " (Megatron's TikTokenizer asserts the same; give --vocab-size " +
                                  std::to_string(ranks.count + specials) + ")");
  // An OpenAI encoding, by its size: its split regex is the default, and
  // (unless --vocab-size cut it) its <|endoftext|> and n_vocab hold.
  const KnownEncoding* known = nullptr;
  if (!megatron)
    for (const auto& e : kKnownEncodings)
      if (e.ranks == ranks.count) known = &e;
  if (!megatron && options.tiktoken_pattern.empty() && !known)
    throw UsageError(path + " is not one of OpenAI's encodings (r50k_base, p50k_base, cl100k_base, o200k_base) by "
                     "its size; give --tiktoken-pattern (v1, v2, an encoding name or a regex)");
  const KnownEncoding* encoding = known;
  if (!megatron && ranks.tokens.size() > max_ranks) {  // --vocab-size cuts a .tiktoken file as Megatron's JSON
    for (size_t r = max_ranks; r < ranks.tokens.size(); ++r) ranks.count -= ranks.given[r];
    ranks.tokens.resize(max_ranks);
    ranks.given.resize(max_ranks);
    encoding = nullptr;
  }
  const Split split = choose_split(options.tiktoken_pattern, megatron ? "v2" : known ? known->name : "");

  // The vocabulary by id: special tokens, the ranks shifted past them, and for
  // a .tiktoken file without specials <|endoftext|> where its encoding has it
  // (after the last rank for other files).
  BpeVocabulary v;
  v.units = BpeVocabulary::Units::kBytes;
  v.ignore_merges = true;
  absl::flat_hash_map<std::string_view, uint32_t> id_of;
  const size_t rank_ids = specials + ranks.tokens.size();
  uint32_t eod = kMegatronEos;
  std::vector<std::string> names;
  if (specials > 0) {
    for (uint32_t i = 0; i < specials; ++i)
      names.push_back(i < kMegatronSpecials.size() ? std::string(kMegatronSpecials[i])
                                                   : "<SPECIAL_" + std::to_string(i) + ">");
  } else {
    eod = encoding ? encoding->endoftext : static_cast<uint32_t>(ranks.tokens.size());
  }
  v.tokens.resize(std::max<size_t>(rank_ids, specials == 0 ? size_t{eod} + 1 : 0));
  id_of.reserve(ranks.count);
  for (size_t r = 0; r < ranks.tokens.size(); ++r) {
    if (!ranks.given[r]) continue;
    if (auto [it, fresh] = id_of.emplace(ranks.tokens[r], static_cast<uint32_t>(specials + r)); !fresh) {
      const size_t first = it->second - specials;
      if (megatron)
        throw InputError(path, 0, "entry " + std::to_string(r) + ": token given twice (also entry " +
                                      std::to_string(first) + ")");
      throw InputError(path, ranks.line[r], "token given twice (ranks " + std::to_string(first) + " and " +
                                                std::to_string(r) + ", line " + std::to_string(ranks.line[first]) +
                                                ")");
    }
  }
  // Ids that are not ranks get their names, or a placeholder no text can make
  // (0xFF is never in UTF-8) when a rank has those bytes or the id is a gap
  // between ranks (p50k_base has one).
  auto place = [&](uint32_t id, std::string name) {
    if (name.empty() || id_of.contains(name)) name = "\xff<" + std::to_string(id) + ">";
    v.tokens[id] = std::move(name);
    v.specials.push_back(id);
  };
  // What decode gives for the ids that are not ranks (tiktoken decodes a
  // special token to its text; a gap is an id it has no entry for).
  absl::flat_hash_map<uint32_t, std::string> special_text;
  for (uint32_t i = 0; i < specials; ++i) {
    special_text[i] = names[i];
    place(i, names[i]);
  }
  for (size_t id = specials; id < v.tokens.size(); ++id) {
    const size_t r = id - specials;
    if (r < ranks.tokens.size() && ranks.given[r]) continue;  // moved in below, once merges are made
    if (specials == 0 && id == eod) {
      special_text[eod] = "<|endoftext|>";
      place(eod, "<|endoftext|>");
    } else {
      place(static_cast<uint32_t>(id), "");
    }
  }
  if (specials == 0 && encoding)
    for (const ExtraSpecial& e : kExtraSpecials)
      if (std::string_view(e.encoding) == encoding->name) special_text[e.id] = e.text;
  std::vector<bool> is_rank(rank_ids, false);
  for (size_t r = 0; r < ranks.tokens.size(); ++r) is_rank[specials + r] = ranks.given[r];
  if (specials == 0 && ranks.given.size() > eod && ranks.given[eod])
    throw InputError(path, 0, "rank " + std::to_string(eod) + " is <|endoftext|> in " + encoding->name);
  // tiktoken's rule as merges: every token made of two tokens A + B is the
  // merge {A, B, its id}; BpeModel::build finds the splits.
  v.merges_from_ranks = true;
  id_of.clear();  // its keys view the rank strings moved next
  for (size_t r = 0; r < ranks.tokens.size(); ++r)
    if (ranks.given[r]) v.tokens[specials + r] = std::move(ranks.tokens[r]);
  auto model = std::make_shared<const BpeModel>(BpeModel::build(std::move(v), path));

  TextTokenizer t;
  t.name = "TikTokenizer";
  t.identity = {{"tokenizer_type", t.name},
                {"model_sha256", text_sha256.get()},
                {"tiktoken_pattern", split.spelling},
                {"tiktoken_num_special_tokens", std::to_string(specials)}};
  if (vocab_size) t.identity.emplace_back("vocab_size", std::to_string(*vocab_size));
  t.vocab_size = vocab_size      ? *vocab_size
                 : specials > 0 ? rank_ids
                 : encoding     ? encoding->n_vocab
                                : model->vocab_size();
  t.eod_id = eod;
  if (options.eod_token) {
    const int64_t id = model->token_id(*options.eod_token);
    if (id < 0) throw UsageError("--eod-token '" + *options.eod_token + "' is not a token of " + path);
    t.eod_id = static_cast<uint32_t>(id);
    t.identity.emplace_back("eod_id", std::to_string(t.eod_id));
  }
  if (split.regex)
    t.notes.push_back("pre-tokenizer: the split regex has no hand-written scanner; it runs through PCRE2" +
                      std::string(split.regex->jit() ? " (JIT)" : "") + ", the slower path");
  if (!megatron && !encoding && specials == 0)
    t.notes.push_back("end of document: " + path + " is not a known encoding; <|endoftext|> is id " +
                      std::to_string(eod) + ", after the last rank");
  t.decode = [model, is_rank = std::move(is_rank), special_text = std::move(special_text),
              path](std::span<const uint32_t> ids) {
    std::string out;
    for (uint32_t id : ids) {
      if (id < is_rank.size() && is_rank[id]) {
        out += model->token_bytes(id);
      } else if (const auto it = special_text.find(id); it != special_text.end()) {
        out += it->second;
      } else {
        throw Error("token id " + std::to_string(id) + " is not a token of " + path);
      }
    }
    return out;
  };
  t.make_encoder = [model, split, specials]() -> TextTokenizer::Encode {
    auto encoder = std::make_shared<Encoder>(model, split, specials);
    return [encoder](std::string_view text) { return (*encoder)(text); };
  };
  return t;
}

}  // namespace sp
