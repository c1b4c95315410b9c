// Tokenizes one line with GPT-2 and writes and reads back a dataset through
// the installed headers and library: prints the ids, then the dataset's counts.
//   consumer GPT2_DIR OUT_PREFIX
#include <cstdio>
#include <span>
#include <string>

#include "sp/error.h"
#include "sp/indexed_dataset.h"
#include "sp/tokenizer.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  try {
    const std::string dir = argv[1];
    const sp::TextTokenizer t = sp::load_gpt2_tokenizer(dir + "/vocab.json", dir + "/merges.txt");
    const sp::TextTokenizer::Encode encode = t.make_encoder();  // owns the buffer ids points into
    const std::span<const uint32_t> ids = encode("Hello world");
    for (uint32_t id : ids) std::printf("%u ", id);
    std::printf("\n");
    sp::IndexedDatasetWriter w(argv[2], sp::dtype_for_vocab_size(t.vocab_size));
    const int32_t lengths[] = {static_cast<int32_t>(ids.size())};
    w.add_document(ids, lengths);
    w.finish();
    const sp::IndexHeader h = sp::read_index_header(argv[2]);
    std::printf("documents %llu sequences %llu\n", static_cast<unsigned long long>(h.documents()),
                static_cast<unsigned long long>(h.sequences));
  } catch (const sp::Error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
  return 0;
}
