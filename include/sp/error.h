// Error reporting shared by every tool: one exception type whose message is
// already in the form the user sees ("file:line: reason" or a plain sentence).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sp {

// A failure the user can act on: bad input, missing file, bad flag value.
// Tools print what() after "<tool>: error: " and exit non-zero.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Bad content at a known place in an input file. line is 1-based; 0 = unknown.
struct InputError : Error {
  InputError(std::string file, uint64_t line, std::string reason);
  std::string file;
  uint64_t line;
  std::string reason;
};

// A failed system call on a file (read, write, open, ...), with its errno, for
// callers that treat some causes differently (ENOSPC is permanent, EINTR is
// never seen: io.h retries it).
struct IoError : Error {
  IoError(int error_number, const std::string& message) : Error(message), error_number(error_number) {}
  int error_number;
};

// Wrong command-line usage; tools exit 2 and point at --help.
struct UsageError : Error {
  using Error::Error;
};

// "strerror(errno)" for the current errno, prefixed with what was being done:
// errno_message("cannot open", path) -> "cannot open 'path': No such file or directory".
std::string errno_message(std::string_view what, std::string_view path);

// "<label>: warning: <message>" on stderr: something the user should know
// that does not stop the run (printed even under --quiet, like errors).
void print_warning(std::string_view label, std::string_view message);

// Runs a tool's body, turning exceptions into one clear line on stderr and an
// exit status: 0 on success, 1 on Error and on running out of memory, 2 on
// UsageError, 128 + the signal number when interrupted (sp/interrupt.h; its
// handlers are installed here, for every tool), 3 on anything else (a bug).
int run_tool(std::string_view tool, int (*body)(int argc, char** argv), int argc, char** argv);

// Called by run_tool with the exit status after it printed why a tool's body
// ended with an exception. The job layer (sp/job.h) sets one that ends an MPI
// job (MPI_Abort), so the other ranks do not wait for this one forever.
void set_failure_exit_hook(void (*hook)(int status));
// A prefix for run_tool's own lines ("[rank 3/8] "), set by the job layer
// under MPI, so an error names the rank that met it before its file:line.
void set_tool_label_prefix(const std::string& prefix);

}  // namespace sp
