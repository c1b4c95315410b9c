// sp_tokenize's job after its flags (sp/tokenize_job.h): tasks, the fused
// plan, the run over the ranks and the one summary.
#include "sp/tokenize_job.h"

#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "sp/checkpoint.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/indexed_dataset.h"
#include "sp/interrupt.h"
#include "sp/job.h"
#include "sp/rank.h"
#include "sp/record.h"
#include "sp/stale_temps.h"
#include "sp/threads.h"

namespace sp {
namespace {

// Workers per input tokenized at once, by default: on 16 cores 4 processes x 4
// workers beat 1 x 16 by 1.35x on 16 files (bench/RESULTS.md, issue 11).
constexpr int kWorkersPerFile = 4;

// One task: an input file (or a chunk of the fused path) and its output prefixes (one per key).
struct Task {
  std::string input;
  std::vector<std::string> prefixes;
  const Chunk* chunk = nullptr;
};

bool is_jsonl_name(std::string_view rel) {
  for (const char* s : {".jsonl", ".json", ".jsonl.zst", ".json.zst", ".jsonl.zstd", ".json.zstd"})
    if (ends_with(rel, s)) return true;
  return false;
}

std::string strip_zst(const std::string& name) {
  if (ends_with(name, ".zst")) return name.substr(0, name.size() - 4);
  if (ends_with(name, ".zstd")) return name.substr(0, name.size() - 5);
  return name;
}

// The counters of TokenizeStats in a fixed order, for end_job's sums.
constexpr size_t kPacked = 15;
std::vector<uint64_t> pack(const TokenizeStats& s) {
  return {s.files,       s.files_kept,  s.jsonl_bytes_kept, s.tokens_kept,     s.input_bytes,
          s.jsonl_bytes, s.lines,       s.blank_lines,      s.documents,       s.empty_documents,
          s.sequences,   s.tokens,      s.skipped_lines,    s.jsonl_bytes_resumed, s.tokens_resumed};
}
TokenizeStats unpack(const std::vector<uint64_t>& v) {
  TokenizeStats s;
  uint64_t* fields[] = {&s.files,       &s.files_kept, &s.jsonl_bytes_kept, &s.tokens_kept,     &s.input_bytes,
                        &s.jsonl_bytes, &s.lines,      &s.blank_lines,      &s.documents,       &s.empty_documents,
                        &s.sequences,   &s.tokens,     &s.skipped_lines,    &s.jsonl_bytes_resumed,
                        &s.tokens_resumed};
  static_assert(std::size(fields) == kPacked);
  for (size_t i = 0; i < kPacked; ++i) *fields[i] = v[i];
  return s;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < text.size();) {
    const size_t nl = text.find('\n', pos);
    out.push_back(text.substr(pos, nl - pos));
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return out;
}

// The fused path's plan: sp_concat's plan over the files sp_extract would
// write from the shards, pinned in OUT/sp_concat_plan.tsv like sp_concat's so
// reruns and every rank follow one plan. Decompressed sizes are needed only
// to make it (--chunk-size): under MPI rank 0 makes it and the other ranks
// wait for its file.
std::vector<Chunk> plan_fused(const Job& job, const ConcatPlanOptions& po, bool dry_run, bool quiet,
                              const std::string& who) {
  const RankInfo& rank = job.rank();
  const std::string plan_path = plan_file_path(po.output_dir);
  const bool pinned = path_exists(plan_path);
  if (dry_run && rank.rank != 0 && job.uses_mpi()) return {};  // rank 0 prints the plan
  const bool makes_plan = !pinned && (dry_run || !job.uses_mpi() || rank.rank == 0);
  std::vector<std::string> counted, dangling;
  const auto shards = list_shard_inputs(po.input_dir, makes_plan && po.files_per_chunk == 0, &counted, &dangling);
  if (rank.rank == 0) warn_dangling_links(who, dangling);
  if (!quiet && !counted.empty())
    std::fprintf(stderr, "%s: %zu shard(s) do not record their size in their zstd frame headers (e.g. %s): "
                 "decompressed once to count it\n", who.c_str(), counted.size(), counted[0].c_str());
  if (shards.empty() && !pinned)
    throw Error("no *.jsonl.zst / *.jsonl files under '" + po.input_dir + "'");
  std::vector<Chunk> plan;
  bool from_file = false;
  if (makes_plan && !dry_run) (void)remove_stale_temps({plan_path});  // a killed run's plan temporary
  if (makes_plan) plan = pin_plan(plan_chunks(shards, po), po, !dry_run, &from_file);
  // The others wait here for rank 0's plan file. Every rank takes part, whatever
  // it saw: rank 0 may have pinned the plan before another rank looked.
  if (!dry_run && job.uses_mpi()) job.sum({0});
  if (!makes_plan) plan = pin_plan({}, po, false, &from_file);
  if (from_file) check_plan_covers(plan, shards, plan_path);
  attach_shards(plan, shards, plan_path);
  return plan;
}

std::string plan_text(const std::vector<Chunk>& plan, const ConcatPlanOptions& po, const TokenizeOptions& opt,
                      const Job& job) {
  std::string s = format_plan(plan);
  if (po.files_per_chunk) s += "(sizes are not needed with --files-per-chunk: shown as 0)\n";
  s += "each chunk is tokenized to <chunk>_" + opt.json_keys[0] + "_document.bin/.idx";
  if (opt.json_keys.size() > 1) s += " (and one pair per other key)";
  s += "; no chunk file is written\n";
  const std::string plan_path = plan_file_path(po.output_dir);
  if (path_exists(plan_path)) s += "(plan pinned by " + plan_path + ")\n";
  if (job.uses_mpi() && job.rank().world > 1)
    s += "chunks are drawn largest first by the " + std::to_string(job.rank().world) + " MPI ranks as they finish\n";
  return s;
}

// What the tool's flag checks already rule out, for callers of the library.
void check_options(const TokenizeJobOptions& o, bool fused) {
  if (o.inputs.empty() == o.input_dir.empty())
    throw UsageError("tokenize job: give either inputs or an input directory");
  if (o.output_prefix.empty() == o.output_dir.empty())
    throw UsageError("tokenize job: give either an output prefix or an output directory");
  if (!o.output_prefix.empty() && o.inputs.size() != 1)
    throw UsageError("tokenize job: an output prefix takes one input");
  if ((fused || o.dry_run) && (o.input_dir.empty() || o.output_dir.empty() || o.plan.prefix.empty()))
    throw UsageError("tokenize job: the fused path takes an input directory of shards, an output directory and a "
                     "chunk size or files per chunk");
  if (o.tokenize.json_keys.empty()) throw UsageError("tokenize job: no JSON keys");
}

}  // namespace

int run_tokenize_job(const TokenizeJobOptions& o) {
  const TokenizeOptions& opt = o.tokenize;
  const bool fused = o.plan.target_size > 0 || o.plan.files_per_chunk > 0;
  const bool batch = !o.output_dir.empty(), quiet = o.quiet, overwrite = opt.overwrite;
  check_options(o, fused);
  ConcatPlanOptions plan_opt = o.plan;
  plan_opt.input_dir = o.input_dir;
  plan_opt.output_dir = o.output_dir;
  const int threads = o.threads > 0 ? o.threads : default_threads();

  Job job;
  const RankInfo& rank = job.rank();
  const std::string who = rank_prefix(rank) + o.label;

  // Work out the tasks: (input file, output prefixes).
  std::vector<Task> tasks;
  std::vector<uint64_t> sizes;
  auto add_task = [&](const std::string& input, const std::string& out_base, uint64_t size) {
    Task t{input, {}};
    for (const auto& k : opt.json_keys) t.prefixes.push_back(output_prefix_for(out_base, k));
    tasks.push_back(std::move(t));
    sizes.push_back(size);
  };
  std::vector<Chunk> plan;
  if (fused) {
    plan = plan_fused(job, plan_opt, o.dry_run, quiet, who);
    if (o.dry_run) {
      if (rank.rank == 0) std::fputs(plan_text(plan, plan_opt, opt, job).c_str(), stdout);
      return 0;
    }
    for (const auto& c : plan) {
      uint64_t on_disk = 0;  // progress counts the shards' bytes as read
      for (const auto& in : c.inputs) on_disk += file_size(in.path);
      add_task(c.output, c.output, on_disk);
      tasks.back().chunk = &c;
    }
  } else if (!batch) {
    add_task(o.inputs[0], o.output_prefix, 0);
  } else {
    if (!o.input_dir.empty()) {
      std::vector<std::string> dangling;
      for (const auto& f : list_files(o.input_dir, is_jsonl_name, &dangling))
        add_task(f.path, o.output_dir + "/" + strip_zst(f.relative), f.size);
      if (rank.rank == 0) warn_dangling_links(who, dangling);
      if (tasks.empty()) throw Error("no *.jsonl / *.json / *.jsonl.zst files under '" + o.input_dir + "'");
    } else {
      for (const auto& in : o.inputs) add_task(in, o.output_dir + "/" + strip_zst(base_name(in)), file_size(in));
    }
    std::map<std::string, std::string> owner;
    for (const auto& t : tasks)
      if (auto [it, fresh] = owner.emplace(t.prefixes[0], t.input); !fresh)
        throw UsageError("inputs '" + it->second + "' and '" + t.input + "' would both write " + t.prefixes[0]);
  }
  for (const auto& t : tasks)
    if (!t.chunk && t.input != "-" && !path_exists(t.input)) throw Error(errno_message("cannot open", t.input));

  const TextTokenizer tokenizer = load_tokenizer(o.tokenizer);
  if (!quiet && rank.rank == 0)
    for (const auto& note : tokenizer.notes) std::fprintf(stderr, "%s: %s\n", who.c_str(), note.c_str());

  // Each task: kept when its completion records match its outputs, its
  // input, this tokenizer and these options; else (re)built. A bad line with
  // OnError::kStop throws out of the task and ends the job.
  std::vector<TokenizeStats> stats(tasks.size());
  std::atomic<size_t> stale{0};
  std::mutex print_mu;
  auto print = [&](const std::string& line) {
    std::lock_guard<std::mutex> lk(print_mu);
    std::fprintf(stderr, "%s: %s\n", who.c_str(), line.c_str());
  };
  auto run_task = [&](size_t i, Progress& progress) {
    const Task& t = tasks[i];
    if (!overwrite) {
      const TokenizedCheck check = t.chunk ? check_tokenized_chunk(tokenizer, *t.chunk, t.prefixes, opt)
                                           : check_tokenized(tokenizer, t.input, t.prefixes, opt);
      if (check.complete) {
        stats[i] = check.stats;
        progress.add(sizes[i]);
        return;
      }
      if (!quiet && !check.notice.empty()) print(check.notice);
    }
    // This task's temporaries: only those of dead writers go.
    std::vector<std::string> finals;
    for (const auto& p : t.prefixes) {
      for (auto& f : writer_temp_finals(p)) finals.push_back(std::move(f));
      finals.push_back(record_path_for(p));
    }
    finals.push_back(checkpoint_path_for(t.prefixes[0]));
    const StaleTempSweep sweep = remove_stale_temps(finals);
    stale += sweep.removed;
    if (sweep.other_hosts) print("warning: " + sweep.other_hosts_note());
    for (const auto& p : t.prefixes) make_dirs(parent_dir(p));
    stats[i] = t.chunk ? tokenize_chunk(tokenizer, *t.chunk, !plan_opt.files_per_chunk, t.prefixes, opt, &progress)
                       : tokenize_file(tokenizer, t.input, t.prefixes, opt, &progress);
    if (!quiet)
      for (const auto& note : stats[i].notes) print(note);
  };

  JobTasksOptions jo;
  // Several inputs at once in one arena of `threads` workers: each pipeline's
  // serial parts (reading, decompressing, the index, the record) overlap the
  // others' tokenizing, and the last input running gets every worker.
  const int at_once = o.files_at_once > 0 ? o.files_at_once : std::max(1, threads / kWorkersPerFile);
  jo.threads = at_once;
  jo.threads_per_task = std::max(1, threads / at_once);
  jo.items_are_tasks = false;  // the tasks count documents
  jo.progress = o.progress;
  jo.progress.label = who;
  jo.progress.item_name = "documents";
  jo.per_rank_progress = o.per_rank_progress;
  JobTasksResult run;
  if (batch) {
    run = run_job_tasks(job, sizes, jo, run_task);
  } else if (rank.rank == 0) {  // one input: rank 0 alone (under mpirun it alone has standard input)
    if (tasks[0].input != "-") jo.progress.total_bytes = file_size(tasks[0].input);
    Progress progress(jo.progress);
    tbb::task_arena arena(threads);  // an arena, not a global_control: see sp/threads.h on joining the workers
    run.stop = run_interruptible([&] { arena.execute([&] { run_task(0, progress); }); });
    run.ran = {0};
    progress.finish();
    run.seconds = progress.elapsed_seconds();
  }

  // This rank's figures, then the job's (end_job): sums over the ranks (the
  // stale temporaries last), each rank's exact figures for the statistics
  // file, and its first errors, "<task>\t<error>" lines that rank 0 puts in
  // input order.
  TokenizeStats mine;
  std::vector<size_t> ran = run.ran;
  std::sort(ran.begin(), ran.end());
  std::string errors;
  for (size_t i : ran) {
    mine.merge(stats[i]);
    for (const auto& e : stats[i].first_errors) errors += std::to_string(i) + "\t" + e + "\n";
  }
  std::vector<uint64_t> counts = pack(mine);
  counts.push_back(stale.load());
  char buf[160];
  std::snprintf(buf, sizeof buf, "%llu\t%llu\t%llu\t%.3f", static_cast<unsigned long long>(mine.files),
                static_cast<unsigned long long>(mine.jsonl_bytes), static_cast<unsigned long long>(mine.tokens),
                run.seconds);
  JobEnd end = end_job(job, counts, run.seconds, buf, errors);
  TokenizeStats total = unpack(end.totals);
  const uint64_t stale_all = end.totals[kPacked];
  total.seconds = end.seconds;
  std::vector<std::pair<size_t, std::string>> first;
  for (const auto& text : end.notes)
    for (const auto& line : split_lines(text)) {
      const size_t tab = line.find('\t');
      first.emplace_back(std::stoull(line.substr(0, tab)), line.substr(tab + 1));
    }
  std::stable_sort(first.begin(), first.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t k = 0; k < first.size() && k < opt.max_reported_errors; ++k)
    total.first_errors.push_back(first[k].second);
  std::vector<RankTokenizeFigures> per_rank;
  for (auto& line : end.per_rank) {
    RankTokenizeFigures f;
    f.rank = static_cast<int>(per_rank.size());
    std::sscanf(line.c_str(), "%" SCNu64 "\t%" SCNu64 "\t%" SCNu64 "\t%lf", &f.files, &f.jsonl_bytes, &f.tokens,
                &f.seconds);
    per_rank.push_back(f);
    std::snprintf(buf, sizeof buf, "%llu files, %.1f MB, %llu tokens, %.1f s",  // the summary's line for this rank
                  static_cast<unsigned long long>(f.files), f.jsonl_bytes / 1e6,
                  static_cast<unsigned long long>(f.tokens), f.seconds);
    line = buf;
  }

  if (end.reports && !o.stats_json.empty() && !run.stop) {  // partial statistics would look like a finished run's
    std::string path = o.stats_json;
    if (!job.uses_mpi() && rank.world > 1) path += ".rank" + std::to_string(rank.rank);  // no MPI: nobody to sum with
    AtomicFile f(path);
    f.write(stats_json(total, tokenizer.name, per_rank));
    f.commit();
  }
  if (!quiet && end.reports) {
    if (total.files_kept && !run.stop)
      print(std::to_string(total.files_kept) + " input(s) already have complete outputs (their records match); "
            "kept (--overwrite rebuilds them)");
    if (stale_all) print(std::to_string(stale_all) + " stale temporaries removed");
    const std::string shape = (job.uses_mpi() ? std::to_string(rank.world) + " ranks x " : std::string()) +
                              std::to_string(threads) + " worker thread" + (threads == 1 ? "" : "s");
    if (run.stop) print("interrupted after " + std::to_string(total.files) + " of " + std::to_string(tasks.size()) +
                        " file(s); finished:");
    else print("done (" + shape + ")");
    for (const auto& line : split_lines(stats_summary(total))) print(line);
    if (const std::string line = end.per_rank_line(who); !line.empty()) std::fprintf(stderr, "%s\n", line.c_str());
  }
  if (run.stop) {
    job.finish();  // every rank got the signal and stops here together
    throw *run.stop;
  }
  return 0;
}

}  // namespace sp
