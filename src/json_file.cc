#include "json_file.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>

#include "sp/io.h"

namespace sp {

JsonFile::JsonFile(const std::string& path) {
  if (path != "-") {
    const UniqueFd fd = open_for_reading(path);
    struct stat st {};
    if (::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      // Zero pages for the padding, the file mapped over their start: the
      // rest of the file's last page reads as zeros, and the pages after it
      // are the reservation's. MAP_POPULATE maps the cached pages in one go.
      const size_t size = static_cast<size_t>(st.st_size);
      const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
      const size_t bytes = (size + simdjson::SIMDJSON_PADDING + page - 1) / page * page;
      void* reserved = ::mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (reserved != MAP_FAILED) {
        if (::mmap(reserved, size, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_POPULATE, fd.get(), 0) != MAP_FAILED) {
          map_ = reserved;
          map_bytes_ = bytes;
          data_ = static_cast<const char*>(reserved);
          size_ = size;
          return;
        }
        ::munmap(reserved, bytes);
      }
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
  if (map_) ::munmap(map_, map_bytes_);
}

}  // namespace sp
