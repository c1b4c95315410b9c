#include "sp/tokenize.h"

#include <simdjson.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <deque>
#include <mutex>
#include <optional>
#include <set>

#include "sp/byte_source.h"
#include "sp/error.h"
#include "sp/checkpoint.h"
#include "sp/failpoint.h"
#include "sp/fs.h"
#include "sp/indexed_dataset.h"
#include "sp/interrupt.h"
#include "sp/io.h"
#include "sp/json_out.h"
#include "sp/jsonl.h"
#include "sp/progress.h"
#include "sp/record.h"

namespace sp {

std::string output_prefix_for(const std::string& prefix, const std::string& key) {
  return prefix + "_" + key + "_document";
}

void TokenizeStats::merge(const TokenizeStats& o) {
  files += o.files;
  files_kept += o.files_kept;
  jsonl_bytes_kept += o.jsonl_bytes_kept;
  tokens_kept += o.tokens_kept;
  jsonl_bytes_resumed += o.jsonl_bytes_resumed;
  tokens_resumed += o.tokens_resumed;
  input_bytes += o.input_bytes;
  jsonl_bytes += o.jsonl_bytes;
  lines += o.lines;
  blank_lines += o.blank_lines;
  documents += o.documents;
  empty_documents += o.empty_documents;
  sequences += o.sequences;
  tokens += o.tokens;
  skipped_lines += o.skipped_lines;
  for (const auto& e : o.first_errors) first_errors.push_back(e);
  for (const auto& n : o.notes) notes.push_back(n);
  seconds += o.seconds;
}

namespace {

// One block of lines travelling through the pipeline with everything its
// tokenization produced; recycled so steady state allocates nothing.
struct Work {
  LineBlock block;
  std::vector<DocumentBatch> out;  // one per key
  uint64_t lines = 0, blank = 0, documents = 0, empty = 0, sequences = 0, tokens = 0;
  std::vector<std::pair<uint64_t, std::string>> errors;  // (line within the block, 1-based; reason)
  uint64_t raw_offset = 0;
  uint64_t seq = 0;  // the block's place in the file
  std::vector<uint64_t> bin_offsets;  // per key: where the writer put this block's tokens
};

struct WorkerState {
  simdjson::dom::parser parser;
  TextTokenizer::Encode encode;
  DocumentTexts texts;
};

void tokenize_block(Work& w, WorkerState& st, const TextTokenizer& tok, const TokenizeOptions& opt, TokenDtype dtype) {
  const uint32_t eod = tok.eod_id;
  for (auto& b : w.out) b.clear();
  w.lines = w.blank = w.documents = w.empty = w.sequences = w.tokens = 0;
  w.errors.clear();
  for_each_line(w.block, [&](std::string_view line, uint64_t line_no) {
    ++w.lines;
    if (is_blank_line(line)) {
      ++w.blank;
      return;
    }
    std::string err = parse_document(st.parser, line, opt.json_keys, st.texts);
    if (!err.empty()) {
      w.errors.emplace_back(line_no, std::move(err));
      return;
    }
    for (size_t k = 0; k < opt.json_keys.size(); ++k) {
      DocumentBatch& b = w.out[k];
      uint32_t nseq = 0;
      for (std::string_view text : st.texts[k]) {
        const std::span<const uint32_t> ids = st.encode(text);
        if (ids.empty()) continue;  // Megatron drops sequences with no tokens
        append_tokens(dtype, ids, b.token_bytes);
        b.sequence_lengths.push_back(static_cast<int32_t>(ids.size()));
        w.tokens += ids.size();
        ++nseq;
      }
      if (nseq > 0 && opt.append_eod) {
        append_tokens(dtype, std::span<const uint32_t>(&eod, 1), b.token_bytes);
        ++b.sequence_lengths.back();
        ++w.tokens;
      }
      if (nseq == 0) ++w.empty;
      if (nseq == 0 && opt.skip_empty) continue;
      b.sequences_per_document.push_back(nseq);
      w.sequences += nseq;
      ++w.documents;
    }
  });
}

// The record the outputs of key k must carry (outputs' identities aside).
CompletionRecord expected_record(const TextTokenizer& tok, const std::vector<std::string>& inputs,
                                 const std::string& prefix, size_t k, const TokenizeOptions& opt) {
  CompletionRecord r;
  r.path = record_path_for(prefix);
  r.tool = "sp_tokenize";
  r.options = tok.identity;
  std::string keys;
  for (const auto& key : opt.json_keys) keys += (keys.empty() ? "" : ",") + key;
  r.options.insert(r.options.end(),
                   {{"json_key", opt.json_keys[k]},
                    {"json_keys", keys},  // with --on-error skip, a line bad for one key is skipped for all
                    {"append_eod", opt.append_eod ? "true" : "false"},
                    {"skip_empty", opt.skip_empty ? "true" : "false"},
                    {"on_error", opt.on_error == OnError::kStop ? "stop" : "skip"},
                    {"dtype", std::to_string(static_cast<int>(dtype_for_vocab_size(tok.vocab_size)))}});
  for (const auto& input : inputs) r.inputs.push_back(identify_input(input));
  r.outputs = {FileIdentity{bin_path(prefix)}, FileIdentity{idx_path(prefix)}};
  return r;
}

// The stats as record counts and back (the whole file's, in every key's record).
std::vector<std::pair<std::string, uint64_t>> stats_counts(const TokenizeStats& s) {
  return {{"input_bytes", s.input_bytes}, {"jsonl_bytes", s.jsonl_bytes},     {"lines", s.lines},
          {"blank_lines", s.blank_lines}, {"documents", s.documents},         {"empty_documents", s.empty_documents},
          {"sequences", s.sequences},     {"tokens", s.tokens},               {"skipped_lines", s.skipped_lines}};
}

// The counts stats_counts wrote, read back.
TokenizeStats counts_from(const CompletionRecord& r) {
  TokenizeStats s;
  s.files = 1;
  s.input_bytes = r.count("input_bytes");
  s.jsonl_bytes = r.count("jsonl_bytes");
  s.lines = r.count("lines");
  s.blank_lines = r.count("blank_lines");
  s.documents = r.count("documents");
  s.empty_documents = r.count("empty_documents");
  s.sequences = r.count("sequences");
  s.tokens = r.count("tokens");
  s.skipped_lines = r.count("skipped_lines");
  return s;
}

TokenizeStats stats_from(const CompletionRecord& r) {
  TokenizeStats s = counts_from(r);
  s.files_kept = 1;
  s.jsonl_bytes_kept = s.jsonl_bytes;
  s.tokens_kept = s.tokens;
  return s;
}

}  // namespace

namespace {

TokenizedCheck check_tokenized_inputs(const TextTokenizer& tok, const std::vector<std::string>& inputs,
                                      const std::vector<std::string>& prefixes, const TokenizeOptions& opt) {
  TokenizedCheck c;
  for (size_t k = 0; k < prefixes.size(); ++k) {
    const CompletionCheck check =
        check_completion(expected_record(tok, inputs, prefixes[k], k, opt), VerifyDepth::kQuick);
    // The shared policy (no sources to remove; --overwrite never gets here).
    const OutputDecision d = decide_outputs(check, prefixes[k] + ".bin/.idx", "", false, false);
    if (d.plan == OutputPlan::kKeep) {
      if (k == 0) c.stats = stats_from(check.record);
      continue;
    }
    c.notice = d.message;
    c.stats = TokenizeStats{};
    return c;
  }
  c.complete = true;
  return c;
}

}  // namespace

TokenizedCheck check_tokenized(const TextTokenizer& tok, const std::string& input,
                               const std::vector<std::string>& prefixes, const TokenizeOptions& opt) {
  if (input == "-") return {};  // standard input cannot be identified: always made anew
  return check_tokenized_inputs(tok, {input}, prefixes, opt);
}

TokenizedCheck check_tokenized_chunk(const TextTokenizer& tok, const Chunk& chunk,
                                     const std::vector<std::string>& prefixes, const TokenizeOptions& opt) {
  return check_tokenized_inputs(tok, chunk_paths(chunk), prefixes, opt);
}

namespace {

// Where a file's tokenization stands at a block boundary: what a checkpoint records.
struct Snapshot {
  uint64_t input_offset = 0;  // bytes of (decompressed) input done
  uint64_t lines = 0;         // lines of the file done
  TokenizeStats stats;
  std::vector<WriterCheckpoint> writers;  // one per key
};

constexpr std::string_view kFirstError = "first_error.";

// The record a checkpoint of these outputs must match: the identity of the
// first key's completion record (inputs, tokenizer, options, all keys).
CompletionRecord checkpoint_identity(const CompletionRecord& first_record, const std::string& first_prefix) {
  CompletionRecord c = first_record;
  c.path = checkpoint_path_for(first_prefix);
  c.outputs.clear();
  c.counts.clear();
  return c;
}

// Writes the checkpoint (atomically and durably, as a record); the parts must be synced.
void write_checkpoint(const CompletionRecord& identity, const std::vector<std::string>& prefixes, const Snapshot& s) {
  CompletionRecord c = identity;
  for (size_t i = 0; i < s.stats.first_errors.size(); ++i)
    c.options.emplace_back(std::string(kFirstError) + std::to_string(i), s.stats.first_errors[i]);
  c.counts = stats_counts(s.stats);
  c.counts.insert(c.counts.begin(), {{"input_offset", s.input_offset}, {"input_lines", s.lines}});
  for (size_t k = 0; k < prefixes.size(); ++k) {
    const auto parts = writer_part_paths(prefixes[k]);
    const WriterCheckpoint& w = s.writers[k];
    const uint64_t sizes[3] = {w.bin_bytes, w.lengths_bytes, w.documents_bytes};
    for (size_t j = 0; j < 3; ++j) c.outputs.push_back(FileIdentity{parts[j], true, sizes[j], 0, ""});
    c.counts.emplace_back("documents." + std::to_string(k), w.documents);
    c.counts.emplace_back("sequences." + std::to_string(k), w.sequences);
  }
  write_record(c);
}

void remove_checkpoint(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw Error(errno_message("cannot remove checkpoint", path));
}

// The checkpoint of these outputs, when there is one that matches `identity`
// and whose parts are all there; else nothing, and *notice says why one was
// not taken ("" when there was none).
std::optional<Snapshot> read_checkpoint(const CompletionRecord& identity, const std::vector<std::string>& prefixes,
                                        std::string* notice) {
  notice->clear();
  const std::string& path = identity.path;
  if (!path_exists(path)) return std::nullopt;
  const auto discard = [&](const std::string& why) -> std::optional<Snapshot> {
    *notice = "discarding the checkpoint '" + path + "' (" + why + "): tokenizing '" + identity.inputs[0].path +
              "' from the start";
    return std::nullopt;
  };
  CompletionRecord got;
  try {
    got = read_record(path);
  } catch (const Error& e) {
    return discard(std::string("unreadable: ") + e.what());
  }
  Snapshot s;
  CompletionRecord settings = got;  // without the errors it carries
  settings.options.clear();
  std::vector<std::pair<uint64_t, std::string>> errors;
  for (auto& [k, v] : got.options) {
    if (k.compare(0, kFirstError.size(), kFirstError) == 0) {
      errors.emplace_back(std::strtoull(k.c_str() + kFirstError.size(), nullptr, 10), v);
    } else {
      settings.options.emplace_back(k, v);
    }
  }
  if (std::string why = record_difference(identity, settings); !why.empty()) return discard(why);
  if (got.outputs.size() != 3 * prefixes.size()) return discard("it lists other outputs");
  for (size_t k = 0; k < prefixes.size(); ++k) {
    const auto parts = writer_part_paths(prefixes[k]);
    WriterCheckpoint& w = s.writers.emplace_back();
    uint64_t* sizes[3] = {&w.bin_bytes, &w.lengths_bytes, &w.documents_bytes};
    for (size_t j = 0; j < 3; ++j) {
      const FileIdentity& o = got.outputs[3 * k + j];
      if (base_name(o.path) != base_name(parts[j])) return discard("it lists other outputs");
      struct stat st;
      if (::stat(parts[j].c_str(), &st) != 0) return discard("'" + parts[j] + "' is missing");
      if (static_cast<uint64_t>(st.st_size) < o.size)
        return discard("'" + parts[j] + "' is shorter than it says");
      *sizes[j] = o.size;
    }
    w.documents = got.count("documents." + std::to_string(k));
    w.sequences = got.count("sequences." + std::to_string(k));
  }
  std::sort(errors.begin(), errors.end());
  s.stats = counts_from(got);
  for (auto& e : errors) s.stats.first_errors.push_back(std::move(e.second));
  s.input_offset = got.count("input_offset");
  s.lines = got.count("input_lines");
  return s;
}

// The pipeline itself: reads `source`, writes the .bin/.idx pairs. With
// `identity` (the first key's expected completion record), checkpoints are
// taken and resumed as options.checkpoint_every asks.
TokenizeStats run_pipeline(const TextTokenizer& tok, std::unique_ptr<ByteSource> source,
                           const std::vector<std::string>& prefixes, const TokenizeOptions& opt, Progress* progress,
                           const CompletionRecord* identity) {
  const TokenDtype dtype = dtype_for_vocab_size(tok.vocab_size);
  const std::string input = source->path();  // names bad lines
  // Lines are counted by the workers, not the reading thread, which must
  // keep up with all of them; the writer turns block-relative line numbers
  // into file line numbers.
  LineReader reader(*source, opt.block_bytes, /*number_lines=*/false);

  const bool checkpoints = identity && opt.checkpoint_every > 0;
  CompletionRecord ckpt;
  std::optional<Snapshot> from;
  std::vector<std::string> notes;
  UniqueFd lock;
  if (identity) {
    // One writer at a time (a second job, or a rank orphaned by a killed
    // mpirun still at work): the parts have fixed names. The lock is on the
    // first .bin part, held until the end; without checkpoints, only on one
    // left by an earlier run (to be removed).
    const std::string first_part = writer_part_paths(prefixes[0])[0];
    bool busy = false;
    lock = open_locked(first_part, /*create=*/checkpoints, &busy);
    if (busy)
      throw Error("another sp_tokenize is writing '" + prefixes[0] + "' (it holds the lock on '" + first_part + "')");
    ckpt = checkpoint_identity(*identity, prefixes[0]);
    std::string notice;
    if (checkpoints && !opt.overwrite) from = read_checkpoint(ckpt, prefixes, &notice);
    if (!notice.empty()) notes.push_back(notice);
    // Gone before any part is cut back, so no checkpoint outlives what it describes.
    if (!from) remove_checkpoint(ckpt.path);
    if (!checkpoints)
      for (const auto& p : prefixes)
        for (const auto& part : writer_part_paths(p))
          if (::unlink(part.c_str()) != 0 && errno != ENOENT) throw Error(errno_message("cannot remove", part));
  }

  std::vector<std::unique_ptr<IndexedDatasetWriter>> writers;
  for (size_t k = 0; k < prefixes.size(); ++k)
    writers.push_back(checkpoints ? std::make_unique<IndexedDatasetWriter>(prefixes[k], dtype,
                                                                           from ? &from->writers[k] : nullptr)
                                  : std::make_unique<IndexedDatasetWriter>(prefixes[k], dtype));

  tbb::enumerable_thread_specific<WorkerState> states([&] {
    WorkerState s;
    s.encode = tok.make_encoder();
    return s;
  });

  const size_t threads = static_cast<size_t>(tbb::this_task_arena::max_concurrency());
  const size_t in_flight = opt.blocks_in_flight ? opt.blocks_in_flight : 4 * threads;
  std::vector<std::unique_ptr<Work>> pool;
  std::vector<Work*> free_list;
  std::mutex pool_mu;
  auto take = [&]() -> Work* {
    std::lock_guard<std::mutex> lk(pool_mu);
    if (free_list.empty()) {
      pool.push_back(std::make_unique<Work>());
      pool.back()->out.resize(prefixes.size());
      return pool.back().get();
    }
    Work* w = free_list.back();
    free_list.pop_back();
    return w;
  };
  auto give = [&](Work* w) {
    std::lock_guard<std::mutex> lk(pool_mu);
    free_list.push_back(w);
  };

  TokenizeStats st;
  uint64_t lines_before = 0;  // file lines in the blocks already written
  uint64_t input_done = 0;    // (decompressed) input bytes in the blocks already indexed
  if (from) {
    reader.skip_to(from->input_offset);
    st = from->stats;
    lines_before = from->lines;
    input_done = from->input_offset;
    st.jsonl_bytes_resumed = st.jsonl_bytes;
    st.tokens_resumed = st.tokens;
    notes.push_back("'" + input + "': resumed at byte " + std::to_string(from->input_offset) + " (line " +
                    std::to_string(from->lines + 1) + ") from the checkpoint of an interrupted run");
  }
  st.files = 1;
  uint64_t reported_raw = source->raw_bytes_read();
  if (progress && (reported_raw || st.documents)) progress->add(reported_raw, st.documents);
  bool done = false, stopped = false;

  // Checkpoints. The serial stage indexes blocks in order, but their tokens
  // are written by the parallel stage after it, in any order: a snapshot
  // taken in the serial stage is written out only once every block up to
  // its own has had its tokens written.
  uint64_t next_seq = 0, since_checkpoint = 0;
  std::mutex unwritten_mu;
  std::set<uint64_t> unwritten;  // blocks indexed whose tokens are not written yet
  // Snapshots waiting for their blocks' tokens, oldest first: (last block it
  // covers, snapshot). The writing stage is parallel, so one block's tokens
  // can stay unwritten while the other blocks in flight cycle on (a preempted
  // thread: 100+ blocks seen on a loaded 2-core VM); the snapshots taken
  // meanwhile queue, and the newest one that is covered is written. Those
  // still waiting when the input ends are moot: the run is finishing.
  std::deque<std::pair<uint64_t, Snapshot>> pending;
  const auto snapshot = [&] {
    Snapshot s{input_done, lines_before, st, {}};
    for (const auto& w : writers) s.writers.push_back(w->position());
    return s;
  };
  const auto commit_checkpoint = [&](const Snapshot& s) {
    for (const auto& w : writers) w->sync();
    write_checkpoint(ckpt, prefixes, s);
    failpoint("tokenize.after_checkpoint");
  };

  try {
    tbb::parallel_pipeline(
        in_flight,
        tbb::make_filter<void, Work*>(tbb::filter_mode::serial_in_order,
                                      [&](tbb::flow_control& fc) -> Work* {
                                        if (done) {
                                          fc.stop();
                                          return nullptr;
                                        }
                                        // With checkpoints, a signal stops the reading only: the blocks in
                                        // flight finish and the checkpoint after them loses nothing.
                                        if (checkpoints && interrupted()) {
                                          stopped = done = true;
                                          fc.stop();
                                          return nullptr;
                                        }
                                        throw_if_interrupted();  // unwinds; the writers remove their temporaries
                                        Work* w = take();
                                        if (!reader.next(w->block)) {
                                          give(w);
                                          done = true;
                                          fc.stop();
                                          return nullptr;
                                        }
                                        w->raw_offset = w->block.raw_offset;
                                        w->seq = next_seq++;
                                        return w;
                                      }) &
            tbb::make_filter<Work*, Work*>(tbb::filter_mode::parallel,
                                           [&](Work* w) {
                                             tokenize_block(*w, states.local(), tok, opt, dtype);
                                             return w;
                                           }) &
            tbb::make_filter<Work*, Work*>(tbb::filter_mode::serial_in_order, [&](Work* w) -> Work* {
              // Errors surface here, in file order, so the first bad line of the
              // file is the one reported whatever the scheduling.
              if (!w->errors.empty()) {
                if (opt.on_error == OnError::kStop) {
                  auto [line, reason] = w->errors.front();
                  give(w);
                  throw InputError(input, lines_before + line, reason);
                }
                st.skipped_lines += w->errors.size();
                for (auto& [line, reason] : w->errors)
                  if (st.first_errors.size() < opt.max_reported_errors)
                    st.first_errors.push_back(input + ":" + std::to_string(lines_before + line) + ": " + reason);
              }
              if (checkpoints && !pending.empty()) {
                // The newest snapshot whose blocks are all written; older ones are superseded.
                uint64_t first_unwritten = ~uint64_t{0};
                {
                  std::lock_guard<std::mutex> lk(unwritten_mu);
                  if (!unwritten.empty()) first_unwritten = *unwritten.begin();
                }
                size_t ready = 0;
                while (ready < pending.size() && pending[ready].first < first_unwritten) ++ready;
                if (ready) {
                  commit_checkpoint(pending[ready - 1].second);
                  pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(ready));
                }
              }
              // Only the index is written here, in order; the tokens, most of
              // the bytes, go out from the next (parallel) stage, so this one
              // thread does not have to copy every worker's output.
              w->bin_offsets.resize(writers.size());
              for (size_t k = 0; k < writers.size(); ++k) w->bin_offsets[k] = writers[k]->append_index(w->out[k]);
              lines_before += w->lines;
              input_done = w->block.end_offset;
              st.lines += w->lines;
              st.blank_lines += w->blank;
              st.documents += w->documents;
              st.empty_documents += w->empty;
              st.sequences += w->sequences;
              st.tokens += w->tokens;
              st.jsonl_bytes += w->block.size;
              if (progress) progress->add(w->raw_offset - reported_raw, w->documents);
              reported_raw = w->raw_offset;
              if (checkpoints) {
                std::lock_guard<std::mutex> lk(unwritten_mu);
                unwritten.insert(w->seq);
                since_checkpoint += w->block.size;
                if (since_checkpoint >= opt.checkpoint_every) {
                  pending.emplace_back(w->seq, snapshot());
                  since_checkpoint = 0;
                }
              }
              return w;
            }) &
            tbb::make_filter<Work*, void>(tbb::filter_mode::parallel, [&](Work* w) {
              for (size_t k = 0; k < writers.size(); ++k) writers[k]->write_tokens(w->bin_offsets[k], w->out[k]);
              if (checkpoints) {
                std::lock_guard<std::mutex> lk(unwritten_mu);
                unwritten.erase(w->seq);
              }
              give(w);
            }));
  } catch (const InputError&) {
    // The input is at fault: nothing of this work is worth resuming.
    if (checkpoints) {
      remove_checkpoint(ckpt.path);
      for (auto& w : writers) w->discard_parts();
    }
    throw;
  }

  if (stopped) {  // every block read was written: the checkpoint covers all of it
    commit_checkpoint(snapshot());
    throw_if_interrupted();
  }
  if (identity) remove_checkpoint(ckpt.path);  // before the parts it names are renamed
  for (auto& w : writers) w->finish();
  st.input_bytes = source->raw_bytes_read();
  st.notes = std::move(notes);
  return st;
}

}  // namespace

namespace {

// Tokenizes what open() gives, recorded as made from `inputs` (none: no record).
TokenizeStats tokenize_recorded(const TextTokenizer& tok, const std::vector<std::string>& inputs,
                                const std::function<std::unique_ptr<ByteSource>()>& open,
                                const std::vector<std::string>& prefixes, const TokenizeOptions& opt,
                                Progress* progress) {
  if (prefixes.size() != opt.json_keys.size()) throw Error("internal: one output prefix per JSON key is needed");
  const auto start = std::chrono::steady_clock::now();
  TokenizeStats st;
  if (inputs.empty()) {  // standard input cannot be identified: no record vouches for these outputs
    for (const auto& p : prefixes) remove_record(record_path_for(p));
    st = run_pipeline(tok, open(), prefixes, opt, progress, nullptr);
  } else {
    std::vector<CompletionRecord> records;  // the inputs are identified before they are read
    for (size_t k = 0; k < prefixes.size(); ++k) records.push_back(expected_record(tok, inputs, prefixes[k], k, opt));
    build_recorded(records, [&] {
      st = run_pipeline(tok, open(), prefixes, opt, progress, &records[0]);
      return BuildResult{{}, stats_counts(st)};
    });
  }
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return st;
}

// "CHUNK:LINE: reason" of a chunk's stream as "SHARD:LINE: reason" (errors come in line order).
void name_shards(const std::vector<std::string>& paths, const std::string& chunk, std::vector<std::string>& errors) {
  std::vector<size_t> which;
  std::vector<uint64_t> lines;
  for (size_t i = 0; i < errors.size(); ++i)
    if (errors[i].rfind(chunk + ":", 0) == 0 && errors[i].find(':', chunk.size() + 1) != std::string::npos) {
      which.push_back(i);
      lines.push_back(std::strtoull(errors[i].c_str() + chunk.size() + 1, nullptr, 10));
    }
  if (which.empty()) return;
  const auto found = locate_concat_lines(paths, lines);
  for (size_t k = 0; k < which.size(); ++k) {
    std::string& e = errors[which[k]];
    e = found[k].first + ":" + std::to_string(found[k].second) + e.substr(e.find(':', chunk.size() + 1));
  }
}

}  // namespace

std::vector<std::string> chunk_paths(const Chunk& chunk) {
  std::vector<std::string> paths;
  for (const auto& in : chunk.inputs) paths.push_back(in.path);
  return paths;
}

TokenizeStats tokenize_file(const TextTokenizer& tok, const std::string& input,
                            const std::vector<std::string>& prefixes, const TokenizeOptions& opt, Progress* progress) {
  return tokenize_recorded(tok, input == "-" ? std::vector<std::string>{} : std::vector<std::string>{input},
                           [&] { return open_byte_source(input); }, prefixes, opt, progress);
}

TokenizeStats tokenize_chunk(const TextTokenizer& tok, const Chunk& chunk, bool check_sizes,
                             const std::vector<std::string>& prefixes, const TokenizeOptions& opt, Progress* progress) {
  const std::vector<std::string> paths = chunk_paths(chunk);
  std::vector<uint64_t> sizes;
  for (const auto& in : chunk.inputs)
    if (check_sizes) sizes.push_back(in.size);
  // Shards decoded at once, each on a thread beside the pipeline's (sp/byte_source.h): zstd decodes JSONL at
  // about 1 GB/s per core, tokenizing takes tens to ~100 MB/s per core, so one decoder keeps up with 10 or more
  // of the pipeline's threads; a quarter of them leaves room for shards that decode slowly and starts small shards
  // well before the reader reaches them. At least 2 (the next shard decodes while this one is read), at most 8
  // (several GB/s; more would only hold more memory, a few MiB each).
  const size_t threads = static_cast<size_t>(tbb::this_task_arena::max_concurrency());
  const size_t files_ahead = std::clamp<size_t>(threads / 4, 2, 8);
  auto open = [&] { return open_concat_source(chunk.output, paths, sizes, files_ahead); };
  TokenizeStats st;
  try {
    st = tokenize_recorded(tok, paths, open, prefixes, opt, progress);
  } catch (const InputError& e) {
    // The stream's line numbers are the chunk's, which exists nowhere: name the shard and its line.
    if (e.file != chunk.output || e.line == 0) throw;
    const auto found = locate_concat_lines(paths, {e.line});
    throw InputError(found[0].first, found[0].second, e.reason);
  }
  name_shards(paths, chunk.output, st.first_errors);
  return st;
}

std::string stats_json(const TokenizeStats& s, const std::string& tokenizer_name,
                       const std::vector<RankTokenizeFigures>& ranks) {
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "{\n  \"tokenizer\": %s,\n  \"files\": %llu,\n  \"files_kept\": %llu,\n  \"input_bytes\": %llu,\n  \"jsonl_bytes\": %llu,\n"
                "  \"lines\": %llu,\n  \"blank_lines\": %llu,\n  \"documents\": %llu,\n  \"empty_documents\": %llu,\n"
                "  \"sequences\": %llu,\n  \"tokens\": %llu,\n  \"skipped_lines\": %llu,\n  \"seconds\": %.3f,\n"
                "  \"mb_per_s\": %.2f,\n  \"tokens_per_s\": %.0f,\n  \"first_errors\": [",
                json_quote(tokenizer_name).c_str(), (unsigned long long)s.files, (unsigned long long)s.files_kept,
                (unsigned long long)s.input_bytes,
                (unsigned long long)s.jsonl_bytes, (unsigned long long)s.lines, (unsigned long long)s.blank_lines,
                (unsigned long long)s.documents, (unsigned long long)s.empty_documents,
                (unsigned long long)s.sequences, (unsigned long long)s.tokens, (unsigned long long)s.skipped_lines,
                s.seconds, mb_per_s(s.jsonl_bytes - s.jsonl_bytes_kept - s.jsonl_bytes_resumed, s.seconds),
                s.seconds > 0 ? (s.tokens - s.tokens_kept - s.tokens_resumed) / s.seconds : 0.0);
  std::string out = buf;
  for (size_t i = 0; i < s.first_errors.size(); ++i)
    out += (i ? ", " : "") + json_quote(s.first_errors[i]);
  out += "]";
  if (!ranks.empty()) {
    out += ",\n  \"ranks\": [";
    for (size_t i = 0; i < ranks.size(); ++i) {
      const RankTokenizeFigures& r = ranks[i];
      std::snprintf(buf, sizeof buf,
                    "%s\n    {\"rank\": %d, \"files\": %llu, \"jsonl_bytes\": %llu, \"tokens\": %llu, "
                    "\"seconds\": %.3f}",
                    i ? "," : "", r.rank, (unsigned long long)r.files, (unsigned long long)r.jsonl_bytes,
                    (unsigned long long)r.tokens, r.seconds);
      out += buf;
    }
    out += "\n  ]";
  }
  out += "\n}\n";
  return out;
}

// Small inputs get more decimals, so a 40 KB shard does not read "0.0 MB".
static int decimals(uint64_t bytes) { return bytes < 10'000'000 ? 3 : 1; }

std::string stats_summary(const TokenizeStats& s) {
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "%llu file(s), %llu documents (%llu empty), %llu sequences, %llu tokens\n"
                "%.*f MB JSONL (%.*f MB read) in %.2f s: %.1f MB/s, %.2f M tokens/s\n",
                (unsigned long long)s.files, (unsigned long long)s.documents, (unsigned long long)s.empty_documents,
                (unsigned long long)s.sequences, (unsigned long long)s.tokens, decimals(s.jsonl_bytes), s.jsonl_bytes / 1e6,
                decimals(s.input_bytes), s.input_bytes / 1e6,
                s.seconds, mb_per_s(s.jsonl_bytes - s.jsonl_bytes_kept - s.jsonl_bytes_resumed, s.seconds),
                s.seconds > 0 ? (s.tokens - s.tokens_kept - s.tokens_resumed) / s.seconds / 1e6 : 0.0);
  std::string out = buf;
  if (s.files_kept)
    out += std::to_string(s.files_kept) + " of them kept: complete outputs of an earlier run (counts from their "
           "records)\n";
  if (s.jsonl_bytes_resumed) {
    char line[160];
    std::snprintf(line, sizeof line, "%.*f MB of it resumed: done by an interrupted run, up to its checkpoint\n",
                  decimals(s.jsonl_bytes_resumed), s.jsonl_bytes_resumed / 1e6);
    out += line;
  }
  if (s.skipped_lines) {
    out += "skipped " + std::to_string(s.skipped_lines) + " bad line(s)";
    out += s.first_errors.empty() ? "\n" : "; first:\n";
    for (const auto& e : s.first_errors) out += "  " + e + "\n";
  }
  return out;
}

}  // namespace sp
