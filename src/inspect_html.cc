// The HTML page of an inspection report: one file, readable offline in any
// browser. Written as XHTML (every element closed, only XML's own entities),
// so the same bytes are HTML5 for browsers and XML for parsers and tests.
#include <algorithm>
#include <cstdio>
#include <string>

#include "sp/cli.h"
#include "sp/fs.h"
#include "sp/inspect.h"
#include "sp/unicode.h"

namespace sp {

namespace {

// Text for element content and attribute values: markup characters escaped,
// control characters XML forbids and invalid UTF-8 replaced by U+FFFD.
std::string esc(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += (c < 0x20 && c != '\n' && c != '\t') ? std::string("\xEF\xBF\xBD") : std::string(1, c);
      }
      ++i;
      continue;
    }
    const size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

std::string num(uint64_t v) { return std::to_string(v); }

std::string fmt(double v, const char* f) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// A number cell: the exact value in data-value, for machines and tests.
std::string cell(uint64_t v) { return "<td class=\"num\" data-value=\"" + num(v) + "\">" + num(v) + "</td>"; }

std::string row(const DatasetSummary& s, bool total) {
  std::string r = total ? "<tr class=\"total\">" : "<tr>";
  r += "<td class=\"name\">" + esc(total ? std::string("total") : s.prefix) + "</td>";
  r += std::string("<td class=\"") + (s.ok() ? "ok\">ok" : "bad\">" + num(s.problem_count) + " problem(s)") + "</td>";
  r += "<td>" + std::string(total ? "" : s.header_ok ? dtype_name(s.dtype) : "?") + "</td>";
  r += cell(s.documents) + cell(s.empty_documents) + cell(s.sequences) + cell(s.tokens) +
       cell(s.bin_bytes + s.idx_bytes);
  const LengthHistogram& h = s.document_lengths;
  if (h.count()) r += cell(h.percentile(50)) + cell(h.percentile(90)) + cell(h.percentile(99)) + cell(h.max());
  else r += "<td/><td/><td/><td/>";
  r += "<td>" + std::string(total ? "" : esc(record_check_name(s.record))) + "</td>";
  return r + "</tr>\n";
}

// Horizontal bars, one per dataset, scaled to the largest.
std::string tokens_chart(const InspectReport& report) {
  const size_t n = report.datasets.size();
  const int bar_h = 22, label_w = 360, plot_w = 480, width = label_w + plot_w + 140;
  const int height = static_cast<int>(n) * bar_h + 10;
  uint64_t top = 1;
  for (const auto& s : report.datasets) top = std::max(top, s.tokens);
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"tokens-chart\" width=\"" +
                    std::to_string(width) + "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " +
                    std::to_string(width) + " " + std::to_string(height) + "\" role=\"img\">\n";
  for (size_t i = 0; i < n; ++i) {
    const DatasetSummary& s = report.datasets[i];
    const int y = static_cast<int>(i) * bar_h + 5;
    const double w = static_cast<double>(plot_w) * static_cast<double>(s.tokens) / static_cast<double>(top);
    std::string name = s.prefix;
    if (name.size() > 48) name = "..." + name.substr(name.size() - 45);
    svg += "<g class=\"bar\" data-prefix=\"" + esc(s.prefix) + "\" data-tokens=\"" + num(s.tokens) + "\">";
    svg += "<title>" + esc(s.prefix) + ": " + num(s.tokens) + " tokens</title>";
    svg += "<text x=\"" + std::to_string(label_w - 6) + "\" y=\"" + std::to_string(y + 15) +
           "\" text-anchor=\"end\">" + esc(name) + "</text>";
    svg += "<rect x=\"" + std::to_string(label_w) + "\" y=\"" + std::to_string(y) + "\" width=\"" +
           fmt(std::max(w, 1.0), "%.1f") + "\" height=\"" + std::to_string(bar_h - 6) + "\" class=\"" +
           (s.ok() ? "ok" : "bad") + "\"/>";
    svg += "<text x=\"" + fmt(label_w + std::max(w, 1.0) + 6, "%.1f") + "\" y=\"" + std::to_string(y + 15) + "\">" +
           num(s.tokens) + "</text></g>\n";
  }
  return svg + "</svg>\n";
}

// Vertical bars per power-of-two length bin (bin 0: empty documents).
std::string length_histogram(const LengthHistogram& h) {
  const std::vector<uint64_t> bins = h.log2_bins();
  const int bar_w = 34, plot_h = 220, left = 70, width = left + static_cast<int>(bins.size()) * bar_w + 20;
  const int height = plot_h + 70;
  uint64_t top = 1;
  for (uint64_t c : bins) top = std::max(top, c);
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"length-histogram\" width=\"" +
                    std::to_string(width) + "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " +
                    std::to_string(width) + " " + std::to_string(height) + "\" role=\"img\">\n";
  svg += "<line x1=\"" + std::to_string(left) + "\" y1=\"" + std::to_string(plot_h + 10) + "\" x2=\"" +
         std::to_string(width - 10) + "\" y2=\"" + std::to_string(plot_h + 10) + "\" class=\"axis\"/>\n";
  svg += "<text x=\"" + std::to_string(left - 6) + "\" y=\"20\" text-anchor=\"end\">" + num(top) + "</text>\n";
  svg += "<text x=\"" + std::to_string(left - 6) + "\" y=\"" + std::to_string(plot_h + 10) +
         "\" text-anchor=\"end\">0</text>\n";
  for (size_t k = 0; k < bins.size(); ++k) {
    const uint64_t lo = k == 0 ? 0 : uint64_t{1} << (k - 1), hi = k == 0 ? 0 : (uint64_t{1} << k) - 1;
    const std::string range = lo == hi ? num(lo) : num(lo) + "-" + num(hi);
    const double bh = static_cast<double>(plot_h - 10) * static_cast<double>(bins[k]) / static_cast<double>(top);
    const int x = left + static_cast<int>(k) * bar_w;
    svg += "<g class=\"bin\" data-min=\"" + num(lo) + "\" data-max=\"" + num(hi) + "\" data-count=\"" +
           num(bins[k]) + "\"><title>" + range + " tokens: " + num(bins[k]) + " document(s)</title>";
    svg += "<rect x=\"" + std::to_string(x + 2) + "\" y=\"" + fmt(plot_h + 10 - bh, "%.1f") + "\" width=\"" +
           std::to_string(bar_w - 4) + "\" height=\"" + fmt(bh, "%.1f") + "\" class=\"ok\"/>";
    svg += "<text x=\"" + std::to_string(x + bar_w / 2) + "\" y=\"" + std::to_string(plot_h + 26) +
           "\" text-anchor=\"end\" transform=\"rotate(-45 " + std::to_string(x + bar_w / 2) + " " +
           std::to_string(plot_h + 26) + ")\">" + (k == 0 ? std::string("0") : "2^" + std::to_string(k - 1)) +
           "</text></g>\n";
  }
  return svg + "</svg>\n";
}

}  // namespace

void write_inspect_html(const InspectReport& report, const std::string& path) {
  uint64_t bad = 0;
  for (const auto& s : report.datasets) bad += !s.ok();
  std::string h =
      "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
      "<meta charset=\"utf-8\"/>\n<title>sp_inspect report</title>\n<style>\n"
      "body{font-family:sans-serif;margin:2em;color:#222}\n"
      "table{border-collapse:collapse;font-size:90%}\n"
      "td,th{border:1px solid #ccc;padding:3px 8px}\n"
      "td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
      "td.ok{color:#1a7f37}\ntd.bad{color:#c62828;font-weight:bold}\n"
      "tr.total{font-weight:bold;background:#f3f3f3}\n"
      "svg text{font-size:12px;fill:#222}\n"
      "rect.ok{fill:#4a78c2}\nrect.bad{fill:#c62828}\n.axis{stroke:#888}\n"
      "li{font-family:monospace}\n"
      "</style>\n</head>\n<body>\n<h1>sp_inspect report</h1>\n";
  h += "<p id=\"verdict\" class=\"" + std::string(bad ? "bad" : "ok") + "\">" + num(report.datasets.size()) +
       " dataset(s), " + num(report.total.tokens) + " tokens, " + cli::format_size(report.total.bin_bytes +
       report.total.idx_bytes) + ": " + (bad ? num(bad) + " with problems (" + num(report.total.problem_count) +
       ")" : std::string("all ok")) + "</p>\n";
  h += "<table id=\"datasets\">\n<thead><tr><th>dataset</th><th>status</th><th>dtype</th><th>documents</th>"
       "<th>empty</th><th>sequences</th><th>tokens</th><th>bytes</th><th>length p50</th><th>p90</th><th>p99</th>"
       "<th>max</th><th>record</th></tr></thead>\n<tbody>\n";
  for (const auto& s : report.datasets) h += row(s, false);
  h += row(report.total, true);
  h += "</tbody>\n</table>\n<h2>Tokens per dataset</h2>\n" + tokens_chart(report);
  h += "<h2>Document length in tokens, all datasets</h2>\n";
  if (report.total.document_lengths.count()) {
    const LengthHistogram& l = report.total.document_lengths;
    h += "<p>" + num(l.count()) + " documents: min " + num(l.min()) + ", p50 " + num(l.percentile(50)) + ", p90 " +
         num(l.percentile(90)) + ", p99 " + num(l.percentile(99)) + ", max " + num(l.max()) + ", mean " +
         fmt(l.mean(), "%.1f") + ". Bars hold the documents of 2^k to 2^(k+1)-1 tokens.</p>\n" +
         length_histogram(l);
  } else {
    h += "<p>No document lengths (no documents, or damaged indices).</p>\n";
  }
  if (bad) {
    h += "<h2>Problems</h2>\n<ul id=\"problems\">\n";
    for (const auto& s : report.datasets)
      for (const auto& p : s.problems) h += "<li>" + esc(p) + "</li>\n";
    h += "</ul>\n";
  }
  h += "</body>\n</html>\n";
  AtomicFile f(path, h.size());
  f.write(h);
  f.commit();
}

}  // namespace sp
