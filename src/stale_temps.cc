#include "sp/stale_temps.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "sp/fs.h"

namespace sp {

bool is_temp_name(std::string_view name, std::string* final_name) {
  auto pos = name.rfind(".tmp-");
  if (pos == std::string_view::npos || pos == 0) return false;
  if (final_name) *final_name = std::string(name.substr(0, pos));
  return true;
}

bool parse_temp_owner(std::string_view name, TempOwner* owner) {
  auto pos = name.rfind(".tmp-");
  if (pos == std::string_view::npos || pos == 0) return false;
  const std::string_view rest = name.substr(pos + 5);
  const auto dash = rest.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == rest.size() || rest.size() - dash > 11) return false;
  int64_t pid = 0;
  for (char c : rest.substr(dash + 1)) {
    if (c < '0' || c > '9') return false;
    pid = pid * 10 + (c - '0');
  }
  if (pid <= 0) return false;
  if (owner) *owner = {std::string(rest.substr(0, dash)), pid};
  return true;
}

std::string StaleTempSweep::other_hosts_note() const {
  if (other_hosts == 0) return "";
  return "left " + std::to_string(other_hosts) + " temporar" + (other_hosts == 1 ? "y" : "ies") +
         " of other hosts alone (e.g. " + example +
         "): their writers cannot be checked from here; remove them once no job on those hosts is running";
}

namespace {

std::string this_host() {
  // The same spelling temp_path_for puts into names.
  const std::string t = base_name(temp_path_for("x"));
  TempOwner o;
  return parse_temp_owner(t, &o) ? o.host : std::string();
}

// What /proc/<pid>/stat says about a running pid: its state letter and when
// it started (seconds since the epoch, from its start time in clock ticks
// after boot plus the boot time; < 0 when unknown).
struct ProcessInfo {
  char state = '?';
  double started = -1;
};

ProcessInfo process_info(int64_t pid) {
  static const double boot = [] {
    std::ifstream in("/proc/stat");
    for (std::string key; in >> key;) {
      if (key == "btime") {
        double t = -1;
        in >> t;
        return t;
      }
      in.ignore(1 << 20, '\n');
    }
    return -1.0;
  }();
  static const long ticks = ::sysconf(_SC_CLK_TCK);
  ProcessInfo info;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return info;
  // "pid (comm) state ..." where comm may hold spaces and ')': the fields
  // after the last ')' are state (3), ..., start time (22).
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return info;
  std::istringstream rest(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i)
    if (i == 3) info.state = field[0];
  if (rest && boot >= 0 && ticks > 0)
    info.started = boot + std::strtod(field.c_str(), nullptr) / static_cast<double>(ticks);
  return info;
}

// Whether the writer of a temporary on this host is provably gone.
bool writer_gone(int64_t pid, const struct stat& st) {
  if (pid > INT32_MAX) return true;  // not a pid this system can have
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return true;
  // The pid exists (EPERM: as another user). A zombie writes nothing more
  // (a killed process whose parent has not reaped it yet). Otherwise the pid
  // was reused if its process started after the file's last write; btime has
  // whole seconds, hence the margin.
  const ProcessInfo p = process_info(pid);
  if (p.state == 'Z' || p.state == 'X') return true;
  const double modified = static_cast<double>(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec / 1e9;
  return p.started >= 0 && p.started > modified + 2;
}

}  // namespace

StaleTempSweep remove_stale_temps(const std::vector<std::string>& finals) {
  std::map<std::string, std::set<std::string>> by_dir;
  for (const auto& f : finals) by_dir[parent_dir(f)].insert(base_name(f));
  const std::string host = this_host();
  StaleTempSweep sweep;
  for (const auto& [dir, names] : by_dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    std::vector<std::string> ours;
    while (dirent* e = ::readdir(d)) {
      std::string final_name;
      if (is_temp_name(e->d_name, &final_name) && names.count(final_name)) ours.emplace_back(e->d_name);
    }
    ::closedir(d);
    for (const auto& n : ours) {
      const std::string path = dir + "/" + n;
      TempOwner owner;
      if (!parse_temp_owner(n, &owner) || owner.host != host) {
        if (sweep.other_hosts++ == 0) sweep.example = path;
        continue;
      }
      struct stat st;
      if (::lstat(path.c_str(), &st) != 0) continue;  // gone meanwhile
      if (!writer_gone(owner.pid, st)) {
        ++sweep.live;
        continue;
      }
      if (::unlink(path.c_str()) == 0) ++sweep.removed;
    }
  }
  return sweep;
}

}  // namespace sp
