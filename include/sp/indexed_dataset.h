// Megatron-LM's indexed dataset ("MMIDIDX" v1): a .bin of raw token ids and an
// .idx describing sequences and documents, byte-identical to what
// Megatron-LM's IndexedDatasetBuilder writes and what NeMo/Megatron read.
//
// .idx layout (little-endian):
//   "MMIDIDX\0\0"                 9-byte magic
//   uint64 version = 1
//   uint8  dtype code             (8 = uint16, 4 = int32, ...)
//   uint64 sequence count S
//   uint64 document-index count D (= documents + 1)
//   int32  sequence lengths [S]   (tokens per sequence)
//   int64  sequence pointers [S]  (byte offset of each sequence in .bin)
//   int64  document indices [D]   (0, then the sequence count after each document)
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "sp/fs.h"
#include "sp/scratch_file.h"

namespace sp {

// Megatron's DType codes.
enum class TokenDtype : uint8_t { kUint8 = 1, kInt8 = 2, kInt16 = 3, kInt32 = 4, kInt64 = 5, kFloat64 = 6, kFloat32 = 7, kUint16 = 8 };

size_t dtype_size(TokenDtype d);
// numpy's name for the code ("uint16", "int32", ...); "?" for none of the eight.
const char* dtype_name(TokenDtype d);
// Megatron's rule: uint16 when the vocabulary has fewer than 65500 entries, else int32.
TokenDtype dtype_for_vocab_size(uint64_t vocab_size);

inline std::string bin_path(const std::string& prefix) { return prefix + ".bin"; }
inline std::string idx_path(const std::string& prefix) { return prefix + ".idx"; }

// A std::allocator that leaves new elements uninitialized (default-init), so
// growing a byte buffer that is about to be overwritten costs no memset.
template <class T>
struct UninitializedAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using ByteBuffer = std::vector<char, UninitializedAllocator<char>>;

// A batch of whole documents, already in the output dtype, as produced by one
// parallel tokenization task. The writer either appends it whole (append) or
// in two steps, so that only the index part is serial: append_index in
// document order, then write_tokens from any thread.
struct DocumentBatch {
  ByteBuffer token_bytes;                   // all tokens, little-endian, in dtype
  std::vector<int32_t> sequence_lengths;    // tokens per sequence
  std::vector<uint32_t> sequences_per_document;  // 0 for a document that produced no tokens
  void clear() {
    token_bytes.clear();
    sequence_lengths.clear();
    sequences_per_document.clear();
  }
};

// Streams a dataset to <prefix>.bin/.idx with memory bounded whatever the
// corpus size: tokens go straight to the .bin, sequence lengths and document
// indices to nameless scratch files beside it (sp/scratch_file.h: they vanish
// with the process, even after kill -9), and the .idx is assembled by
// finish(). Both files are written under temporary names; finish() renames
// the .bin and then the .idx, so a pair with an .idx is always complete.
// Destroyed without finish(), nothing is left behind.
//
// A resumable writer instead works in named part files (writer_part_paths),
// which a kill or a destruction without finish() leaves for a later run:
// sync() makes what was appended durable and position() says how far that
// is, so a checkpoint can name a state that a writer constructed with it
// continues exactly (the parts cut back to it), ending with the bytes of an
// uninterrupted writer. finish() renames the .bin part into place, assembles
// the .idx from the index parts and removes them.
struct WriterCheckpoint {
  uint64_t bin_bytes = 0, lengths_bytes = 0, documents_bytes = 0;  // the parts' lengths
  uint64_t documents = 0, sequences = 0;
};

class IndexedDatasetWriter {
 public:
  IndexedDatasetWriter(std::string prefix, TokenDtype dtype);
  // Resumable; `from` continues the parts of an earlier writer of `prefix`
  // at that checkpoint, nullptr starts them afresh. Throws Error.
  IndexedDatasetWriter(std::string prefix, TokenDtype dtype, const WriterCheckpoint* from);
  ~IndexedDatasetWriter();
  IndexedDatasetWriter(const IndexedDatasetWriter&) = delete;
  IndexedDatasetWriter& operator=(const IndexedDatasetWriter&) = delete;

  void append(const DocumentBatch& batch);
  // append() in two steps. append_index records the batch's sequences and
  // documents and reserves room for its tokens in the .bin; call it in
  // document order, from one thread at a time. write_tokens then fills that
  // room and may run on any thread, concurrently with other batches'; all
  // must have returned before finish().
  uint64_t append_index(const DocumentBatch& batch);  // returns the .bin offset
  void write_tokens(uint64_t offset, const DocumentBatch& batch) const;
  // Convenience for tests and small tools: one document of several sequences.
  void add_document(std::span<const uint32_t> tokens, std::span<const int32_t> sequence_lengths);
  void finish();

  // Resumable writers only. position(): what append_index has recorded so
  // far. sync(): makes everything written so far durable; a batch's tokens
  // are included once its write_tokens has returned. discard_parts():
  // removes the part files (the work is abandoned, not to be resumed).
  WriterCheckpoint position() const;
  void sync();
  void discard_parts();

  TokenDtype dtype() const { return dtype_; }
  uint64_t documents() const { return documents_; }
  uint64_t sequences() const { return sequences_; }
  uint64_t tokens() const { return token_bytes_ / dtype_size(dtype_); }

 private:
  std::string prefix_;
  TokenDtype dtype_;
  std::unique_ptr<AtomicFile> bin_;
  std::unique_ptr<ScratchFile> lengths_, doc_index_;
  uint64_t documents_ = 0, sequences_ = 0, token_bytes_ = 0;
  bool finished_ = false;
  bool resumable_ = false;
};

// The part files a resumable writer of `prefix` works in: the .bin's, the
// sequence lengths' and the document indices' ("<prefix>.bin.sp-part",
// "<prefix>.idx.lengths.sp-part", "<prefix>.idx.docs.sp-part").
std::vector<std::string> writer_part_paths(const std::string& prefix);

// The final names a writer of `prefix` writes temporaries for, including the
// named scratch files of older versions ("<prefix>.idx.lengths.tmp-*",
// "<prefix>.idx.docs.tmp-*"): what to pass to remove_stale_temps before
// rebuilding the pair.
std::vector<std::string> writer_temp_finals(const std::string& prefix);

// Appends token ids to `bytes` in `dtype` (little-endian). Ids must fit.
void append_tokens(TokenDtype dtype, std::span<const uint32_t> ids, ByteBuffer& bytes);

// A dataset read back into memory, for tests, inspection and round trips.
struct IndexedDataset {
  TokenDtype dtype = TokenDtype::kUint16;
  std::vector<int32_t> sequence_lengths;
  std::vector<int64_t> sequence_pointers;
  std::vector<int64_t> document_indices;
  std::string bin;  // the whole .bin

  size_t sequence_count() const { return sequence_lengths.size(); }
  size_t document_count() const { return document_indices.empty() ? 0 : document_indices.size() - 1; }
  // Token ids of sequence i.
  std::vector<uint32_t> sequence(size_t i) const;
  // Token ids of document d (all its sequences, concatenated).
  std::vector<uint32_t> document(size_t d) const;
};

// Reads and checks <prefix>.idx/.bin (magic, version, a uint16 or int32
// dtype, counts, pointers consistent with lengths, .bin size); throws Error
// naming the file.
IndexedDataset read_indexed_dataset(const std::string& prefix);

// The dataset prefixes `paths` name, in order. Each path is a prefix, a
// <prefix>.bin or <prefix>.idx file (taken as its prefix), or a directory:
// every <prefix>.bin/.idx pair in it (and, when `recursive`, below it), in
// byte order of their relative names, as Megatron-LM's merge_datasets.py
// sorts a directory; other files there (records, temporaries) are skipped.
// Throws Error naming the path when a pair lacks its .bin or .idx, when a path
// names no dataset, or when a directory holds none.
std::vector<std::string> expand_dataset_paths(const std::vector<std::string>& paths, bool recursive = false);

// What the fixed-size start of an .idx says, checked against the file's size
// only (no array is read): what a blend needs, and where every reader starts.
struct IndexHeader {
  TokenDtype dtype = TokenDtype::kUint16;  // any of Megatron's eight codes
  uint64_t sequences = 0;
  uint64_t document_indices = 0;  // documents + 1 in a well-formed index
  uint64_t documents() const { return document_indices ? document_indices - 1 : 0; }
};

// Reads <prefix>.idx's header; throws Error naming the file on a short file,
// bad magic, a version other than 1, an unknown dtype code, or counts that do
// not add up to the file's size.
IndexHeader read_index_header(const std::string& prefix);

// A dataset mapped read-only, for files of any size: the .idx arrays and the
// .bin are read in place, pages on demand. Opening checks only what
// read_index_header checks (O(1)); contents are the caller's to verify.
// Accessors take an index below the matching count. Safe to read from many
// threads at once.
class MappedIndexedDataset {
 public:
  explicit MappedIndexedDataset(const std::string& prefix);
  ~MappedIndexedDataset();
  MappedIndexedDataset(MappedIndexedDataset&&) noexcept;
  MappedIndexedDataset& operator=(MappedIndexedDataset&&) noexcept;

  const std::string& prefix() const { return prefix_; }
  const IndexHeader& header() const { return header_; }
  int32_t sequence_length(uint64_t i) const;
  int64_t sequence_pointer(uint64_t i) const;
  int64_t document_index(uint64_t i) const;  // i < header().document_indices
  // The whole .bin, and the token at a byte offset in it, widened (dtype's
  // width and signedness; a float dtype's value as Megatron would cast it).
  std::string_view bin() const;
  int64_t token_at(uint64_t byte_offset) const;

 private:
  struct Map;
  std::string prefix_;
  IndexHeader header_;
  std::unique_ptr<Map> idx_, bin_;
};

}  // namespace sp
