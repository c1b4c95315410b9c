#include "sp/stale_temps.h"

#include <dirent.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>

#include "sp/fs.h"

namespace sp {

bool is_temp_name(std::string_view name, std::string* final_name) {
  auto pos = name.rfind(".tmp-");
  if (pos == std::string_view::npos || pos == 0) return false;
  if (final_name) *final_name = std::string(name.substr(0, pos));
  return true;
}

size_t remove_stale_temps(const std::vector<std::string>& finals) {
  std::map<std::string, std::set<std::string>> by_dir;
  for (const auto& f : finals) by_dir[parent_dir(f)].insert(base_name(f));
  size_t removed = 0;
  for (const auto& [dir, names] : by_dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    std::vector<std::string> doomed;
    while (dirent* e = ::readdir(d)) {
      std::string final_name;
      if (is_temp_name(e->d_name, &final_name) && names.count(final_name)) doomed.emplace_back(e->d_name);
    }
    ::closedir(d);
    for (const auto& n : doomed)
      if (::unlink((dir + "/" + n).c_str()) == 0) ++removed;
  }
  return removed;
}

}  // namespace sp
