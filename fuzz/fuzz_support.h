// Helpers shared by the libFuzzer targets in fuzz/: a property check that
// stops the run with a message (libFuzzer then saves the input as a crash),
// and one scratch directory per fuzzer process for targets that need files.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "sp/fs.h"

// A violated property is a finding: print it and abort so libFuzzer records
// the input (never an exception, which a target might catch).
#define FUZZ_CHECK(cond, ...)                                                          \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: property failed: %s\n  ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                               \
      std::fprintf(stderr, "\n");                                                      \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

namespace sp::fuzz {

// A directory under $TMPDIR (else /tmp) for this process, removed at exit.
// Outputs are not fsync'ed: thousands of runs a second would otherwise wait
// on the disk, and durability is not what is being tested.
inline const std::string& scratch_dir() {
  // Never destroyed, so the exit handler below can still read it.
  static const std::string* const dir = [] {
    set_sync_outputs(false);
    const char* base = std::getenv("TMPDIR");
    auto* d = new std::string(std::string(base && *base ? base : "/tmp") + "/sp_fuzz-" + std::to_string(::getpid()));
    std::filesystem::remove_all(*d);
    std::filesystem::create_directories(*d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return *dir;
}

inline void write_bytes(const std::string& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  FUZZ_CHECK(f != nullptr, "cannot create %s", path.c_str());
  FUZZ_CHECK(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size(), "cannot write %s", path.c_str());
  FUZZ_CHECK(std::fclose(f) == 0, "cannot close %s", path.c_str());
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  FUZZ_CHECK(in.good(), "cannot open %s", path.c_str());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace sp::fuzz
