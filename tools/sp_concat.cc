// sp_concat: group JSONL files into large chunks (e.g. SlimPajama's 59,166
// shards into ~34 GB training chunks) by a deterministic plan, newline-safe,
// in parallel across ranks and threads, resumable.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>

#include "sp/cli.h"
#include "sp/concat.h"
#include "sp/error.h"
#include "sp/fs.h"
#include "sp/interrupt.h"
#include "sp/progress.h"
#include "sp/rank.h"
#include "sp/record.h"
#include "sp/stale_temps.h"
#include "sp/threads.h"

namespace {

const sp::cli::Program kProgram{
    "sp_concat",
    "concatenate *.jsonl files into large chunks by a deterministic plan",
    "sp_concat --input-dir DIR --output-dir OUT [--target-size 34G | --files-per-chunk N] [--prefix train_chunk_] "
    "[--remove-source] [--dry-run]",
    sp::with_output_flags(sp::with_progress_flags({
        {"input-dir", "DIR", "Directory searched recursively for *.jsonl files."},
        {"output-dir", "OUT", "Where the chunks <prefix><i>.jsonl and the plan file sp_concat_plan.tsv go."},
        {"target-size", "SIZE",
         "Fill each chunk until the next file would take it past SIZE (bytes; K/M/G/T = powers of 1024). "
         "A larger file gets a chunk of its own.",
         "34G"},
        {"files-per-chunk", "N", "Instead of --target-size: exactly N files per chunk (the last may have fewer)."},
        {"prefix", "PREFIX", "Chunk file name prefix.", "train_chunk_"},
        {"remove-source", "",
         "Delete each input once the chunk holding it is complete, verified (checksum read back, every input "
         "compared with its bytes in the chunk) and synced to disk."},
        {"overwrite", "", "Rebuild chunks even when their completion record says they are complete."},
        {"dry-run", "", "Print the plan (chunk -> files, sizes) on stdout and write nothing."},
        {"threads", "N", "Copies at once in this process; 0 = this rank's share of the CPUs.", "0"},
    })),
    "Files are taken in byte-wise order of their paths relative to DIR, so the plan is the same on\n"
    "every machine and whatever the number of ranks or threads. An input that does not end with a\n"
    "newline gets one, so no two documents share a line; bytes are otherwise copied unchanged\n"
    "(copy_file_range, so the kernel or file system moves the data). The first run pins its plan in\n"
    "OUT/sp_concat_plan.tsv; reruns (after a kill, or with inputs already removed by --remove-source)\n"
    "follow that file. Chunks are written under temporary names and renamed when complete; then\n"
    "OUT/<chunk>.sp-record (JSON) records the inputs' identity and the chunk's size and checksum. A\n"
    "rerun keeps exactly the chunks whose record matches them and their inputs, and rebuilds the rest\n"
    "(saying why). Chunks are shared across MPI / RANK+WORLD_SIZE processes and threads.\n"
    "\n"
    "Examples:\n"
    "  sp_concat --input-dir /data/jsonl/train --output-dir /data/chunks --dry-run\n"
    "  sp_concat --input-dir /data/jsonl/train --output-dir /data/chunks --target-size 34G\n"
    "  mpirun -np 8 sp_concat --input-dir /data/jsonl/train --output-dir /data/chunks --remove-source\n"};

int body(int argc, char** argv) {
  const auto args = sp::cli::parse(kProgram, argc, argv);
  sp::apply_output_flags(args);
  if (!args.has("input-dir")) throw sp::UsageError("--input-dir is required");
  if (!args.has("output-dir")) throw sp::UsageError("--output-dir is required");
  if (args.has("target-size") && args.has("files-per-chunk"))
    throw sp::UsageError("give either --target-size or --files-per-chunk, not both");
  const bool quiet = args.flag("quiet"), dry_run = args.flag("dry-run");
  const int threads = sp::resolve_threads(args.get_int("threads", 0));

  sp::ConcatPlanOptions po;
  po.input_dir = args.get("input-dir");
  po.output_dir = args.get("output-dir");
  po.prefix = args.get("prefix");
  if (po.prefix.empty() || po.prefix.find('/') != std::string::npos)
    throw sp::UsageError("--prefix must be a non-empty file name prefix without '/'");
  if (args.has("files-per-chunk")) {
    const int64_t n = args.get_int("files-per-chunk", 0);
    if (n < 1) throw sp::UsageError("--files-per-chunk must be at least 1");
    po.files_per_chunk = static_cast<uint64_t>(n);
  } else {
    po.target_size = args.get_size("target-size", 0);
    if (po.target_size == 0) throw sp::UsageError("--target-size must be more than 0");
  }
  sp::ConcatOptions co;
  co.remove_source = args.flag("remove-source");
  co.overwrite = args.flag("overwrite");

  const sp::RankInfo rank = sp::detect_rank();
  const std::string label = sp::rank_prefix(rank) + "sp_concat";
  std::vector<std::string> dangling;
  const auto listed = sp::list_concat_inputs(po.input_dir, po.output_dir, &dangling);
  if (rank.rank == 0) sp::warn_dangling_links(label, dangling);
  const auto planned = sp::plan_chunks(listed, po);
  const std::string plan_path = sp::plan_file_path(po.output_dir);
  if (planned.empty() && !sp::path_exists(plan_path)) {
    if (!quiet && rank.rank == 0) std::fprintf(stderr, "%s: no *.jsonl files under %s: nothing to do\n", label.c_str(), po.input_dir.c_str());
    return 0;
  }
  bool from_file = false;
  const auto plan = sp::pin_plan(planned, po, !dry_run, &from_file);
  if (from_file) sp::check_plan_covers(plan, listed, plan_path);

  std::vector<uint64_t> sizes;
  for (const auto& c : plan) sizes.push_back(c.bytes);
  if (dry_run) {
    if (rank.rank != 0) return 0;  // every rank has the same plan: print it once
    std::string s = sp::format_plan(plan);
    if (from_file) s += "(plan pinned by " + plan_path + ")\n";
    if (rank.world > 1) {
      for (int r = 0; r < rank.world; ++r) {
        s += "rank " + std::to_string(r) + ":";
        for (size_t i : sp::shard_by_size(sizes, r, rank.world)) (s += ' ') += std::to_string(i);
        s += "\n";
      }
    }
    std::fputs(s.c_str(), stdout);
    return 0;
  }

  std::vector<size_t> mine = sp::shard_by_size(sizes, rank.rank, rank.world);
  std::vector<std::string> finals;
  for (size_t i : mine) finals.insert(finals.end(), {plan[i].output, sp::record_path_for(plan[i].output)});
  // The plan's own temporary too: the sweep removes only those of dead
  // writers, never one a rank is still writing.
  finals.push_back(plan_path);
  const sp::StaleTempSweep sweep = sp::remove_stale_temps(finals);
  const size_t stale = sweep.removed;
  if (sweep.other_hosts) sp::print_warning(label, sweep.other_hosts_note());

  uint64_t total = 0;
  for (size_t i : mine) total += sizes[i];
  sp::ProgressOptions pro;
  pro.label = label;
  pro.item_name = "chunks";
  pro.total_bytes = total;
  pro.total_items = mine.size();
  sp::apply_progress_flags(args, pro);
  sp::Progress progress(pro);

  std::vector<sp::ChunkResult> results(mine.size());
  std::mutex err_mu;
  tbb::task_arena arena(threads);
  const auto stop = sp::run_interruptible([&] { arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<size_t>(0, mine.size(), 1), [&](const tbb::blocked_range<size_t>& r) {
      for (size_t k = r.begin(); k != r.end(); ++k) {
        results[k] = sp::write_chunk(plan[mine[k]], co, &progress);
        if (results[k].status == sp::ChunkStatus::kFailed || !results[k].notice.empty()) {
          std::lock_guard<std::mutex> lk(err_mu);
          if (!results[k].notice.empty() && !quiet)
            std::fprintf(stderr, "%s: %s\n", label.c_str(), results[k].notice.c_str());
          if (results[k].status == sp::ChunkStatus::kFailed)
            std::fprintf(stderr, "%s: error: %s\n", label.c_str(), results[k].error.c_str());
        }
      }
    });
  }); });
  progress.finish();

  size_t written = 0, skipped = 0, failed = 0, unfinished = 0;
  uint64_t out = 0, newlines = 0, removed = 0, files = 0;
  for (size_t k = 0; k < mine.size(); ++k) {
    const auto& r = results[k];
    written += r.status == sp::ChunkStatus::kWritten;
    skipped += r.status == sp::ChunkStatus::kSkipped;
    failed += r.status == sp::ChunkStatus::kFailed && !r.error.empty();
    unfinished += r.status == sp::ChunkStatus::kFailed && r.error.empty();  // not reached: interrupted
    out += r.bytes_out, newlines += r.newlines_added, removed += r.sources_removed;
    if (r.status == sp::ChunkStatus::kWritten) files += plan[mine[k]].inputs.size();
  }
  const double t = progress.elapsed_seconds();
  if (!quiet) {
    std::string s = label + ": " + std::to_string(mine.size()) + " of " + std::to_string(plan.size()) +
                    " chunks (" + std::to_string(threads) + " threads): " + std::to_string(written) + " written from " +
                    std::to_string(files) + " files, " + std::to_string(skipped) + " kept (complete), " +
                    std::to_string(failed) + " failed | " + std::to_string(newlines) + " missing final newlines added";
    if (co.remove_source) s += " | " + std::to_string(removed) + " sources removed";
    if (stale) s += " | " + std::to_string(stale) + " stale temporaries removed";
    if (stop) s += " | interrupted: " + std::to_string(unfinished) + " not finished";
    char buf[200];
    std::snprintf(buf, sizeof buf, " | out %.1f MB | %s | %.1f MB/s", out / 1e6, sp::cli::format_duration(t).c_str(),
                  sp::mb_per_s(out, t));
    std::fprintf(stderr, "%s%s\n", s.c_str(), buf);
  }
  if (failed) {
    std::fprintf(stderr, "%s: error: %zu chunk(s) failed (errors above); rerun to retry them\n", label.c_str(), failed);
  }
  if (stop) throw *stop;
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) { return sp::run_tool("sp_concat", body, argc, argv); }
