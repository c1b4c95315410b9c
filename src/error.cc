#include "sp/error.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>

#include "sp/interrupt.h"
#include "sp/threads.h"

namespace sp {

static std::string format_input_error(const std::string& file, uint64_t line,
                                      const std::string& reason) {
  if (line == 0) return file + ": " + reason;
  return file + ":" + std::to_string(line) + ": " + reason;
}

InputError::InputError(std::string f, uint64_t l, std::string r)
    : Error(format_input_error(f, l, r)), file(std::move(f)), line(l), reason(std::move(r)) {}

std::string errno_message(std::string_view what, std::string_view path) {
  int e = errno;
  std::string s(what);
  s += " '";
  s += path;
  s += "': ";
  s += std::strerror(e);
  return s;
}

void print_warning(std::string_view label, std::string_view message) {
  std::fprintf(stderr, "%.*s: warning: %.*s\n", static_cast<int>(label.size()), label.data(),
               static_cast<int>(message.size()), message.data());
}

namespace {
void (*g_failure_exit_hook)(int) = nullptr;
int run_body(const std::string& name, int (*body)(int, char**), int argc, char** argv, bool& threw);
}  // namespace

void set_failure_exit_hook(void (*hook)(int status)) { g_failure_exit_hook = hook; }

namespace {
std::string g_label_prefix;  // set before any line is printed, by the main thread
}  // namespace

void set_tool_label_prefix(const std::string& prefix) { g_label_prefix = prefix; }

int run_tool(std::string_view tool, int (*body)(int, char**), int argc, char** argv) {
  const std::string name(tool);
  install_interrupt_handlers();
  WorkerThreadsJoin workers;
  bool threw = true;
  const int status = run_body(name, body, argc, argv, threw);
  if (threw && g_failure_exit_hook) g_failure_exit_hook(status);
  workers.join(status);
  return status;
}

namespace {

int run_body(const std::string& tool, int (*body)(int, char**), int argc, char** argv, bool& threw) {
  // The label as it is when a line is printed: the job layer sets the rank prefix inside the body.
  std::string label;
  const auto name = [&] { return (label = g_label_prefix + tool).c_str(); };
  try {
    const int status = body(argc, argv);
    threw = false;
    return status;
  } catch (const Interrupted& e) {
    // What was finished was reported by the tool; nothing unfinished is at a final name.
    std::fprintf(stderr, "%s: %s; rerun the same command to finish\n", name(), e.what());
    return 128 + e.signal;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: error: %s\nTry '%s --help' for more information.\n", name(), e.what(), tool.c_str());
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", name(), e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    // The machine's limit, like a full disk: an environment failure (1), not a bug.
    std::fprintf(stderr, "%s: error: out of memory (fewer --workers or a smaller --block-size need less)\n",
                 name());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", name(), e.what());
    return 3;
  }
}

}  // namespace

}  // namespace sp
