// What the native SentencePiece encoders' tests share (sentencepiece_bpe_test,
// sentencepiece_unigram_test): a .model loaded by the library and by our
// reader, the count of texts whose native ids differ from the library's,
// and models trained for a test suite with the library's trainer.
#pragma once

#include <gtest/gtest.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "sentencepiece_proto.h"
#include "sp/fs.h"
#include "sp/sha256.h"
#include "test_support.h"

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

// Trains a model from `flags` (trainer flags with one --input=PATH, no
// --model_prefix) as prefix.model. ctest runs each test of a suite in its own
// process, and each would train the suite's models again (seconds apiece):
// so a model is kept in the build tree under the SHA-256 of its flags, with
// the input's bytes in place of its path, and copied from there once made.
// The library trains every model the tests use, once per build tree.
inline void train_sentencepiece_model(const std::string& flags, const std::string& prefix) {
  const size_t at = flags.find("--input=");
  ASSERT_NE(at, std::string::npos) << flags;
  const size_t end = std::min(flags.find(' ', at), flags.size());
  const std::string input = flags.substr(at + 8, end - at - 8);
  const std::string identity = flags.substr(0, at) + "--input=" + sha256_file(input) + flags.substr(end);
  const std::string cache_dir = std::string(SP_BIN_DIR) + "/../test_cache/sentencepiece";
  const std::string cached = cache_dir + "/" + sha256_hex(identity) + ".model";
  if (!file_exists(cached)) {
    const auto status = sentencepiece::SentencePieceTrainer::Train(flags + " --model_prefix=" + prefix);
    ASSERT_TRUE(status.ok()) << flags << ": " << status.ToString();
    // Whole or absent under its final name (a concurrent test that trained
    // the same model renames the same bytes into place).
    std::filesystem::create_directories(cache_dir);
    AtomicFile copy(cached);
    copy.write(read_file(prefix + ".model"));
    copy.commit();
    return;
  }
  write_file(prefix + ".model", read_file(cached));
}

// Trains each (name, extra flags) model as dir/name.model from `base` flags.
inline void train_sentencepiece_models(const std::string& base, const std::string& dir,
                                       const std::vector<std::pair<const char*, std::string>>& models) {
  for (const auto& [name, extra] : models) {
    SCOPED_TRACE(name);
    train_sentencepiece_model(base + extra, dir + "/" + name);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace sp::test
