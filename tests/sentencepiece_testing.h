// What the native SentencePiece encoders' tests share (sentencepiece_bpe_test,
// sentencepiece_unigram_test): a .model loaded by the library and by our
// reader, the count of texts whose native ids differ from the library's,
// and models trained for a test suite with the library's trainer.
#pragma once

#include <gtest/gtest.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <string>
#include <utility>
#include <vector>

#include "sentencepiece_proto.h"

namespace sp::test {

struct LoadedSentencePiece {
  sentencepiece::SentencePieceProcessor library;
  SentencePieceModelSpec spec;
};

inline void load_sentencepiece(const std::string& path, LoadedSentencePiece& m) {
  ASSERT_TRUE(m.library.Load(path).ok()) << path;
  m.spec = parse_sentencepiece_model(m.library.serialized_model_proto(), path);
}

// How many of `texts` the native encoder (SentencePieceBpe, SentencePieceUnigram)
// encodes differently from the library; the first few are reported as
// failures, both sides spelled as pieces to show where they part.
template <class Encoder>
size_t texts_differing(const LoadedSentencePiece& m, const Encoder& native, const std::vector<std::string>& texts) {
  typename Encoder::Scratch scratch;
  size_t wrong = 0;
  for (const std::string& text : texts) {
    const std::vector<int> want = m.library.EncodeAsIds(text);
    const auto got = native.encode(text, scratch);
    if (std::vector<uint32_t>(got.begin(), got.end()) == std::vector<uint32_t>(want.begin(), want.end()) ||
        ++wrong > 5)
      continue;
    std::string pieces;
    for (const int id : want) pieces += m.library.IdToPiece(id) + "|";
    pieces += "  native: ";
    for (const uint32_t id : native.encode(text, scratch)) pieces += m.library.IdToPiece(static_cast<int>(id)) + "|";
    ADD_FAILURE() << "text '" << text << "'\nlibrary: " << pieces;
  }
  return wrong;
}

// Trains each (name, extra flags) model as dir/name.model from `base` flags.
inline void train_sentencepiece_models(const std::string& base, const std::string& dir,
                                       const std::vector<std::pair<const char*, std::string>>& models) {
  for (const auto& [name, extra] : models) {
    const auto status =
        sentencepiece::SentencePieceTrainer::Train(base + "--model_prefix=" + dir + "/" + name + " " + extra);
    ASSERT_TRUE(status.ok()) << name << ": " << status.ToString();
  }
}

}  // namespace sp::test
