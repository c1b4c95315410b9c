// sp_extract: decompress every *.zst under a directory, in parallel across
// ranks and threads, safely (atomic outputs, resumable, failures isolated).
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <numeric>

#include "sp/cli.h"
#include "sp/error.h"
#include "sp/extract.h"
#include "sp/fs.h"
#include "sp/interrupt.h"
#include "sp/progress.h"
#include "sp/rank.h"
#include "sp/record.h"
#include "sp/stale_temps.h"
#include "sp/threads.h"

namespace {

const sp::cli::Program kProgram{
    "sp_extract",
    "decompress every *.zst file under a directory (zstd, streaming, resumable)",
    "sp_extract --input-dir DIR [--output-dir OUT] [--threads N] [--remove-source] [--validate]",
    sp::with_output_flags(sp::with_progress_flags({
        {"input-dir", "DIR", "Directory searched recursively for *.zst files."},
        {"output-dir", "OUT",
         "Where outputs go, keeping paths relative to DIR and dropping '.zst'. Default: beside each source."},
        {"threads", "N", "Files decompressed at once in this process; 0 = this rank's share of the CPUs.", "0"},
        {"remove-source", "",
         "Delete each .zst once its output is complete, verified against its completion record (checksum read "
         "back) and synced to disk (saves space)."},
        {"overwrite", "", "Rebuild outputs even when their completion record says they are complete."},
        {"validate", "",
         "Also check that every line is a JSON object with valid UTF-8; the first bad line of a file is "
         "reported as FILE:LINE and that file fails."},
    })),
    "Files are shared out across the processes of an MPI or RANK/WORLD_SIZE job (by size) and across\n"
    "threads within each process. Every output is written under a temporary name and renamed only\n"
    "when the whole file decoded cleanly, so a corrupt, truncated or interrupted file never leaves a\n"
    "complete-looking output. Beside each output, OUTPUT.sp-record (JSON) records the source's identity\n"
    "and the output's size and checksum; an output counts as complete only when its record matches it\n"
    "and the source, so a rerun skips exactly those, rebuilds anything else (saying why) and resumes a\n"
    "killed job. Sources already removed by --remove-source stay in the plan through their records, so\n"
    "ranks started at different times still split the same files. A failed file does not stop the\n"
    "others; the exit status is 1 if any file failed.\n"
    "\n"
    "Examples:\n"
    "  sp_extract --input-dir SlimPajama-627B/train --output-dir /data/slimpajama/jsonl\n"
    "  sp_extract --input-dir SlimPajama-627B --remove-source --validate      # in place\n"
    "  mpirun -np 16 sp_extract --input-dir SlimPajama-627B/train --output-dir /data/jsonl\n"
    "  bcprun --nnodes 2 --npernode 48 --cmd 'sp_extract --input-dir /ws/sp/train --output-dir /ws/jsonl'\n"};

std::mutex g_err_mu;

int body(int argc, char** argv) {
  const auto args = sp::cli::parse(kProgram, argc, argv);
  sp::apply_output_flags(args);
  if (!args.has("input-dir")) throw sp::UsageError("--input-dir is required");
  const bool quiet = args.flag("quiet");
  const int threads = sp::resolve_threads(args.get_int("threads", 0));
  sp::ExtractOptions opt;
  opt.validate = args.flag("validate");
  opt.remove_source = args.flag("remove-source");
  opt.overwrite = args.flag("overwrite");

  const sp::RankInfo rank = sp::detect_rank();
  const std::string label = sp::rank_prefix(rank) + "sp_extract";
  std::vector<std::string> dangling;
  const auto tasks = sp::plan_extract(args.get("input-dir"), args.get("output-dir"), &dangling);
  if (rank.rank == 0) sp::warn_dangling_links(label, dangling);
  if (tasks.empty()) {
    if (!quiet && rank.rank == 0) std::fprintf(stderr, "%s: no *.zst files under %s: nothing to do\n", label.c_str(), args.get("input-dir").c_str());
    return 0;
  }

  std::vector<uint64_t> sizes;
  for (const auto& t : tasks) sizes.push_back(t.source_bytes);
  std::vector<size_t> mine = sp::shard_by_size(sizes, rank.rank, rank.world);
  // Largest first: the long files start early and the small ones fill the gaps.
  std::stable_sort(mine.begin(), mine.end(), [&](size_t a, size_t b) { return sizes[a] > sizes[b]; });

  std::vector<std::string> finals;
  for (size_t i : mine) finals.insert(finals.end(), {tasks[i].output, sp::record_path_for(tasks[i].output)});
  const sp::StaleTempSweep sweep = sp::remove_stale_temps(finals);
  const size_t stale = sweep.removed;
  if (sweep.other_hosts) sp::print_warning(label, sweep.other_hosts_note());

  uint64_t total_in = 0;
  for (size_t i : mine) total_in += sizes[i];
  std::atomic<uint64_t> out_bytes{0};
  sp::ProgressOptions po;
  po.label = label;
  po.item_name = "files";
  po.total_bytes = total_in;
  po.total_items = mine.size();
  sp::apply_progress_flags(args, po);
  po.extra = [&] { return "out " + sp::cli::format_size(out_bytes.load(std::memory_order_relaxed)); };
  sp::Progress progress(po);

  std::vector<sp::ExtractResult> results(mine.size());
  tbb::task_arena arena(threads);
  const auto stop = sp::run_interruptible([&] { arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<size_t>(0, mine.size(), 1), [&](const tbb::blocked_range<size_t>& r) {
      for (size_t k = r.begin(); k != r.end(); ++k) {
        results[k] = sp::extract_file(tasks[mine[k]], opt, &progress);
        out_bytes.fetch_add(results[k].bytes_out, std::memory_order_relaxed);
        if (results[k].status == sp::ExtractStatus::kFailed || !results[k].notice.empty()) {
          std::lock_guard<std::mutex> lk(g_err_mu);
          if (!results[k].notice.empty() && !quiet)
            std::fprintf(stderr, "%s: %s\n", label.c_str(), results[k].notice.c_str());
          if (results[k].status == sp::ExtractStatus::kFailed)
            std::fprintf(stderr, "%s: error: %s\n", label.c_str(), results[k].error.c_str());
        }
      }
    });
  }); });
  progress.finish();

  size_t done = 0, skipped = 0, removed = 0, unfinished = 0;
  uint64_t in = 0, out = 0, lines = 0;
  std::vector<std::string> failed;
  for (size_t k = 0; k < mine.size(); ++k) {
    const auto& r = results[k];
    if (r.status == sp::ExtractStatus::kExtracted) ++done;
    if (r.status == sp::ExtractStatus::kSkipped) ++skipped;
    if (r.status == sp::ExtractStatus::kFailed && r.error.empty()) ++unfinished;  // not reached: interrupted
    else if (r.status == sp::ExtractStatus::kFailed) failed.push_back(tasks[mine[k]].source);
    removed += r.source_removed;
    in += r.bytes_in, out += r.bytes_out, lines += r.lines;
  }
  const double t = progress.elapsed_seconds();
  if (!quiet) {
    std::string s = label + ": " + std::to_string(mine.size()) + " files (" + std::to_string(tasks.size()) +
                    " in the job, " + std::to_string(threads) + " threads): " + std::to_string(done) +
                    " extracted, " + std::to_string(skipped) + " kept (complete), " +
                    std::to_string(failed.size()) + " failed";
    if (opt.validate) s += " | " + std::to_string(lines) + " lines validated";
    if (opt.remove_source) s += " | " + std::to_string(removed) + " sources removed";
    if (stale) s += " | " + std::to_string(stale) + " stale temporaries removed";
    if (stop) s += " | interrupted: " + std::to_string(unfinished) + " not finished";
    char buf[256];
    std::snprintf(buf, sizeof buf, " | in %.1f MB, out %.1f MB | %s | %.1f MB/s in, %.1f MB/s out", in / 1e6,
                  out / 1e6, sp::cli::format_duration(t).c_str(), sp::mb_per_s(in, t), sp::mb_per_s(out, t));
    std::fprintf(stderr, "%s%s\n", s.c_str(), buf);
  }
  if (!failed.empty()) {
    std::sort(failed.begin(), failed.end());
    std::string list;
    for (size_t i = 0; i < failed.size() && i < 20; ++i) list += "\n  " + failed[i];
    if (failed.size() > 20) list += "\n  ... and " + std::to_string(failed.size() - 20) + " more";
    std::fprintf(stderr, "%s: error: %zu file(s) failed (errors above); rerun to retry them:%s\n", label.c_str(),
                 failed.size(), list.c_str());
  }
  if (stop) throw *stop;
  return failed.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) { return sp::run_tool("sp_extract", body, argc, argv); }
