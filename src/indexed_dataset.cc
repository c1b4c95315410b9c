#include "sp/indexed_dataset.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <set>

#include "sp/checkpoint.h"
#include "sp/error.h"
#include "sp/failpoint.h"
#include "sp/io.h"

namespace sp {

static_assert(std::endian::native == std::endian::little, "the MMIDIDX format is little-endian; add byte swapping");

namespace {

constexpr char kMagic[9] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', '\0', '\0'};
constexpr uint64_t kVersion = 1;
constexpr size_t kHeaderSize = 9 + 8 + 1 + 8 + 8;

template <class T, class File>  // AtomicFile or ScratchFile
void put(File& f, T v) {
  f.write(&v, sizeof v);
}

}  // namespace

namespace {

bool known_dtype(uint8_t code) { return code >= 1 && code <= 8; }

// A float "token" truncated as a cast would; one no int64 holds (NaN, huge) reads as INT64_MIN, never a valid id.
int64_t float_token(double v) {
  if (!(v > -9.2e18 && v < 9.2e18)) return INT64_MIN;
  return static_cast<int64_t>(std::trunc(v));
}

IndexHeader parse_header(const char* p, uint64_t file_size, const std::string& ip) {
  auto bad = [&](const std::string& why) { return Error(ip + ": " + why); };
  if (file_size < kHeaderSize || std::memcmp(p, kMagic, 9) != 0) throw bad("not an MMIDIDX index (bad magic)");
  uint64_t version;
  uint8_t code;
  IndexHeader h;
  std::memcpy(&version, p + 9, 8);
  std::memcpy(&code, p + 17, 1);
  std::memcpy(&h.sequences, p + 18, 8);
  std::memcpy(&h.document_indices, p + 26, 8);
  if (version != kVersion) throw bad("unsupported version " + std::to_string(version));
  if (!known_dtype(code)) throw bad("unknown token dtype code " + std::to_string(code));
  h.dtype = static_cast<TokenDtype>(code);
  // Untrusted counts: bounded one by one first, so that the sum cannot wrap.
  const uint64_t body = file_size - kHeaderSize;
  if (h.sequences > body / 12 || h.document_indices > body / 8 || h.sequences * 12 + h.document_indices * 8 != body)
    throw bad("size " + std::to_string(file_size) + " does not match its counts (" + std::to_string(h.sequences) +
              " sequences, " + std::to_string(h.document_indices) + " document indices)");
  return h;
}

}  // namespace

size_t dtype_size(TokenDtype d) {
  switch (d) {
    case TokenDtype::kUint8:
    case TokenDtype::kInt8: return 1;
    case TokenDtype::kInt16:
    case TokenDtype::kUint16: return 2;
    case TokenDtype::kInt32:
    case TokenDtype::kFloat32: return 4;
    case TokenDtype::kInt64:
    case TokenDtype::kFloat64: return 8;
  }
  throw Error("unknown token dtype code " + std::to_string(static_cast<int>(d)));
}

const char* dtype_name(TokenDtype d) {
  switch (d) {
    case TokenDtype::kUint8: return "uint8";
    case TokenDtype::kInt8: return "int8";
    case TokenDtype::kInt16: return "int16";
    case TokenDtype::kInt32: return "int32";
    case TokenDtype::kInt64: return "int64";
    case TokenDtype::kFloat64: return "float64";
    case TokenDtype::kFloat32: return "float32";
    case TokenDtype::kUint16: return "uint16";
  }
  return "?";
}

TokenDtype dtype_for_vocab_size(uint64_t vocab_size) {
  return vocab_size < 65500 ? TokenDtype::kUint16 : TokenDtype::kInt32;
}

void append_tokens(TokenDtype dtype, std::span<const uint32_t> ids, ByteBuffer& bytes) {
  const size_t at = bytes.size();
  if (dtype == TokenDtype::kUint16) {
    bytes.resize(at + ids.size() * 2);
    auto* p = reinterpret_cast<uint16_t*>(bytes.data() + at);  // vector<char> storage is suitably aligned
    for (size_t i = 0; i < ids.size(); ++i) p[i] = static_cast<uint16_t>(ids[i]);
  } else if (dtype == TokenDtype::kInt32) {
    bytes.resize(at + ids.size() * 4);
    if (!ids.empty()) std::memcpy(bytes.data() + at, ids.data(), ids.size() * 4);  // an empty span may be null
  } else {
    throw Error("token dtype code " + std::to_string(static_cast<int>(dtype)) + " is not used for token ids");
  }
}

IndexedDatasetWriter::IndexedDatasetWriter(std::string prefix, TokenDtype dtype)
    : prefix_(std::move(prefix)), dtype_(dtype) {
  // Tokens only ever arrive through reserve/write_at (append_index, write_tokens).
  bin_ = std::make_unique<AtomicFile>(bin_path(prefix_));
  // Scratch files sit beside the outputs (same file system) and never have a name to leave behind.
  lengths_ = std::make_unique<ScratchFile>(idx_path(prefix_) + ".lengths");
  doc_index_ = std::make_unique<ScratchFile>(idx_path(prefix_) + ".docs");
  put<int64_t>(*doc_index_, 0);
}

IndexedDatasetWriter::IndexedDatasetWriter(std::string prefix, TokenDtype dtype, const WriterCheckpoint* from)
    : prefix_(std::move(prefix)), dtype_(dtype), resumable_(true) {
  const WriterCheckpoint at = from ? *from : WriterCheckpoint{};
  const auto parts = writer_part_paths(prefix_);
  bin_ = std::make_unique<AtomicFile>(bin_path(prefix_), parts[0], at.bin_bytes);
  lengths_ = ScratchFile::resumable(parts[1], at.lengths_bytes);
  doc_index_ = ScratchFile::resumable(parts[2], at.documents_bytes);
  if (!from) put<int64_t>(*doc_index_, 0);
  documents_ = at.documents;
  sequences_ = at.sequences;
  token_bytes_ = at.bin_bytes;
}

IndexedDatasetWriter::~IndexedDatasetWriter() = default;  // AtomicFile destructors remove temporaries (not parts)

std::vector<std::string> writer_part_paths(const std::string& prefix) {
  const std::string idx = idx_path(prefix);
  return {part_path_for(bin_path(prefix)), part_path_for(idx + ".lengths"), part_path_for(idx + ".docs")};
}

WriterCheckpoint IndexedDatasetWriter::position() const {
  return {token_bytes_, lengths_->size(), doc_index_->size(), documents_, sequences_};
}

void IndexedDatasetWriter::sync() {
  if (!resumable_) throw Error("internal: sync of a writer that is not resumable: " + prefix_);
  bin_->sync();
  lengths_->sync();
  doc_index_->sync();
}

void IndexedDatasetWriter::discard_parts() {
  if (!resumable_ || finished_) return;
  bin_->discard();
  lengths_->remove();
  doc_index_->remove();
}  // AtomicFile destructors remove temporaries

std::vector<std::string> writer_temp_finals(const std::string& prefix) {
  const std::string idx = idx_path(prefix);
  return {bin_path(prefix), idx, idx + ".lengths", idx + ".docs"};  // the last two: named scratch of older versions
}

void IndexedDatasetWriter::append(const DocumentBatch& b) { write_tokens(append_index(b), b); }

uint64_t IndexedDatasetWriter::append_index(const DocumentBatch& b) {
  if (finished_) throw Error("internal: append after finish on " + prefix_);
  const uint64_t offset = bin_->reserve(b.token_bytes.size());
  lengths_->write(b.sequence_lengths.data(), b.sequence_lengths.size() * sizeof(int32_t));
  token_bytes_ += b.token_bytes.size();
  for (uint32_t n : b.sequences_per_document) {
    sequences_ += n;
    put<int64_t>(*doc_index_, static_cast<int64_t>(sequences_));
  }
  documents_ += b.sequences_per_document.size();
  return offset;
}

void IndexedDatasetWriter::write_tokens(uint64_t offset, const DocumentBatch& b) const {
  bin_->write_at(offset, b.token_bytes.data(), b.token_bytes.size());
}

void IndexedDatasetWriter::add_document(std::span<const uint32_t> tokens, std::span<const int32_t> lengths) {
  DocumentBatch b;
  append_tokens(dtype_, tokens, b.token_bytes);
  b.sequence_lengths.assign(lengths.begin(), lengths.end());
  b.sequences_per_document.push_back(static_cast<uint32_t>(lengths.size()));
  append(b);
}

void IndexedDatasetWriter::finish() {
  if (finished_) return;
  AtomicFile idx(idx_path(prefix_));
  idx.write(kMagic, sizeof kMagic);
  put<uint64_t>(idx, kVersion);
  put<uint8_t>(idx, static_cast<uint8_t>(dtype_));
  put<uint64_t>(idx, sequences_);
  put<uint64_t>(idx, documents_ + 1);
  const auto copy = [&idx](const char* p, size_t n) { idx.write(p, n); };
  lengths_->read_all(copy);
  {
    // Pointers are the running byte offsets of the sequences in the .bin.
    constexpr size_t kLengths = size_t{1} << 18;  // per piece: whole int32s
    std::vector<int32_t> lens(kLengths);
    std::vector<int64_t> ptrs(kLengths);
    int64_t offset = 0;
    const auto item = static_cast<int64_t>(dtype_size(dtype_));
    lengths_->read_all(
        [&](const char* p, size_t bytes) {
          const size_t n = bytes / 4;
          std::memcpy(lens.data(), p, n * 4);
          for (size_t i = 0; i < n; ++i) {
            ptrs[i] = offset;
            offset += lens[i] * item;
          }
          idx.write(ptrs.data(), n * 8);
        },
        kLengths * 4);
    if (static_cast<uint64_t>(offset) != token_bytes_) throw Error("internal: sequence lengths do not add up for " + prefix_);
  }
  doc_index_->read_all(copy);
  // The .bin first, the .idx last: an .idx at its final name means the pair is
  // complete. An older pair being replaced loses its .idx first, so it never
  // describes the new .bin.
  if (path_exists(idx_path(prefix_)) && ::unlink(idx_path(prefix_).c_str()) != 0)
    throw Error(errno_message("cannot replace", idx_path(prefix_)));
  bin_->commit();
  failpoint("dataset.between_bin_and_idx_rename");
  idx.commit();
  if (resumable_) {
    lengths_->remove();
    doc_index_->remove();
  }
  lengths_.reset();  // frees the scratch space now
  doc_index_.reset();
  finished_ = true;
}

std::vector<uint32_t> IndexedDataset::sequence(size_t i) const {
  const size_t item = dtype_size(dtype);
  const size_t n = static_cast<size_t>(sequence_lengths.at(i));
  const char* p = bin.data() + sequence_pointers.at(i);
  std::vector<uint32_t> ids(n);
  for (size_t k = 0; k < n; ++k) {
    if (item == 2) {
      uint16_t v;
      std::memcpy(&v, p + 2 * k, 2);
      ids[k] = v;
    } else {
      int32_t v;
      std::memcpy(&v, p + 4 * k, 4);
      ids[k] = static_cast<uint32_t>(v);
    }
  }
  return ids;
}

std::vector<uint32_t> IndexedDataset::document(size_t d) const {
  std::vector<uint32_t> ids;
  for (auto s = document_indices.at(d); s < document_indices.at(d + 1); ++s) {
    auto seq = sequence(static_cast<size_t>(s));
    ids.insert(ids.end(), seq.begin(), seq.end());
  }
  return ids;
}

IndexedDataset read_indexed_dataset(const std::string& prefix) {
  const std::string ip = idx_path(prefix);
  const std::string idx = read_file(ip);
  auto bad = [&](const std::string& why) { return Error(ip + ": " + why); };
  const IndexHeader h = parse_header(idx.data(), idx.size(), ip);
  IndexedDataset ds;
  ds.dtype = h.dtype;
  // The token dtypes Megatron writes (and sequence() decodes); any other
  // code would have its tokens read with the wrong width.
  if (ds.dtype != TokenDtype::kUint16 && ds.dtype != TokenDtype::kInt32)
    throw bad("token dtype code " + std::to_string(static_cast<int>(h.dtype)) + " is not uint16 (8) or int32 (4)");
  const size_t item = dtype_size(ds.dtype);
  const uint64_t seqs = h.sequences, docs = h.document_indices;
  const char* p = idx.data() + kHeaderSize;
  ds.sequence_lengths.resize(seqs);
  ds.sequence_pointers.resize(seqs);
  ds.document_indices.resize(docs);
  if (seqs) {  // memcpy must not see the null data() of an empty vector
    std::memcpy(ds.sequence_lengths.data(), p, seqs * 4);
    std::memcpy(ds.sequence_pointers.data(), p + seqs * 4, seqs * 8);
  }
  if (docs) std::memcpy(ds.document_indices.data(), p + seqs * 12, docs * 8);
  ds.bin = read_file(bin_path(prefix));
  int64_t offset = 0;
  for (size_t i = 0; i < seqs; ++i) {
    if (ds.sequence_lengths[i] < 0 || ds.sequence_pointers[i] != offset) throw bad("sequence " + std::to_string(i) + " has an inconsistent pointer");
    offset += ds.sequence_lengths[i] * static_cast<int64_t>(item);
  }
  if (static_cast<uint64_t>(offset) != ds.bin.size())
    throw Error(bin_path(prefix) + ": size " + std::to_string(ds.bin.size()) + " does not match the index (" + std::to_string(offset) + ")");
  if (docs == 0 || ds.document_indices.front() != 0 || static_cast<uint64_t>(ds.document_indices.back()) != seqs)
    throw bad("document indices must start at 0 and end at the sequence count");
  for (size_t d = 1; d < docs; ++d)
    if (ds.document_indices[d] < ds.document_indices[d - 1]) throw bad("document indices decrease at " + std::to_string(d));
  return ds;
}


std::vector<std::string> expand_dataset_paths(const std::vector<std::string>& paths, bool recursive) {
  std::vector<std::string> prefixes;
  for (const std::string& path : paths) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      const auto files = list_files(path, [&](std::string_view rel) {
        const bool here = recursive || rel.find('/') == std::string_view::npos;
        return here && (ends_with(rel, ".bin") || ends_with(rel, ".idx"));
      });
      std::set<std::string> names;
      for (const FileEntry& f : files) names.insert(f.path);
      const size_t before = prefixes.size();
      for (const FileEntry& f : files) {
        const std::string prefix = f.path.substr(0, f.path.size() - 4);
        const bool is_bin = ends_with(f.relative, ".bin");
        if (!names.count(is_bin ? idx_path(prefix) : bin_path(prefix)))
          throw Error("'" + f.path + "' has no " + (is_bin ? ".idx" : ".bin") + " beside it");
        if (is_bin) prefixes.push_back(prefix);
      }
      if (prefixes.size() == before) throw Error("'" + path + "' holds no .bin/.idx dataset");
      // Megatron sorts the prefixes, not the file names ("a" before "a.b", whose .bin sorts first).
      std::sort(prefixes.begin() + static_cast<std::ptrdiff_t>(before), prefixes.end());
      continue;
    }
    std::string prefix = path;
    if (ends_with(path, ".bin") || ends_with(path, ".idx")) prefix = path.substr(0, path.size() - 4);
    const bool has_idx = path_exists(idx_path(prefix)), has_bin = path_exists(bin_path(prefix));
    if (!has_idx && !has_bin) throw Error("no dataset at '" + path + "' (neither " + prefix + ".idx nor .bin exists)");
    if (!has_idx || !has_bin)
      throw Error("'" + (has_idx ? idx_path(prefix) : bin_path(prefix)) + "' has no " + (has_idx ? ".bin" : ".idx") +
                  " beside it");
    prefixes.push_back(prefix);
  }
  return prefixes;
}

IndexHeader read_index_header(const std::string& prefix) {
  const std::string ip = idx_path(prefix);
  const UniqueFd fd = open_for_reading(ip);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw Error(errno_message("cannot stat", ip));
  char head[kHeaderSize] = {};
  const size_t got = pread_full(fd.get(), head, kHeaderSize, 0, ip);
  return parse_header(head, got < kHeaderSize ? got : static_cast<uint64_t>(st.st_size), ip);
}

struct MappedIndexedDataset::Map {
  void* data = nullptr;
  size_t size = 0;
  Map(const std::string& path) {
    const UniqueFd fd = open_for_reading(path);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throw Error(errno_message("cannot stat", path));
    if (!S_ISREG(st.st_mode)) throw Error("'" + path + "' is not a regular file");
    size = static_cast<size_t>(st.st_size);
    if (size == 0) return;  // mmap refuses length 0; an empty .bin is valid
    data = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
    if (data == MAP_FAILED) throw Error(errno_message("cannot map", path));
  }
  ~Map() {
    if (data) ::munmap(data, size);
  }
  const char* bytes() const { return static_cast<const char*>(data); }
};

MappedIndexedDataset::MappedIndexedDataset(const std::string& prefix) : prefix_(prefix) {
  idx_ = std::make_unique<Map>(idx_path(prefix));
  static const char kEmpty[1] = {};
  header_ = parse_header(idx_->size ? idx_->bytes() : kEmpty, idx_->size, idx_path(prefix));
  bin_ = std::make_unique<Map>(bin_path(prefix));
}

MappedIndexedDataset::~MappedIndexedDataset() = default;
MappedIndexedDataset::MappedIndexedDataset(MappedIndexedDataset&&) noexcept = default;
MappedIndexedDataset& MappedIndexedDataset::operator=(MappedIndexedDataset&&) noexcept = default;

// The arrays start at byte 34 of the file: not aligned for their types, so
// every element is read with memcpy.
int32_t MappedIndexedDataset::sequence_length(uint64_t i) const {
  int32_t v;
  std::memcpy(&v, idx_->bytes() + kHeaderSize + i * 4, 4);
  return v;
}

int64_t MappedIndexedDataset::sequence_pointer(uint64_t i) const {
  int64_t v;
  std::memcpy(&v, idx_->bytes() + kHeaderSize + header_.sequences * 4 + i * 8, 8);
  return v;
}

int64_t MappedIndexedDataset::document_index(uint64_t i) const {
  int64_t v;
  std::memcpy(&v, idx_->bytes() + kHeaderSize + header_.sequences * 12 + i * 8, 8);
  return v;
}

std::string_view MappedIndexedDataset::bin() const { return {bin_->size ? bin_->bytes() : "", bin_->size}; }

int64_t MappedIndexedDataset::token_at(uint64_t byte_offset) const {
  const char* p = bin_->bytes() + byte_offset;
  auto get = [p]<class T>(T v) {
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  switch (header_.dtype) {
    case TokenDtype::kUint8: return get(uint8_t{});
    case TokenDtype::kInt8: return get(int8_t{});
    case TokenDtype::kInt16: return get(int16_t{});
    case TokenDtype::kUint16: return get(uint16_t{});
    case TokenDtype::kInt32: return get(int32_t{});
    case TokenDtype::kInt64: return get(int64_t{});
    case TokenDtype::kFloat32: return float_token(get(float{}));
    case TokenDtype::kFloat64: return float_token(get(double{}));
  }
  return 0;
}

}  // namespace sp
