// SentencePieceTokenizer, GPTSentencePieceTokenizer and Llama2Tokenizer: a
// SentencePiece .model. BPE models with the identity normalizer (Llama-2,
// Mistral) are encoded natively (sentencepiece_bpe.h, exact against the
// library, tens of times faster), and so are unigram models with any
// precompiled charsmap (sentencepiece_unigram.h, exact too); every other
// model is run by libsentencepiece itself (its normalizer, its unigram and
// BPE encoders), so the ids are Google's by construction, and the load notes
// say why. Decoding is the
// library's Decode, reproduced natively (sentencepiece_decoder.h) to keep the
// bytes it would replace with U+FFFD.
//
// Megatron-LM's main branch builds all three type names the same way
// (megatron/core/tokenizers/utils/build_tokenizer.py: SP_TOKENIZERS ->
// library "sentencepiece" -> text/libraries/sentencepiece_tokenizer.py, with
// legacy=False and ignore_extra_whitespaces=True, the flags' defaults):
// text_to_ids is encode_as_ids(text) - no BOS, no EOS added -, eod is the
// model's eos_id(), vocab_size is get_piece_size(). (The legacy tokenizers,
// removed in February 2026, differed: Llama2Tokenizer prepended BOS and
// SentencePieceTokenizer appended <CLS>/<SEP>/<EOD>/<MASK> pieces.)
#include <sentencepiece_processor.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "sentencepiece_bpe.h"
#include "sentencepiece_decoder.h"
#include "sentencepiece_proto.h"
#include "sentencepiece_unigram.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/sha256.h"
#include "tokenizer_families.h"

namespace sp {

TextTokenizer load_sentencepiece_tokenizer(const TokenizerOptions& options) {
  const std::string& path = options.model;
  if (!path_exists(path)) throw InputError(path, 0, "no such file (--tokenizer-model)");
  if (std::error_code ec; std::filesystem::is_directory(path, ec))
    throw InputError(path, 0, "is a directory; " + options.type + " reads a SentencePiece .model file");
  auto processor = std::make_shared<sentencepiece::SentencePieceProcessor>();
  if (const auto status = processor->Load(path); !status.ok())
    throw InputError(path, 0, "not a SentencePiece model: " + status.ToString());

  TextTokenizer t;
  t.name = options.type;
  t.identity = {{"tokenizer_type", t.name}, {"model_sha256", sha256_file(path)}};
  t.vocab_size = static_cast<uint64_t>(processor->GetPieceSize());
  if (options.eod_token) {
    const int id = processor->PieceToId(*options.eod_token);
    if (id < 0 || processor->IdToPiece(id) != *options.eod_token)
      throw UsageError("--eod-token '" + *options.eod_token + "' is not a piece of " + path);
    t.eod_id = static_cast<uint32_t>(id);
    t.identity.emplace_back("eod_id", std::to_string(t.eod_id));
  } else if (processor->eos_id() >= 0) {
    t.eod_id = static_cast<uint32_t>(processor->eos_id());
  } else if (!options.eod_id) {
    // Megatron would append -1; refusing beats writing an id no model has.
    throw InputError(path, 0,
                     "the model has no end-of-sentence piece (eos_id -1), which is " + options.type +
                         "'s end of document; give --eod-id N or --eod-token TEXT");
  }
  const SentencePieceModelSpec spec = parse_sentencepiece_model(processor->serialized_model_proto(), path);
  std::string why_not;
  if (std::optional<SentencePieceDecoder> decoder = SentencePieceDecoder::build(spec, &why_not)) {
    t.decode = [decoder = std::make_shared<const SentencePieceDecoder>(std::move(*decoder))](
                   std::span<const uint32_t> ids) { return decoder->decode(ids); };
  } else {
    // The library's own Decode (DecodeIds), U+FFFD for bytes that are not UTF-8 included.
    t.notes.push_back("libsentencepiece decodes this model: " + why_not);
    t.decode = [processor](std::span<const uint32_t> ids) {
      std::vector<int> pieces;
      pieces.reserve(ids.size());
      for (uint32_t id : ids) {
        if (id >= static_cast<uint32_t>(processor->GetPieceSize()))
          throw Error("token id " + std::to_string(id) + " is not a piece of the SentencePiece model (" +
                      std::to_string(processor->GetPieceSize()) + " pieces)");
        pieces.push_back(static_cast<int>(id));
      }
      std::string text;
      if (const auto status = processor->Decode(pieces, &text); !status.ok())
        throw Error("SentencePiece could not decode ids: " + status.ToString());
      return text;
    };
  }
  // The model type picks the native encoder whose refusal the note gives.
  if (spec.model_type == 1) {
    if (std::optional<SentencePieceUnigram> native = SentencePieceUnigram::build(spec, path, &why_not)) {
      auto shared = std::make_shared<const SentencePieceUnigram>(std::move(*native));
      t.make_encoder = [native = std::move(shared)]() -> TextTokenizer::Encode {
        auto scratch = std::make_shared<SentencePieceUnigram::Scratch>();
        return [native, scratch](std::string_view text) { return native->encode(text, *scratch); };
      };
      return t;
    }
  } else if (std::optional<SentencePieceBpe> native = SentencePieceBpe::build(spec, path, &why_not)) {
    auto shared = std::make_shared<const SentencePieceBpe>(std::move(*native));
    t.make_encoder = [native = std::move(shared)]() -> TextTokenizer::Encode {
      auto scratch = std::make_shared<SentencePieceBpe::Scratch>();
      return [native, scratch](std::string_view text) { return native->encode(text, *scratch); };
    };
    return t;
  }
  t.notes.push_back("libsentencepiece encodes this model, the slower path: " + why_not);
  // Encode is const and safe to call from many threads at once (SentencePiece's
  // authors, google/sentencepiece issues 207 and 657): one processor serves
  // every worker, each with its own id buffer.
  t.make_encoder = [processor]() -> TextTokenizer::Encode {
    auto ids = std::make_shared<std::vector<int>>();
    return [processor, ids](std::string_view text) {
      ids->clear();
      if (const auto status = processor->Encode(text, ids.get()); !status.ok())
        throw Error("SentencePiece could not encode a text: " + status.ToString());
      // Non-negative ints read as their unsigned type: allowed aliasing, no copy.
      return std::span<const uint32_t>(reinterpret_cast<const uint32_t*>(ids->data()), ids->size());
    };
  };
  return t;
}

}  // namespace sp
