#include "sp/blend.h"

#include <fnmatch.h>
#include <sys/stat.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

#include "sp/error.h"
#include "sp/fs.h"
#include "sp/json_out.h"
#include "sp/unicode.h"

namespace sp {

namespace {

bool matches(const std::string& pattern, const std::string& name) {
  return ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

// The shortest text that Python's float() (and JSON, and strtod) reads back as
// exactly `v`.
std::string shortest(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// PyYAML (under OmegaConf) resolves a plain scalar as a float only with a '.'
// in it and a signed exponent (YAML 1.1): "1e-05" would be a string there.
// to_chars always signs the exponent, so only the dot may be missing.
std::string yaml_float(double v) {
  std::string s = shortest(v);
  if (s.find('.') == std::string::npos) {
    const size_t e = s.find('e');
    s.insert(e == std::string::npos ? s.size() : e, ".0");
  }
  return s;
}

// Python's str.split() and str.strip() (no argument) whitespace, which Megatron
// applies to the --data-args-path text and to every prefix.
bool python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::vector<char32_t> code_points(const std::string& path) {
  std::vector<char32_t> cps;
  for (size_t i = 0; i < path.size();) {
    size_t n = 0;
    cps.push_back(decode_utf8(path.data() + i, &n));
    i += n;
  }
  return cps;
}

// What every format needs: text Python reads as UTF-8, and no whitespace at
// either end (Megatron strips it, so the prefix would name another path).
std::vector<char32_t> check_path_common(const std::string& path) {
  if (!is_valid_utf8(path)) throw Error("path '" + path + "' is not valid UTF-8: no trainer config can name it");
  auto cps = code_points(path);
  if (cps.empty()) throw Error("an empty path cannot be written in a blend");
  if (python_space(cps.front()) || python_space(cps.back()))
    throw Error("path " + json_quote(path) + " starts or ends with whitespace, which Megatron strips from prefixes");
  return cps;
}

void check_path(const std::string& path, BlendFormat format) {
  const auto cps = check_path_common(path);
  if (format == BlendFormat::kMegatronArgs) {
    for (char32_t c : cps)
      if (python_space(c))
        throw Error("path " + json_quote(path) + " contains whitespace: Megatron splits the --data-args-path file on "
                    "whitespace, so it cannot be written there (use --format megatron-split-json, whose lists keep "
                    "it, or rename the dataset)");
  } else if (format == BlendFormat::kNemoYaml) {
    // OmegaConf resolves "${...}" in any string value, and the override line
    // quotes paths in double quotes inside single shell quotes.
    if (path.find("${") != std::string::npos)
      throw Error("path " + json_quote(path) + " contains '${', which NeMo's OmegaConf would read as an interpolation");
    for (char32_t c : cps)
      if (c == '\'' || c == '"' || c == '\\' || c < 0x20 || (c >= 0x7F && c <= 0x9F))
        throw Error("path " + json_quote(path) +
                    " contains a quote, backslash or control character, which the NeMo override line cannot carry");
  }
}

void check_rules_used(const std::vector<GroupRule>& rules, const std::vector<size_t>& uses, std::string_view flag) {
  for (size_t r = 0; r < rules.size(); ++r)
    if (!uses[r])
      throw UsageError(std::string(flag) + " '" + rules[r].pattern + "' matches no train dataset");
}

const char* split_name(BlendSplit s) {
  return s == BlendSplit::kTrain ? "train" : s == BlendSplit::kValid ? "valid" : "test";
}

std::vector<const BlendDataset*> of_split(const std::vector<BlendDataset>& blend, BlendSplit split) {
  std::vector<const BlendDataset*> v;
  for (const auto& d : blend)
    if (d.split == split) v.push_back(&d);
  return v;
}

std::string megatron_args(const std::vector<BlendDataset>& blend) {
  std::string out;
  for (const auto& d : blend) {
    if (d.split != BlendSplit::kTrain)
      throw UsageError("--format megatron-args holds one blend, which Megatron divides by --split; for --valid and "
                       "--test datasets use --format megatron-split-json");
    out += shortest(d.weight) + " " + d.path + "\n";
  }
  return out;
}

// get_blend_and_blend_per_split: json.load, then each of "train", "valid",
// "test" is a list of weights and prefixes (a string would be split on
// whitespace; a list keeps paths whole), or null for a split not given.
std::string megatron_split_json(const std::vector<BlendDataset>& blend) {
  std::string out = "{\n";
  for (BlendSplit s : {BlendSplit::kTrain, BlendSplit::kValid, BlendSplit::kTest}) {
    const auto ds = of_split(blend, s);
    out += std::string("  \"") + split_name(s) + "\": ";
    if (ds.empty()) {
      out += "null";
    } else {
      out += "[\n";
      for (size_t i = 0; i < ds.size(); ++i)
        out += "    " + shortest(ds[i]->weight) + ", " + json_quote(ds[i]->path) + (i + 1 < ds.size() ? ",\n" : "\n");
      out += "  ]";
    }
    out += s == BlendSplit::kTest ? "\n" : ",\n";
  }
  return out + "}\n";
}

// pretrain_gpt.py json.loads this into config.sequences_per_dataset, looked up
// by each blend prefix; _IndexReader then takes [0] as its sequence_count and
// [1] as its document_count, which is the length of the document-indices
// array (documents + 1), i.e. the .idx header's second count.
std::string megatron_sequences_json(const std::vector<BlendDataset>& blend) {
  const BlendDataset& first = blend.front();
  if (first.header.dtype != TokenDtype::kUint16 && first.header.dtype != TokenDtype::kInt32)
    throw Error("'" + first.prefix + "' holds tokens of dtype code " + std::to_string(int(first.header.dtype)) +
                ": with --per-dataset-sequences-path Megatron reads every dataset as uint16 or int32, as the "
                "tokenizer's vocabulary size implies");
  std::string out = "{\n";
  for (size_t i = 0; i < blend.size(); ++i) {
    const BlendDataset& d = blend[i];
    if (d.header.dtype != first.header.dtype)
      throw Error("'" + d.prefix + "' and '" + first.prefix + "' hold different token dtypes: with "
                  "--per-dataset-sequences-path Megatron reads every dataset with the one dtype its tokenizer implies");
    out += "  " + json_quote(d.path) + ": [" + std::to_string(d.header.sequences) + ", " +
           std::to_string(d.header.document_indices) + "]" + (i + 1 < blend.size() ? ",\n" : "\n");
  }
  return out + "}\n";
}

// NeMo's model.data.data_prefix (NeMo 1.x megatron_gpt_config.yaml; NeMo 2's
// PreTrainingDataModule `paths` takes the same shapes, docs.nvidia.com
// nemo-framework user guide, "Migrate Data Configuration"): a flat list
// [w1, p1, w2, p2, ...], or a dict of such lists under train, validation and
// test. Paths are YAML double-quoted scalars (JSON string syntax is valid
// there) and Hydra double-quoted strings in the override.
std::string nemo_yaml(const std::vector<BlendDataset>& blend) {
  const bool per_split = !of_split(blend, BlendSplit::kValid).empty() || !of_split(blend, BlendSplit::kTest).empty();
  const std::pair<BlendSplit, const char*> splits[] = {
      {BlendSplit::kTrain, "train"}, {BlendSplit::kValid, "validation"}, {BlendSplit::kTest, "test"}};
  std::string yaml, override_value;
  const auto list = [&](BlendSplit s, const std::string& indent) {
    std::string items = "[";
    for (const BlendDataset* d : of_split(blend, s)) {
      yaml += indent + "- " + yaml_float(d->weight) + "\n" + indent + "- " + json_quote(d->path) + "\n";
      if (items.size() > 1) items += ',';
      items += yaml_float(d->weight);
      items += ",\"";
      items += d->path;
      items += '"';
    }
    items += ']';
    return items;
  };
  if (per_split) {
    for (const auto& [s, name] : splits)
      if (of_split(blend, s).empty())
        throw UsageError(std::string("NeMo's data_prefix dict needs train, validation and test datasets, and no "
                                     "dataset is in ") + name + ": give both --valid and --test");
    override_value = "{";
    for (const auto& [s, name] : splits) {
      yaml += std::string("      ") + name + ":\n";
      override_value += std::string(s == BlendSplit::kTrain ? "" : ",") + name + ":" + list(s, "      ");
    }
    override_value += "}";
  } else {
    override_value = list(BlendSplit::kTrain, "    ");
  }
  return "# NeMo model.data.data_prefix, written by sp_blend. As a command-line override:\n"
         "#   'model.data.data_prefix=" + override_value + "'\n"
         "model:\n"
         "  data:\n"
         "    data_prefix:\n" + yaml;
}

}  // namespace

BlendFormat parse_blend_format(std::string_view name) {
  if (name == "megatron-args") return BlendFormat::kMegatronArgs;
  if (name == "megatron-split-json") return BlendFormat::kMegatronSplitJson;
  if (name == "megatron-sequences-json") return BlendFormat::kMegatronSequencesJson;
  if (name == "nemo-yaml") return BlendFormat::kNemoYaml;
  throw UsageError("unknown --format '" + std::string(name) +
                   "' (megatron-args, megatron-split-json, megatron-sequences-json or nemo-yaml)");
}

BlendWeighting parse_blend_weighting(std::string_view name) {
  if (name == "tokens") return BlendWeighting::kTokens;
  if (name == "uniform") return BlendWeighting::kUniform;
  throw UsageError("unknown --weighting '" + std::string(name) + "' (tokens or uniform)");
}

GroupRule parse_group_rule(std::string_view text, std::string_view flag) {
  const size_t eq = text.rfind('=');
  const std::string shape = "--" + std::string(flag) + " takes PATTERN=VALUE with VALUE a number above 0, not '" +
                            std::string(text) + "'";
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size()) throw UsageError(shape);
  GroupRule rule;
  rule.pattern = std::string(text.substr(0, eq));
  const std::string value(text.substr(eq + 1));
  const char* end = value.data() + value.size();
  const auto r = std::from_chars(value.data(), end, rule.value);
  if (r.ec != std::errc() || r.ptr != end || !std::isfinite(rule.value) || rule.value <= 0) throw UsageError(shape);
  return rule;
}

std::vector<BlendDataset> plan_blend(const BlendOptions& options) {
  if (options.inputs.empty()) throw UsageError("no datasets given: name directories or dataset prefixes");
  if (!options.group_weights.empty() && !options.epochs.empty())
    throw UsageError("give either --weight (groups' shares) or --epochs (multipliers), not both");
  std::vector<BlendDataset> blend;
  for (std::string root : options.inputs) {
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    struct stat st;
    const bool is_dir = ::stat(root.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    for (const std::string& prefix : expand_dataset_paths({root}, options.recursive)) {
      BlendDataset d;
      d.prefix = prefix;
      // A directory's datasets are "<root>/<relative>" (list_files joins with '/', "//" under "/").
      d.name = is_dir ? prefix.substr(root == "/" ? 2 : root.size() + 1) : base_name(prefix);
      d.header = read_index_header(prefix);
      const uint64_t bytes = file_size(bin_path(prefix)), width = dtype_size(d.header.dtype);
      if (bytes % width)
        throw Error("'" + bin_path(prefix) + "' holds " + std::to_string(bytes) + " bytes, not a whole number of " +
                    std::to_string(width) + "-byte tokens");
      d.tokens = bytes / width;
      blend.push_back(std::move(d));
    }
  }

  // Splits, then the paths written.
  std::vector<size_t> valid_uses(options.valid.size()), test_uses(options.test.size());
  std::set<std::string> paths;
  std::string root = options.path_prefix;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  for (BlendDataset& d : blend) {
    bool in_valid = false, in_test = false;
    for (size_t r = 0; r < options.valid.size(); ++r)
      if (matches(options.valid[r], d.name)) in_valid = true, ++valid_uses[r];
    for (size_t r = 0; r < options.test.size(); ++r)
      if (matches(options.test[r], d.name)) in_test = true, ++test_uses[r];
    if (in_valid && in_test) throw UsageError("dataset '" + d.name + "' matches both --valid and --test");
    d.split = in_valid ? BlendSplit::kValid : in_test ? BlendSplit::kTest : BlendSplit::kTrain;
    d.path = root.empty() ? absolute_path(d.prefix) : root == "/" ? "/" + d.name : root + "/" + d.name;
    if (!paths.insert(d.path).second)
      throw Error("two datasets would both be written as '" + d.path + "' (dataset '" + d.prefix + "')");
  }
  for (size_t r = 0; r < options.valid.size(); ++r)
    if (!valid_uses[r]) throw UsageError("--valid '" + options.valid[r] + "' matches no dataset");
  for (size_t r = 0; r < options.test.size(); ++r)
    if (!test_uses[r]) throw UsageError("--test '" + options.test[r] + "' matches no dataset");

  // Weights: the base weighting, then the train split's groups or epochs,
  // then each split normalised to sum 1.
  for (BlendDataset& d : blend) {
    if (options.weighting == BlendWeighting::kTokens && d.tokens == 0)
      throw Error("'" + d.prefix + "' holds no tokens, so its weight by tokens is 0: leave it out, or use "
                  "--weighting uniform");
    d.weight = options.weighting == BlendWeighting::kTokens ? static_cast<double>(d.tokens) : 1.0;
  }
  std::vector<size_t> weight_uses(options.group_weights.size()), epoch_uses(options.epochs.size());
  std::vector<size_t> group(blend.size());
  std::vector<double> group_base(options.group_weights.size());
  for (size_t i = 0; i < blend.size(); ++i) {
    BlendDataset& d = blend[i];
    if (d.split != BlendSplit::kTrain) continue;
    if (!options.group_weights.empty()) {
      size_t r = 0;
      while (r < options.group_weights.size() && !matches(options.group_weights[r].pattern, d.name)) ++r;
      if (r == options.group_weights.size())
        throw UsageError("train dataset '" + d.name + "' matches no --weight pattern (a last --weight '*=W' "
                         "catches the rest)");
      group[i] = r, ++weight_uses[r], group_base[r] += d.weight;
    }
    for (size_t r = 0; r < options.epochs.size(); ++r)
      if (matches(options.epochs[r].pattern, d.name)) {
        d.weight *= options.epochs[r].value, ++epoch_uses[r];
        break;
      }
  }
  check_rules_used(options.group_weights, weight_uses, "--weight");
  check_rules_used(options.epochs, epoch_uses, "--epochs");
  if (!options.group_weights.empty())
    for (size_t i = 0; i < blend.size(); ++i)
      if (blend[i].split == BlendSplit::kTrain)
        blend[i].weight = options.group_weights[group[i]].value * (blend[i].weight / group_base[group[i]]);
  for (BlendSplit s : {BlendSplit::kTrain, BlendSplit::kValid, BlendSplit::kTest}) {
    double sum = 0;
    for (const auto& d : blend)
      if (d.split == s) sum += d.weight;
    for (auto& d : blend)
      if (d.split == s) d.weight /= sum;
  }
  if (of_split(blend, BlendSplit::kTrain).empty())
    throw UsageError("every dataset is in --valid or --test: the train split would be empty");
  return blend;
}

std::string format_blend(const std::vector<BlendDataset>& blend, BlendFormat format) {
  if (blend.empty()) throw UsageError("an empty blend cannot be written");
  for (const auto& d : blend) check_path(d.path, format);
  switch (format) {
    case BlendFormat::kMegatronArgs: return megatron_args(blend);
    case BlendFormat::kMegatronSplitJson: return megatron_split_json(blend);
    case BlendFormat::kMegatronSequencesJson: return megatron_sequences_json(blend);
    case BlendFormat::kNemoYaml: return nemo_yaml(blend);
  }
  throw Error("unknown blend format");
}

std::vector<BlendDataset> write_blend(const BlendOptions& options) {
  auto blend = plan_blend(options);
  const std::string text = format_blend(blend, options.format);
  if (options.output.empty()) {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0)
      throw Error(errno_message("cannot write", "stdout"));
  } else {
    AtomicFile file(options.output);
    file.write(text);
    file.commit();
  }
  return blend;
}

}  // namespace sp
