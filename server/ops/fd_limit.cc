#include "server/ops/fd_limit.h"

#include <errno.h>
#include <sys/resource.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace lufd {

FileLimit RaiseFileLimit() {
  FileLimit out;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    out.error = absl::StrCat("getrlimit(RLIMIT_NOFILE): ", strerror(errno));
    return out;
  }
  out.soft_before = out.soft = static_cast<uint64_t>(rl.rlim_cur);
  out.hard = static_cast<uint64_t>(rl.rlim_max);
  if (rl.rlim_cur == rl.rlim_max) return out;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    out.error = absl::StrCat("setrlimit(RLIMIT_NOFILE): ", strerror(errno));
    return out;
  }
  out.soft = out.hard;
  return out;
}

}  // namespace lufd
