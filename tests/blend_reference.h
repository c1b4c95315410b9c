// How the trainers read a blend, re-implemented for tests/blend_test.cc and
// tests/sp_blend_test.cc from Megatron-LM's own code (megatron/core/datasets/
// utils.py get_blend_from_list; megatron/training/utils get_blend_and_blend_per_split;
// pretrain_gpt.py and indexed_dataset.py _IndexReader for the sequences file) and
// NeMo's data_prefix shapes (read with PyYAML's YAML 1.1 scalar rules, as
// OmegaConf does). Anything these readers would reject fails the test.
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace sp::test {

// get_blend_from_list's result: prefixes, and weights when the list is pairs.
struct ParsedBlend {
  std::vector<std::string> prefixes;
  std::optional<std::vector<double>> weights;
};

// One element of the list get_blend_from_list receives: a str, or (from JSON)
// a number.
struct BlendItem {
  std::string text;
  std::optional<double> number;
};

// Python's float(str): the whole text, surrounding whitespace allowed.
inline std::optional<double> python_float(const std::string& s) {
  const char* begin = s.c_str();
  char* end = nullptr;
  const double v = std::strtod(begin, &end);
  if (end == begin) return std::nullopt;
  while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r') ++end;
  if (*end) return std::nullopt;
  return v;
}

inline std::string python_strip(const std::string& s) {
  const char* ws = " \t\n\r\v\f";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// str.split() (ASCII whitespace: what these tests' paths may hold).
inline std::vector<std::string> python_split(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  const char* ws = " \t\n\r\v\f";
  while ((i = s.find_first_not_of(ws, i)) != std::string::npos) {
    const size_t e = s.find_first_of(ws, i);
    out.push_back(s.substr(i, e == std::string::npos ? std::string::npos : e - i));
    i = e;
  }
  return out;
}

// get_blend_from_list: an odd count is prefixes only; else (weight, prefix)
// pairs, each weight float()-ed, where one unparsable weight makes them all
// prefixes (it asserts all are then unparsable); prefixes are strip()-ed.
inline ParsedBlend get_blend_from_list(const std::vector<BlendItem>& items) {
  ParsedBlend b;
  const auto all_prefixes = [&] {
    for (const auto& it : items) {
      EXPECT_FALSE(it.number) << "a number where Megatron needs a prefix (str.strip())";
      b.prefixes.push_back(python_strip(it.text));
    }
    return b;
  };
  if (items.size() % 2 == 1) return all_prefixes();
  std::vector<double> weights;
  size_t unparsable = 0;
  for (size_t i = 0; i < items.size(); i += 2) {
    const auto w = items[i].number ? items[i].number : python_float(items[i].text);
    if (!w) ++unparsable;
    weights.push_back(w.value_or(0));
  }
  if (unparsable) {
    EXPECT_EQ(unparsable, items.size() / 2) << "Megatron asserts all weights are numbers or none is";
    return all_prefixes();
  }
  for (size_t i = 1; i < items.size(); i += 2) {
    EXPECT_FALSE(items[i].number) << "a number where Megatron needs a prefix (str.strip())";
    b.prefixes.push_back(python_strip(items[i].text));
  }
  b.weights = weights;
  return b;
}

inline std::vector<BlendItem> items_of(const std::vector<std::string>& words) {
  std::vector<BlendItem> v;
  for (const auto& w : words) v.push_back({w, std::nullopt});
  return v;
}

// --data-args-path: get_blend_from_list(f.read().split()).
inline ParsedBlend parse_data_args(const std::string& text) {
  return get_blend_from_list(items_of(python_split(text)));
}

// --per-split-data-args-path: json.load; ["train"], ["valid"], ["test"] (a
// KeyError if one is missing); a str value is split on whitespace, a list
// taken as is, null is "no blend for that split".
inline std::map<std::string, std::optional<ParsedBlend>> parse_per_split(const std::string& text) {
  std::map<std::string, std::optional<ParsedBlend>> out;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const simdjson::padded_string padded(text);
  if (parser.parse(padded).get(doc)) {
    ADD_FAILURE() << "json.load fails on:\n" << text;
    return out;
  }
  for (const char* split : {"train", "valid", "test"}) {
    simdjson::dom::element v;
    if (doc[split].get(v)) {
      ADD_FAILURE() << "KeyError: '" << split << "'";
      continue;
    }
    if (v.is_null()) {
      out[split] = std::nullopt;
    } else if (v.is_string()) {
      out[split] = get_blend_from_list(items_of(python_split(std::string(v.get_string().value()))));
    } else {
      std::vector<BlendItem> items;
      simdjson::dom::array list;
      EXPECT_FALSE(v.get_array().get(list)) << split << " is neither a str, a list nor null";
      for (simdjson::dom::element e : list) {
        if (e.is_string()) items.push_back({std::string(e.get_string().value()), std::nullopt});
        else items.push_back({"", e.get_double().value()});
      }
      out[split] = get_blend_from_list(items);
    }
  }
  return out;
}

// --per-dataset-sequences-path: json.load, then config.sequences_per_dataset[prefix]
// for each prefix of the blend, whose [0] and [1] become _IndexReader's
// sequence_count and document_count (the document-indices array's length).
inline std::map<std::string, std::pair<uint64_t, uint64_t>> parse_sequences(const std::string& text) {
  std::map<std::string, std::pair<uint64_t, uint64_t>> out;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const simdjson::padded_string padded(text);
  if (parser.parse(padded).get(doc) || !doc.is_object()) {
    ADD_FAILURE() << "not a JSON object:\n" << text;
    return out;
  }
  simdjson::dom::object object;
  EXPECT_FALSE(doc.get_object().get(object));
  for (auto field : object) {
    simdjson::dom::array a;
    if (field.value.get_array().get(a) || a.size() != 2) {
      ADD_FAILURE() << "value of '" << field.key << "' is not [sequences, documents]";
      continue;
    }
    uint64_t sequences = 0, documents = 0;
    EXPECT_FALSE(a.at(0).get_uint64().get(sequences) || a.at(1).get_uint64().get(documents)) << field.key;
    out[std::string(field.key)] = {sequences, documents};
  }
  return out;
}

// A YAML 1.1 plain scalar that PyYAML resolves as a float (its resolver's
// regex, decimal forms).
inline bool yaml11_float(const std::string& s) {
  static const std::regex re(R"([-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?)");
  return std::regex_match(s, re);
}

// A double-quoted YAML scalar holding JSON string syntax, decoded.
inline std::string yaml_double_quoted(const std::string& s) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(s);
  std::string_view v;
  if (parser.parse(padded).get_string().get(v)) ADD_FAILURE() << "not a double-quoted scalar: " << s;
  return std::string(v);
}

// NeMo's data_prefix as the YAML sp_blend writes reads it: a block sequence
// alternating floats and paths, under data_prefix or under its train /
// validation / test keys. Returns the lists by key ("" for a flat list).
inline std::map<std::string, std::vector<BlendItem>> parse_nemo_yaml(const std::string& text) {
  std::map<std::string, std::vector<BlendItem>> out;
  std::string key;
  bool in_prefix = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line[0] == '#') continue;
    const std::string t = python_strip(line);
    if (t == "data_prefix:") {
      in_prefix = true;
      continue;
    }
    if (!in_prefix) continue;
    if (t.rfind("- ", 0) == 0) {
      const std::string v = t.substr(2);
      if (v[0] == '"') out[key].push_back({yaml_double_quoted(v), std::nullopt});
      else if (yaml11_float(v)) out[key].push_back({v, std::strtod(v.c_str(), nullptr)});
      else ADD_FAILURE() << "PyYAML would read '" << v << "' as a string, not a float";
    } else if (t.back() == ':') {
      key = t.substr(0, t.size() - 1);
    } else {
      ADD_FAILURE() << "unexpected line: " << line;
    }
  }
  return out;
}

// The override in the YAML's comment, "#   'model.data.data_prefix=VALUE'",
// read by Hydra's grammar for what it holds: a list [float,"str",...] or a
// dict {key:[...],...}; double-quoted strings end at the next quote (paths
// there hold no quote or backslash). Returns the lists by key ("" for a list).
inline std::map<std::string, std::vector<BlendItem>> parse_nemo_override(const std::string& yaml) {
  std::map<std::string, std::vector<BlendItem>> out;
  const std::string lead = "#   'model.data.data_prefix=";
  const size_t at = yaml.find(lead);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no override line in:\n" << yaml;
    return out;
  }
  const size_t end = yaml.find("'\n", at + lead.size());
  const std::string v = yaml.substr(at + lead.size(), end - at - lead.size());
  size_t i = 0;
  const auto list = [&](const std::string& key) {
    EXPECT_EQ(v[i], '[');
    ++i;
    auto& items = out[key];
    while (i < v.size() && v[i] != ']') {
      if (v[i] == '"') {
        const size_t close = v.find('"', i + 1);
        items.push_back({v.substr(i + 1, close - i - 1), std::nullopt});
        i = close + 1;
      } else {
        const size_t stop = v.find_first_of(",]", i);
        const std::string num = v.substr(i, stop - i);
        EXPECT_TRUE(yaml11_float(num)) << num;
        items.push_back({num, std::strtod(num.c_str(), nullptr)});
        i = stop;
      }
      if (v[i] == ',') ++i;
    }
    ++i;
  };
  if (v[0] == '{') {
    ++i;
    while (i < v.size() && v[i] != '}') {
      const size_t colon = v.find(':', i);
      const std::string key = v.substr(i, colon - i);
      i = colon + 1;
      list(key);
      if (v[i] == ',') ++i;
    }
  } else {
    list("");
  }
  return out;
}

}  // namespace sp::test
