// HuggingFaceTokenizer: a tokenizer.json BPE model (byte-level or
// SentencePiece-style) run as HF tokenizers runs it - added tokens taken out
// of the raw text, the rest normalized, normalized added tokens taken out,
// pre-tokenized, BPE through the library's one engine (sp::BpeModel), the
// post-processor's special tokens around - with Megatron-LM's EOD and
// vocabulary size (len(tokenizer)). Decoding runs each id's token string
// through the tokenizer.json decoder (hf_decoder.h).
#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <future>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "bpe_cuts.h"
#include "hf_added_tokens.h"
#include "hf_chars.h"
#include "hf_decoder.h"
#include "hf_json.h"
#include "hf_normalizer.h"
#include "hf_pretokenizer.h"
#include "json_file.h"
#include "sp/bpe.h"
#include "sp/error.h"
#include "sp/io.h"
#include "sp/sha256.h"
#include "tokenizer_families.h"

namespace sp {
namespace {

using hf::bool_field;
using hf::AddedToken;
using hf::Decoder;
using hf::AddedTokenMatcher;
using hf::Normalizer;
using hf::Piece;
using hf::PreTokenizer;
using hf::Segment;


// The vocab's ids, found by their spelling (names[id]): a set of 4-byte ids
// with lookup by string, where a map of string_view -> id took 24 bytes a
// slot (Gemma's 256,000 tokens: 2.5 MB of table instead of 12.5 MB, which a
// fresh process pays for in page faults, ~13 us a 4 KiB page on the dev VM).
struct NameHash {
  using is_transparent = void;
  const std::vector<std::string_view>* names;
  size_t operator()(std::string_view s) const { return absl::Hash<std::string_view>{}(s); }
  size_t operator()(uint32_t id) const { return (*this)((*names)[id]); }
};
struct NameEq {
  using is_transparent = void;
  const std::vector<std::string_view>* names;
  std::string_view name(std::string_view s) const { return s; }
  std::string_view name(uint32_t id) const { return (*names)[id]; }
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return name(a) == name(b);
  }
};
using IdsByName = absl::flat_hash_set<uint32_t, NameHash, NameEq>;

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// A token named in tokenizer_config.json: a string, or {"content": ...}.
std::optional<std::string> config_token(simdjson::dom::element config, const char* key) {
  simdjson::dom::element v;
  if (config[key].get(v) || v.is_null()) return std::nullopt;
  std::string_view s;
  if (!v.get_string().get(s) || !v["content"].get_string().get(s)) return std::string(s);
  return std::nullopt;
}

// tokenizer_config.json with each integer too big for 64 bits (transformers
// writes model_max_length = int(1e30)) replaced by 0: simdjson refuses them,
// and nothing read here is a number.
std::string without_big_integers(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size())
        out += text[++i];
      else if (c == '"')
        in_string = false;
      ++i;
    } else if (c == '"') {
      in_string = true;
      out += c;
      ++i;
    } else if (c >= '0' && c <= '9') {
      size_t end = i;
      while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
      if (end - i > 18)
        out += '0';
      else
        out.append(text.substr(i, end - i));
      i = end;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

// The post-processor's ids before and after a sequence (add_special_tokens=True).
struct Frame {
  std::vector<uint32_t> prefix, suffix;
};

uint32_t processor_id(simdjson::dom::element pair, const std::string& source, const std::string& what) {
  // ["[CLS]", 101]
  simdjson::dom::array a;
  int64_t id;
  if (pair.get_array().get(a) || a.size() != 2 || a.at(1).get_int64().get(id) || id < 0 || id > UINT32_MAX)
    throw InputError(source, 0, what + " has a token that is not [\"text\", id]");
  return static_cast<uint32_t>(id);
}

void parse_processor(simdjson::dom::element json, const std::string& source, Frame& frame) {
  if (json.is_null()) return;
  std::string_view type;
  if (json["type"].get_string().get(type)) throw InputError(source, 0, "post_processor without a \"type\"");
  const std::string what = "post_processor " + std::string(type);
  if (type == "Sequence") {
    simdjson::dom::array list;
    if (json["processors"].get_array().get(list)) throw InputError(source, 0, what + " has no \"processors\" list");
    for (simdjson::dom::element p : list) parse_processor(p, source, frame);
  } else if (type == "ByteLevel") {
    // Offsets only.
  } else if (type == "BertProcessing" || type == "RobertaProcessing") {
    simdjson::dom::element cls, sep;
    if (json["cls"].get(cls) || json["sep"].get(sep)) throw InputError(source, 0, what + " has no \"cls\" and \"sep\"");
    frame.prefix.insert(frame.prefix.begin(), processor_id(cls, source, what));
    frame.suffix.push_back(processor_id(sep, source, what));
  } else if (type == "TemplateProcessing") {
    simdjson::dom::array single;
    simdjson::dom::object specials;
    if (json["single"].get_array().get(single)) throw InputError(source, 0, what + " has no \"single\" template");
    if (json["special_tokens"].get_object().get(specials))
      throw InputError(source, 0, what + " has no \"special_tokens\" map");
    std::vector<uint32_t> before, after;
    int sequences = 0;
    for (simdjson::dom::element piece : single) {
      simdjson::dom::element special, sequence;
      if (!piece["SpecialToken"].get(special)) {
        std::string_view name;
        if (special["id"].get_string().get(name)) throw InputError(source, 0, what + ": a SpecialToken without \"id\"");
        simdjson::dom::array ids;
        if (specials[name]["ids"].get_array().get(ids))
          throw InputError(source, 0, what + ": special token " + std::string(name) + " is not in \"special_tokens\"");
        for (simdjson::dom::element e : ids) {
          int64_t id;
          if (e.get_int64().get(id) || id < 0 || id > UINT32_MAX)
            throw InputError(source, 0, what + ": special token " + std::string(name) + " has a bad id");
          (sequences == 0 ? before : after).push_back(static_cast<uint32_t>(id));
        }
      } else if (!piece["Sequence"].get(sequence)) {
        std::string_view id;
        if (sequence["id"].get_string().get(id) || id != "A")
          throw InputError(source, 0, what + ": the single template may hold only sequence A");
        ++sequences;
      } else {
        throw InputError(source, 0, what + ": a template piece that is neither SpecialToken nor Sequence");
      }
    }
    if (sequences != 1) throw InputError(source, 0, what + ": the single template must hold sequence A once");
    frame.prefix.insert(frame.prefix.begin(), before.begin(), before.end());
    frame.suffix.insert(frame.suffix.end(), after.begin(), after.end());
  } else {
    throw InputError(source, 0,
                     "post_processor type " + std::string(type) +
                         " is not supported (supported: TemplateProcessing, ByteLevel, BertProcessing, "
                         "RobertaProcessing, Sequence)");
  }
}

// Everything an encoder needs, shared by all threads.
struct HfModel {
  std::optional<BpeModel> bpe;  // set once built
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  AddedTokenMatcher raw_tokens, normalized_tokens;
  std::optional<PretokenPattern> fast_pattern;  // the fast path's pre-tokenizer
  bool fast_prefix_space = false;
  // Where pieces may be cut without changing ids (character-level BPE, bpe_cuts.h).
  BpeCuts cuts;
  Frame frame;
  bool include_special_tokens = true;
  // Decoding: each id's token string (an added token's content, else the
  // vocab's spelling), through the decoder chain.
  Decoder decoder;
  // The strings in id order in one blob (a std::string each was 32 bytes of
  // fresh memory a token); 32-bit ends, as simdjson reads no file of 4 GiB.
  std::string token_text;
  std::vector<uint32_t> token_text_ends;
  std::vector<bool> has_text;
  std::string_view text_of(uint32_t id) const {
    const uint32_t begin = id == 0 ? 0 : token_text_ends[id - 1];
    return std::string_view(token_text).substr(begin, token_text_ends[id] - begin);
  }
};

class Encoder {
 public:
  explicit Encoder(std::shared_ptr<const HfModel> model) : m_(std::move(model)) {}

  std::span<const uint32_t> encode(std::string_view text) {
    ids_.clear();
    const HfModel& m = *m_;
    if (m.include_special_tokens) ids_.insert(ids_.end(), m.frame.prefix.begin(), m.frame.prefix.end());
    m.raw_tokens.split(text, raw_segments_);
    for (const Segment& s : raw_segments_) {
      if (s.id >= 0) {
        ids_.push_back(static_cast<uint32_t>(s.id));
        continue;
      }
      std::string_view part = text.substr(s.begin, s.end - s.begin);
      if (!m.normalizer.empty()) {
        m.normalizer.normalize(part, normalized_, scratch_);
        part = normalized_;
      }
      m.normalized_tokens.split(part, segments_);
      for (const Segment& n : segments_) {
        if (n.id >= 0)
          ids_.push_back(static_cast<uint32_t>(n.id));
        else
          encode_stretch(part.substr(n.begin, n.end - n.begin), s.begin == 0 && n.begin == 0);
      }
    }
    if (m.include_special_tokens) ids_.insert(ids_.end(), m.frame.suffix.begin(), m.frame.suffix.end());
    return ids_;
  }

 private:
  void append(std::span<const uint32_t> ids) { ids_.insert(ids_.end(), ids.begin(), ids.end()); }

  void encode_stretch(std::string_view text, bool first) {
    const HfModel& m = *m_;
    if (m.fast_pattern) {
      if (m.fast_prefix_space && text[0] != ' ') {
        prefixed_.assign(1, ' ');
        prefixed_.append(text);
        text = prefixed_;
      }
      append(m.bpe->encode_span(text, *m.fast_pattern, cache_));
      return;
    }
    if (m.pre_tokenizer.empty() && m.cuts.any()) {  // no pre-tokenizer (Llama-2, Mistral): the cuts are the pieces
      append(m.bpe->encode_span(text, &BpeCuts::piece_end_of, &BpeCuts::window_of, &m.cuts, cache_));
      return;
    }
    m.pre_tokenizer.split(text, first, buffer_, pieces_, spare_);
    views_.clear();
    for (const Piece& p : pieces_) {
      const std::string_view piece = std::string_view(buffer_).substr(p.offset, p.length);
      if (m.cuts.any() && !piece.empty())
        m.cuts.split(piece, views_);
      else
        views_.push_back(piece);
    }
    if (!views_.empty()) append(m.bpe->encode_pieces(views_, cache_));
  }

  std::shared_ptr<const HfModel> m_;
  BpeCache cache_;
  std::vector<uint32_t> ids_;
  std::vector<Segment> raw_segments_, segments_;
  std::string normalized_, scratch_, prefixed_, buffer_;
  std::vector<Piece> pieces_, spare_;
  std::vector<std::string_view> views_;
};

}  // namespace

namespace {

// The tokenizer; its decode keeps raw bytes, or (as_hf_text) gives HF's string.
TextTokenizer load(const TokenizerOptions& options, bool as_hf_text) {
  // The files: PATH is tokenizer.json or a directory holding it; tokenizer_config.json beside it when present.
  std::string json_path = options.model, dir;
  if (is_directory(options.model)) {
    dir = options.model;
    json_path = dir + "/tokenizer.json";
  } else {
    const size_t slash = options.model.rfind('/');
    dir = slash == std::string::npos ? "." : options.model.substr(0, slash);
  }
  if (!is_file(json_path))
    throw InputError(json_path, 0,
                     "no such file (--tokenizer-model must be a tokenizer.json or a directory holding one)");
  const std::string config_path = dir + "/tokenizer_config.json";
  const bool has_config = is_file(config_path);
  const std::string source = json_path;

  // Mapped once (json_file.h), parsed and hashed from there.
  const JsonFile json_file(json_path);
  const std::string_view json_text = json_file.text();
  // Hashed for the identity on another thread while the model builds (a
  // third of a 9 MB tokenizer.json's load where SHA-256 has no CPU support).
  auto json_sha256 = std::async(std::launch::async, [json_text] { return sha256_hex(json_text); });
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = json_file.parse(parser).get(root))
    throw InputError(source, 0, std::string("not JSON: ") + simdjson::error_message(err));
  if (!root.is_object()) throw InputError(source, 0, "not a JSON object");

  auto shared = std::make_shared<HfModel>();
  HfModel& m = *shared;
  m.include_special_tokens = options.hf_include_special_tokens;
  {
    simdjson::dom::element p;
    if (!root["normalizer"].get(p)) m.normalizer = Normalizer::parse(p, source);
    if (!root["pre_tokenizer"].get(p)) m.pre_tokenizer = PreTokenizer::parse(p, source);
    if (!root["post_processor"].get(p)) parse_processor(p, source, m.frame);
    if (!root["decoder"].get(p)) m.decoder = Decoder::parse(p, source);
  }

  // The model.
  simdjson::dom::element model;
  if (root["model"].get(model) || !model.is_object()) throw InputError(source, 0, "no \"model\" object");
  std::string_view model_type = "BPE";
  if (model["type"].get_string().get(model_type) && model["vocab"].is_array()) model_type = "Unigram";
  if (model_type != "BPE")
    throw InputError(source, 0, "model type " + std::string(model_type) + " is not supported (supported: BPE)");
  {
    simdjson::dom::element e;
    if (!model["dropout"].get(e) && !e.is_null()) {
      double d;
      if (e.get_double().get(d) || d != 0.0)
        throw InputError(source, 0, "BPE dropout is not supported (it must be null)");
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      std::string_view s;
      if (!model[key].get(e) && !e.is_null() && (e.get_string().get(s) || !s.empty()))
        throw InputError(source, 0, std::string("BPE ") + key + " is not supported (it must be null or empty)");
    }
  }
  const bool byte_level = m.pre_tokenizer.byte_level();
  BpeVocabulary v;
  v.units = byte_level ? BpeVocabulary::Units::kBytes : BpeVocabulary::Units::kCharacters;
  v.ignore_merges = bool_field(model, "ignore_merges", false);
  v.byte_fallback = bool_field(model, "byte_fallback", false);
  v.fuse_unk = bool_field(model, "fuse_unk", false);

  simdjson::dom::object vocab;
  if (model["vocab"].get_object().get(vocab)) throw InputError(source, 0, "model has no \"vocab\" object");
  std::vector<std::string_view> names(vocab.size());  // the vocab's spelling by id, views into the JSON
  IdsByName by_name(0, NameHash{&names}, NameEq{&names});  // vocab.json spelling -> id
  by_name.reserve(vocab.size());
  std::vector<bool> present;
  std::vector<uint8_t> special;  // bytes, not bits: written from several threads below
  // Ids are normally 0 .. size - 1: size everything once, with room for
  // added tokens after them (growing v.tokens by one there moved the whole
  // vector: Llama-3's 128,000 strings into 8 MB of fresh memory, ~25 ms).
  {
    simdjson::dom::array list;
    if (!root["added_tokens"].get_array().get(list)) v.tokens.reserve(vocab.size() + list.size());
  }
  v.tokens.resize(vocab.size());
  present.resize(vocab.size());
  special.resize(vocab.size());
  // What an id decodes to: its vocab spelling (names), unless an added token
  // of that id says otherwise (views into the JSON).
  absl::flat_hash_map<uint32_t, std::string_view> added_text;
  for (auto field : vocab) {
    int64_t id;
    if (field.value.get_int64().get(id) || id < 0 || id >= (int64_t{1} << 31))
      throw InputError(source, 0, "vocab token " + std::string(field.key) + " has no valid id");
    const auto uid = static_cast<size_t>(id);
    if (uid >= v.tokens.size()) {
      names.resize(uid + 1);
      v.tokens.resize(uid + 1);
      present.resize(uid + 1);
      special.resize(uid + 1);
    }
    if (present[uid]) throw InputError(source, 0, "vocab id " + std::to_string(id) + " is used twice");
    present[uid] = true;
    names[uid] = field.key;
    if (!by_name.insert(static_cast<uint32_t>(uid)).second)
      throw InputError(source, 0, "vocab token " + std::string(field.key) + " appears twice");
  }
  // Each token's bytes, on the threads (no check here can fail).
  tbb::parallel_for(tbb::blocked_range<size_t>(0, v.tokens.size(), 8192), [&](const tbb::blocked_range<size_t>& r) {
    std::string bytes;
    for (size_t uid = r.begin(); uid != r.end(); ++uid) {
      if (!present[uid]) continue;
      const std::string_view key = names[uid];
      if (!byte_level || std::all_of(key.begin(), key.end(), [](char c) { return c > ' ' && c < 0x7F; })) {
        v.tokens[uid] = std::string(key);  // printable ASCII stands for itself in byte-level text
      } else if (gpt2_unicode_to_bytes(key, bytes)) {
        v.tokens[uid] = bytes;
      } else {  // not byte-level text: no text can make it
        v.tokens[uid] = std::string(key);
        special[uid] = true;
      }
    }
  });
  const uint32_t base_vocab = static_cast<uint32_t>(by_name.size());

  // Merges: "a b" strings or ["a", "b"] pairs; priority = position.
  simdjson::dom::array merges;
  if (model["merges"].get_array().get(merges)) throw InputError(source, 0, "model has no \"merges\" list");
  // Merge i's ids, or the error a serial pass would stop at; `made` (the
  // token the last merge made) only saves a hash lookup: a merge makes the
  // same token as the one before it or the next id (Gemma: 345,739 and
  // 234,861 of 580,604 merges, 4 others; Llama-3 152,403 and 127,743 of 280,147).
  auto resolve = [&](simdjson::dom::element e, uint32_t priority, uint32_t& made, std::string& joined) {
    std::string_view a, b, line;
    simdjson::dom::array pair;
    if (!e.get_string().get(line)) {
      const size_t space = line.find(' ');
      if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos)
        throw InputError(source, 0,
                         "merge " + std::to_string(priority) + " \"" + std::string(line) + "\" is not \"a b\"");
      a = line.substr(0, space);
      b = line.substr(space + 1);
    } else if (!e.get_array().get(pair) && pair.size() == 2 && !pair.at(0).get_string().get(a) &&
               !pair.at(1).get_string().get(b)) {
    } else {
      throw InputError(source, 0, "merge " + std::to_string(priority) + " is neither \"a b\" nor [\"a\", \"b\"]");
    }
    const auto left = by_name.find(a), right = by_name.find(b);
    bool known = left != by_name.end() && right != by_name.end();
    if (known) {  // the made token must exist: tried at the same and the next id before the hash map
      auto makes = [&](uint32_t id) {
        const std::string_view t = id < names.size() ? names[id] : std::string_view();
        return t.size() == a.size() + b.size() && t.starts_with(a) && t.ends_with(b);
      };
      if (makes(made)) {
      } else if (makes(made + 1)) {
        ++made;
      } else if (const auto it = by_name.find(joined.assign(a).append(b)); it != by_name.end()) {
        made = *it;
      } else {
        known = false;
      }
    }
    if (!known)
      throw InputError(source, 0,
                       "merge " + std::to_string(priority) + " (" + std::string(a) + " " + std::string(b) +
                           ") names a token that is not in the vocab");
    return BpeVocabulary::Merge{*left, *right, priority};
  };
  // Resolved in blocks on the threads: Gemma's 580,604 merges took ~190 ms
  // on one core of the dev VM, two hash lookups each that mostly miss the
  // cache. A block stops at its first bad merge; the first in file order is
  // then resolved again here, so the error is the one a serial pass gives.
  constexpr size_t kMergeBlock = 16384;
  std::vector<simdjson::dom::array::iterator> block_starts;
  size_t merge_count = 0;
  for (auto it = merges.begin(); it != merges.end(); ++it, ++merge_count)
    if (merge_count % kMergeBlock == 0) block_starts.push_back(it);
  v.merges.resize(merge_count);
  std::vector<size_t> block_error(block_starts.size(), SIZE_MAX);  // the block's first bad merge
  tbb::parallel_for(tbb::blocked_range<size_t>(0, block_starts.size(), 1), [&](const tbb::blocked_range<size_t>& r) {
    std::string joined;
    for (size_t block = r.begin(); block != r.end(); ++block) {
      uint32_t made = 0;
      auto it = block_starts[block];
      const size_t end = std::min(merge_count, (block + 1) * kMergeBlock);
      for (size_t i = block * kMergeBlock; i < end; ++i, ++it) {
        try {
          v.merges[i] = resolve(*it, static_cast<uint32_t>(i), made, joined);
        } catch (const InputError&) {
          block_error[block] = i;
          break;
        }
      }
    }
  });
  for (size_t block = 0; block < block_starts.size(); ++block) {
    if (block_error[block] == SIZE_MAX) continue;
    auto it = block_starts[block];
    for (size_t i = block * kMergeBlock; i < block_error[block]; ++i) ++it;
    uint32_t made = 0;
    std::string joined;
    resolve(*it, static_cast<uint32_t>(block_error[block]), made, joined);  // throws its error
  }

  // Added tokens, with the ids HF gives them: the vocab's id of the same
  // text, else the next id after the vocab (tokenizer.json's "id" is not used).
  std::vector<AddedToken> raw_tokens, normalized_tokens;
  absl::flat_hash_map<std::string, uint32_t> added;  // content -> id
  {
    simdjson::dom::array list;
    if (!root["added_tokens"].get_array().get(list)) {
      uint32_t next_id = base_vocab;
      struct Entry {
        AddedToken token;
        bool normalized;
      };
      absl::flat_hash_map<uint32_t, Entry> by_id;
      std::vector<uint32_t> order;
      for (simdjson::dom::element t : list) {
        std::string_view content;
        if (t["content"].get_string().get(content)) throw InputError(source, 0, "an added token without \"content\"");
        if (content.empty()) continue;
        uint32_t id;
        if (const auto it = added.find(std::string(content)); it != added.end())
          id = it->second;
        else if (const auto jt = by_name.find(content); jt != by_name.end())
          id = *jt;
        else
          id = next_id++;
        added[std::string(content)] = id;
        added_text[id] = content;  // HF looks up added tokens first
        Entry entry{{std::string(content), id, bool_field(t, "single_word", false), bool_field(t, "lstrip", false),
                     bool_field(t, "rstrip", false)},
                    bool_field(t, "normalized", !bool_field(t, "special", false))};
        if (!by_id.contains(id)) order.push_back(id);
        by_id[id] = std::move(entry);
        if (id >= v.tokens.size()) {
          v.tokens.resize(id + 1);
          present.resize(id + 1);
          special.resize(id + 1);
        }
        if (!present[id]) {  // not in the model's vocab: BPE never makes it
          present[id] = true;
          special[id] = true;
          v.tokens[id] = std::string(content);
        }
      }
      std::string normalized, scratch;
      for (uint32_t id : order) {
        Entry& e = by_id[id];
        if (e.normalized) {
          if (!m.normalizer.empty()) {
            m.normalizer.normalize(e.token.content, normalized, scratch);
            e.token.content = normalized;
          }
          normalized_tokens.push_back(std::move(e.token));
        } else {
          raw_tokens.push_back(std::move(e.token));
        }
      }
    }
  }
  m.raw_tokens = AddedTokenMatcher(std::move(raw_tokens));
  m.normalized_tokens = AddedTokenMatcher(std::move(normalized_tokens));
  // len(tokenizer): the vocab plus the added tokens that are not in it.
  uint64_t vocab_size = base_vocab;
  for (const auto& [content, id] : added)
    if (!by_name.contains(std::string_view(content))) ++vocab_size;

  auto text_of = [&](uint32_t id) {
    if (const auto it = added_text.find(id); it != added_text.end()) return it->second;
    return id < names.size() ? names[id] : std::string_view();
  };
  size_t text_bytes = 0;
  for (uint32_t id = 0; id < v.tokens.size(); ++id) text_bytes += text_of(id).size();
  m.token_text.reserve(text_bytes);
  m.token_text_ends.reserve(v.tokens.size());
  for (uint32_t id = 0; id < v.tokens.size(); ++id) {
    const std::string_view t = text_of(id);
    m.token_text += t;
    m.token_text_ends.push_back(static_cast<uint32_t>(m.token_text.size()));
  }
  m.has_text = present;
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    if (!present[id]) {  // an id nothing has: never made, never decoded to anything
      special[id] = true;
      v.tokens[id] = "\xFF<gap " + std::to_string(id) + ">";
    }
    if (special[id]) v.specials.push_back(static_cast<uint32_t>(id));
  }
  {
    std::string_view unk;
    simdjson::dom::element e;
    if (!model["unk_token"].get(e) && !e.is_null()) {
      if (e.get_string().get(unk)) throw InputError(source, 0, "BPE unk_token is not a string");
      const auto it = by_name.find(unk);
      if (it == by_name.end())
        throw InputError(source, 0, "BPE unk_token " + std::string(unk) + " is not in the vocab");
      v.unk_id = *it;
    }
  }
  m.cuts = BpeCuts::build(v);
  m.bpe = BpeModel::build(std::move(v), source);
  if (const auto fast = m.pre_tokenizer.fast()) {
    m.fast_pattern = fast->pattern;
    m.fast_prefix_space = fast->add_prefix_space;
  }

  // What transformers' AutoTokenizer takes from tokenizer_config.json (and
  // special_tokens_map.json for the special tokens it lacks).
  std::optional<std::string> eos, bos, sep;
  std::optional<bool> add_bos, add_eos;
  std::string tokenizer_class;
  std::vector<std::pair<std::string, std::string>> config_identity;
  for (const char* name : {"tokenizer_config.json", "special_tokens_map.json"}) {
    const std::string path = dir + "/" + name;
    if (!is_file(path)) continue;
    const std::string text = read_file(path);
    config_identity.emplace_back(std::string(name) + " sha256", sha256_hex(text));
    const simdjson::padded_string padded(without_big_integers(text));
    simdjson::dom::parser config_parser;
    simdjson::dom::element config;
    if (auto err = config_parser.parse(padded).get(config); err || !config.is_object())
      throw InputError(path, 0, std::string("not a JSON object: ") + simdjson::error_message(err));
    if (!eos) eos = config_token(config, "eos_token");
    if (!bos) bos = config_token(config, "bos_token");
    if (!sep) sep = config_token(config, "sep_token");
    if (tokenizer_class.empty()) {
      std::string_view c;
      if (!config["tokenizer_class"].get_string().get(c)) tokenizer_class = std::string(c);
      bool b;
      if (!config["add_bos_token"].get_bool().get(b)) add_bos = b;
      if (!config["add_eos_token"].get_bool().get(b)) add_eos = b;
    }
  }
  // The tokenizer classes' own defaults, and the BOS / EOS template that
  // LlamaTokenizerFast and GemmaTokenizerFast set up in place of
  // tokenizer.json's post-processor (their update_post_processor).
  const bool llama = tokenizer_class == "LlamaTokenizer" || tokenizer_class == "LlamaTokenizerFast" ||
                     tokenizer_class == "CodeLlamaTokenizer" || tokenizer_class == "CodeLlamaTokenizerFast";
  const bool gemma = tokenizer_class == "GemmaTokenizer" || tokenizer_class == "GemmaTokenizerFast";
  if (!eos) {
    if (llama)
      eos = "</s>";
    else if (gemma)
      eos = "<eos>";
    else if (tokenizer_class.starts_with("GPT2Tokenizer") || tokenizer_class.starts_with("Qwen2Tokenizer"))
      eos = "<|endoftext|>";
  }
  if (!eos) eos = sep;  // Megatron: eos_token = sep_token when only that is set
  if (!bos) {
    if (llama)
      bos = "<s>";
    else if (gemma)
      bos = "<bos>";
  }
  auto find_token = [&](const std::string& text) -> std::optional<uint32_t> {
    if (const auto it = added.find(text); it != added.end()) return it->second;
    if (const auto it = by_name.find(std::string_view(text)); it != by_name.end()) return *it;
    return std::nullopt;
  };
  uint32_t eod = 0;
  if (options.eod_id) {
    if (*options.eod_id >= vocab_size)
      throw UsageError("--eod-id " + std::to_string(*options.eod_id) + " is not below the vocabulary size " +
                       std::to_string(vocab_size));
    eod = *options.eod_id;
  } else if (options.eod_token) {
    const auto id = find_token(*options.eod_token);
    if (!id) throw UsageError("--eod-token " + *options.eod_token + " is not a token of " + source);
    eod = *id;
  } else if (eos) {
    const auto id = find_token(*eos);
    if (!id) throw InputError(config_path, 0, "eos_token " + *eos + " is not a token of " + source);
    eod = *id;
  } else {
    throw InputError(has_config ? config_path : source, 0,
                     "no eos_token in tokenizer_config.json; give the EOD with --eod-id or --eod-token");
  }
  if (llama || gemma) {
    m.frame = Frame{};
    for (const auto& [wanted, token, into] : {std::tuple{add_bos.value_or(true), bos, &m.frame.prefix},
                                              std::tuple{add_eos.value_or(false), eos, &m.frame.suffix}}) {
      if (!wanted) continue;
      const std::optional<uint32_t> id = token ? find_token(*token) : std::nullopt;
      if (!id)
        throw InputError(config_path, 0, tokenizer_class + " adds a BOS/EOS token that is not in the vocabulary");
      into->push_back(*id);
    }
  }

  TextTokenizer t;
  t.name = "HuggingFaceTokenizer";
  t.identity = {{"type", "HuggingFaceTokenizer"}, {"tokenizer.json sha256", json_sha256.get()}};
  t.identity.insert(t.identity.end(), config_identity.begin(), config_identity.end());
  t.identity.emplace_back("include_special_tokens", options.hf_include_special_tokens ? "true" : "false");
  t.identity.emplace_back("eod_id", std::to_string(eod));
  t.vocab_size = vocab_size;
  t.eod_id = eod;
  for (const std::string& r : m.pre_tokenizer.general_regexes())
    t.notes.push_back("pre-tokenizer regex " + r + " runs through PCRE2, the slower path");
  if (m.normalizer.uses_regex()) t.notes.push_back("normalizer Replace regex runs through PCRE2, the slower path");
  t.decode = [shared = std::shared_ptr<const HfModel>(shared), source, as_hf_text](std::span<const uint32_t> ids) {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (uint32_t id : ids) {
      if (id >= shared->has_text.size() || !shared->has_text[id])
        throw Error("token id " + std::to_string(id) + " is not a token of " + source);
      tokens.emplace_back(shared->text_of(id));
    }
    return shared->decoder.decode(std::move(tokens), as_hf_text);
  };
  t.make_encoder = [shared = std::shared_ptr<const HfModel>(shared)]() -> TextTokenizer::Encode {
    auto encoder = std::make_shared<Encoder>(shared);
    return [encoder](std::string_view text) { return encoder->encode(text); };
  };
  return t;
}

}  // namespace

TextTokenizer load_hf_tokenizer(const TokenizerOptions& options) { return load(options, false); }

std::function<std::string(std::span<const uint32_t>)> load_hf_text_decoder(const TokenizerOptions& options) {
  return load(options, true).decode;
}

}  // namespace sp
