// load_tokenizer: Megatron-LM's tokenizer flags checked once, then the loader
// of the family the type names; and GPT-2's loader (GPT2BPETokenizer).
#include "sp/tokenizer.h"

#include <future>
#include <algorithm>
#include <cstdlib>
#include <memory>

#include "sp/bpe.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/sha256.h"
#include "tokenizer_families.h"

namespace sp {

namespace {

constexpr const char* kSentencePieceTypes[] = {"SentencePieceTokenizer", "GPTSentencePieceTokenizer",
                                               "Llama2Tokenizer"};
constexpr const char* kSupported =
    "GPT2BPETokenizer, HuggingFaceTokenizer, TikTokenizer, SentencePieceTokenizer, GPTSentencePieceTokenizer, "
    "Llama2Tokenizer";
// Types Megatron-LM knows whose ids we do not produce: refused by name, so the
// message says it is a known type, not a typo.
constexpr const char* kUnsupportedMegatronTypes[] = {"BertWordPieceLowerCase", "BertWordPieceCase", "NullTokenizer",
                                                     "MultimodalTokenizer", "NullMultimodalTokenizer",
                                                     "SFTTokenizer"};

bool is_sentencepiece_type(const std::string& type) {
  for (const char* t : kSentencePieceTypes)
    if (type == t) return true;
  return false;
}

std::string default_gpt2_dir() {
  if (const char* d = std::getenv("SP_GPT2_DIR"); d && *d) return d;
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/sp_toolkit/gpt2";
  return "";
}

// Flag combinations that cannot mean anything for the type are refused
// rather than ignored: Megatron ignores them, but whoever passed them expected
// them to change the ids. --vocab-size is the exception: scripts pass it for
// every type, and outside TikTokenizer it changes nothing, in Megatron too.
void check_options(const TokenizerOptions& o) {
  for (const char* t : kUnsupportedMegatronTypes)
    if (o.type == t)
      throw UsageError("--tokenizer-type " + o.type + " is not supported by sp_tokenize (supported: " +
                       kSupported + ")");
  const bool gpt2 = o.type == "GPT2BPETokenizer", hf = o.type == "HuggingFaceTokenizer",
             tiktoken = o.type == "TikTokenizer", spm = is_sentencepiece_type(o.type);
  if (!gpt2 && !hf && !tiktoken && !spm)
    throw UsageError("unknown --tokenizer-type '" + o.type + "' (supported: " + kSupported + ")");
  if (gpt2 && !o.model.empty())
    throw UsageError("--tokenizer-model does not apply to GPT2BPETokenizer (it reads --vocab-file and --merge-file)");
  if (!gpt2 && o.model.empty()) throw UsageError("--tokenizer-type " + o.type + " needs --tokenizer-model");
  if ((tiktoken || spm) && (!o.vocab_file.empty() || !o.merge_file.empty()))
    throw UsageError("--vocab-file and --merge-file do not apply to " + o.type + " (it reads --tokenizer-model)");
  if (!tiktoken && !o.tiktoken_pattern.empty())
    throw UsageError("--tiktoken-pattern applies only to --tokenizer-type TikTokenizer");
  if (!tiktoken && o.tiktoken_num_special_tokens)
    throw UsageError("--tiktoken-num-special-tokens applies only to --tokenizer-type TikTokenizer");
  if (o.eod_id && o.eod_token) throw UsageError("give either --eod-id or --eod-token, not both");
  if (o.eod_token && o.eod_token->empty()) throw UsageError("--eod-token: expected a token's text, got ''");
}

// Loads the model while another thread hashes its files for the identity
// (SHA-256 without SHA instructions runs at a few hundred MB/s: on a large
// model's file that was a third of the load, serial time for every run).
TextTokenizer load_gpt2_model(const std::string& vocab_json, const std::string& merges_txt,
                              std::shared_ptr<const BpeModel>* model_out = nullptr) {
  auto hashes =
      std::async(std::launch::async, [&] { return std::pair{sha256_file(vocab_json), sha256_file(merges_txt)}; });
  auto model = std::make_shared<const BpeModel>(BpeModel::load_gpt2(vocab_json, merges_txt));
  if (model_out) *model_out = model;
  const auto [vocab_sha256, merges_sha256] = hashes.get();
  TextTokenizer t;
  t.name = "GPT2BPETokenizer";
  t.identity = {{"tokenizer_type", t.name}, {"vocab_sha256", vocab_sha256}, {"merges_sha256", merges_sha256}};
  t.vocab_size = model->vocab_size();
  const int64_t eod = model->token_id("<|endoftext|>");
  if (eod < 0) throw InputError(vocab_json, 0, "no <|endoftext|> token (GPT2BPETokenizer's end of document)");
  t.eod_id = static_cast<uint32_t>(eod);
  t.make_encoder = [model]() -> TextTokenizer::Encode {
    auto cache = std::make_shared<BpeCache>();
    return [model, cache](std::string_view text) { return model->encode_span(text, *cache); };
  };
  t.decode = [model](std::span<const uint32_t> ids) { return model->decode(ids); };
  return t;
}

TextTokenizer gpt2_tokenizer(const TokenizerOptions& o) {
  std::string vocab = o.vocab_file, merges = o.merge_file;
  if (vocab.empty()) {
    vocab = default_gpt2_dir() + "/vocab.json";
    if (!path_exists(vocab))
      throw UsageError("no --vocab-file given and no GPT-2 vocab in the cache (run third_party/gpt2/fetch_vocab.sh)");
  }
  if (merges.empty()) merges = parent_dir(vocab) + "/merges.txt";
  std::shared_ptr<const BpeModel> model;
  TextTokenizer t = load_gpt2_model(vocab, merges, &model);
  if (o.eod_token) {
    const int64_t id = model->token_id(*o.eod_token);
    if (id < 0) throw UsageError("--eod-token '" + *o.eod_token + "' is not a token of " + vocab);
    t.eod_id = static_cast<uint32_t>(id);
    t.identity.emplace_back("eod_id", std::to_string(t.eod_id));
  }
  return t;
}

}  // namespace

TextTokenizer load_gpt2_tokenizer(const std::string& vocab_json, const std::string& merges_txt) {
  return load_gpt2_model(vocab_json, merges_txt);
}

TextTokenizer load_tokenizer(const TokenizerOptions& options) {
  check_options(options);
  TextTokenizer t;
  if (options.type == "GPT2BPETokenizer") t = gpt2_tokenizer(options);
  else if (options.type == "HuggingFaceTokenizer") t = load_hf_tokenizer(options);
  else if (options.type == "TikTokenizer") t = load_tiktoken_tokenizer(options);
  else t = load_sentencepiece_tokenizer(options);
  if (options.eod_id) {
    if (*options.eod_id >= t.vocab_size)
      throw UsageError("--eod-id " + std::to_string(*options.eod_id) + " is not below the vocabulary size " +
                       std::to_string(t.vocab_size) + " of " + t.name);
    t.eod_id = *options.eod_id;
    // One ("eod_id", id) entry, whether or not the family wrote one.
    auto entry =
        std::find_if(t.identity.begin(), t.identity.end(), [](const auto& kv) { return kv.first == "eod_id"; });
    if (entry == t.identity.end()) t.identity.emplace_back("eod_id", std::to_string(t.eod_id));
    else entry->second = std::to_string(t.eod_id);
  }
  return t;
}

}  // namespace sp
