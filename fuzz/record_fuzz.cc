// Completion records read from arbitrary bytes (a record file is user-visible
// JSON that anything may have rewritten): check_completion never crashes and
// never calls such a file complete unless it really describes the outputs on
// disk; a record that reads is written back and read again unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "sp/error.h"
#include "sp/record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string dir = sp::fuzz::scratch_dir();
  const std::string out = dir + "/out.bin", in = dir + "/in.jsonl";
  sp::fuzz::write_bytes(out, "output bytes");
  sp::fuzz::write_bytes(in, "{\"text\":\"x\"}\n");
  sp::CompletionRecord want;
  want.path = sp::record_path_for(out);
  want.tool = "sp_test";
  want.options = {{"key", "text"}};
  want.inputs = {sp::identify_input(in)};
  want.outputs = {sp::FileIdentity{out}};
  sp::fuzz::write_bytes(want.path, text);

  for (auto depth : {sp::VerifyDepth::kQuick, sp::VerifyDepth::kFull}) {
    const sp::CompletionCheck c = sp::check_completion(want, depth);
    FUZZ_CHECK(c.state != sp::Completion::kAbsent && c.state != sp::Completion::kUnrecorded, "state %s",
               sp::completion_name(c.state));
    FUZZ_CHECK(c.state == sp::Completion::kComplete || !c.reason.empty(), "no reason for %s",
               sp::completion_name(c.state));
    if (c.state == sp::Completion::kComplete) {
      // Then it names exactly this output, with its true size.
      FUZZ_CHECK(c.record.outputs.size() == 1 && c.record.outputs[0].path == out && c.record.outputs[0].size == 12,
                 "complete, but describes other outputs");
      FUZZ_CHECK(c.record.tool == "sp_test" && c.record.inputs.size() == 1, "complete, but of another task");
    }
  }

  sp::CompletionRecord r;
  try {
    r = sp::read_record(want.path);
  } catch (const sp::Error&) {
    return 0;
  }
  // What reads is written back and reads the same.
  r.path = dir + "/again.sp-record";
  for (auto& o : r.outputs) o.path = dir + "/" + o.path.substr(o.path.rfind('/') + 1);
  sp::write_record(r);
  const sp::CompletionRecord again = sp::read_record(r.path);
  FUZZ_CHECK(again.tool == r.tool && again.options == r.options && again.counts == r.counts, "fields changed");
  FUZZ_CHECK(again.inputs.size() == r.inputs.size() && again.outputs.size() == r.outputs.size(), "lists changed");
  for (size_t i = 0; i < r.inputs.size(); ++i)
    FUZZ_CHECK(again.inputs[i].path == r.inputs[i].path && again.inputs[i].size == r.inputs[i].size &&
                   again.inputs[i].mtime_ns == r.inputs[i].mtime_ns &&
                   again.inputs[i].fingerprint == r.inputs[i].fingerprint,
               "input %zu changed", i);
  for (size_t i = 0; i < r.outputs.size(); ++i)
    FUZZ_CHECK(again.outputs[i].path == r.outputs[i].path && again.outputs[i].size == r.outputs[i].size &&
                   again.outputs[i].fingerprint == r.outputs[i].fingerprint,
               "output %zu changed", i);
  return 0;
}
