// Command-line conventions shared by every tool: GNU-style long flags
// (`--name VALUE`, `--name=VALUE`, `--switch`), lists given either by repeating
// a flag or as several values after it (`--json-keys text meta`, as Megatron's
// argparse nargs='+'), `--help` and `--version` everywhere, sizes with K/M/G/T.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sp/tokenizer.h"

namespace sp::cli {

struct Option {
  std::string name;            // long name without dashes: "input"
  std::string metavar;         // "FILE"; empty means a boolean switch
  std::string help;            // one or two sentences
  std::string default_value;   // shown in --help; applied when the flag is absent
  bool list = false;           // may repeat / take several values
  std::vector<std::string> aliases;  // other accepted long names ("vocab" for "vocab-file")
  // The value may be left out: only `--name=VALUE` gives one (as getopt's
  // optional arguments), so a following positional is never taken for it;
  // `--name` alone reads as "".
  bool optional_value = false;
};

struct Program {
  std::string name;     // "sp_tokenize"
  std::string summary;  // one line
  std::string usage;    // "sp_tokenize --input FILE --output-prefix PREFIX [options]"
  std::vector<Option> options;
  std::string epilog;   // examples, notes
};

// The result of parsing: flag name -> values (switches hold "1").
struct Args {
  std::map<std::string, std::vector<std::string>> values;
  std::vector<std::string> positional;

  bool has(const std::string& name) const;
  // Last value given, or the option's default, or fallback.
  std::string get(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> all(const std::string& name) const;
  bool flag(const std::string& name) const { return has(name); }
  // Typed accessors; throw UsageError naming the flag on a bad value.
  int64_t get_int(const std::string& name, int64_t fallback) const;
  double get_double(const std::string& name, double fallback) const;
  uint64_t get_size(const std::string& name, uint64_t fallback) const;
};

// Parses argv against the program's options. Prints help and exits 0 on
// --help, prints the version and exits 0 on --version, throws UsageError on an
// unknown flag, a missing value, or (unless allow_positional) a positional.
Args parse(const Program& program, int argc, char** argv, bool allow_positional = false);

std::string help_text(const Program& program);

// "34G" -> 34 * 1024^3. Accepts K/M/G/T (powers of 1024), optional "B"/"iB".
// Throws UsageError on anything else.
uint64_t parse_size(std::string_view text);
// 1536 -> "1.5 KiB"; used in plans and summaries.
std::string format_size(uint64_t bytes);
// Seconds -> "1:02:03" / "2:03".
std::string format_duration(double seconds);

// Megatron's tokenizer flags as TokenizerOptions: --tokenizer-type, --tokenizer-model, --vocab-file,
// --merge-file, --tiktoken-pattern, --tiktoken-num-special-tokens, --vocab-size, --eod-id, --eod-token,
// --tokenizer-hf-no-include-special-tokens (a flag the program does not define reads as absent).
// Throws UsageError on Megatron flags that change ids in ways not implemented, and on counts out of
// range; load_tokenizer checks the combinations.
TokenizerOptions tokenizer_options(const Args& args);

}  // namespace sp::cli
