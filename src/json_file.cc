#include "json_file.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>

#include "sp/io.h"
#include "sp/large_table.h"

namespace sp {

JsonFile::JsonFile(const std::string& path) {
  if (path != "-") {
    const UniqueFd fd = open_for_reading(path);
    struct stat st {};
    if (::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      // Zeroed memory, so the padding after the bytes is zeros too.
      const auto size = static_cast<size_t>(st.st_size);
      const size_t bytes = size + simdjson::SIMDJSON_PADDING;
      void* buffer = detail::large_table_allocate(bytes);
      try {
        const size_t got = pread_full(fd.get(), buffer, size, 0, path);
        char extra;
        if (got == size && pread_full(fd.get(), &extra, 1, size, path) == 0) {
          buffer_ = buffer, buffer_bytes_ = bytes;
          data_ = static_cast<const char*>(buffer), size_ = size;
          return;
        }
      } catch (...) {
        detail::large_table_free(buffer, bytes);
        throw;
      }
      detail::large_table_free(buffer, bytes);  // the file changed size while read: read it whole below
    }
  }
  copy_ = simdjson::padded_string(read_file(path));  // read_file names any failure
  data_ = copy_.data();
  size_ = copy_.size();
}

namespace {

// Transparent huge pages for the 2 MiB-aligned part of [p, p + bytes).
void advise_huge(const void* p, size_t bytes) {
#if defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // advice only
#endif
}

}  // namespace

simdjson::simdjson_result<simdjson::dom::element> JsonFile::parse(simdjson::dom::parser& parser) const {
  // The DOM of a big file is tens of megabytes of fresh memory (Gemma's
  // tokenizer.json: 2.2 M structural indexes, 1.3 M tape words, 12 MB of
  // strings), which cost more than the parse in page faults: huge pages took
  // the first parse from ~130 ms to ~100 ms on the dev VM. The buffers are
  // the parser's public members; each is at least capacity x its element
  // (simdjson rounds up), so the ranges stay inside them. If allocate
  // fails, parse reports it.
  if (size_ >= (size_t{2} << 20) && !parser.allocate(size_)) {
    advise_huge(parser.implementation->structural_indexes.get(), size_ * sizeof(uint32_t));
    advise_huge(parser.doc.tape.get(), size_ * sizeof(uint64_t));
    advise_huge(parser.doc.string_buf.get(), size_ * 5 / 3);
  }
  return parser.parse(data_, size_, false);
}

JsonFile::~JsonFile() {
  if (buffer_) detail::large_table_free(buffer_, buffer_bytes_);
}

}  // namespace sp
