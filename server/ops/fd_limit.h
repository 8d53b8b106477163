// RaiseFileLimit: raises the soft RLIMIT_NOFILE to the hard limit, so that
// lufd's descriptor budget is what the operator (systemd LimitNOFILE=,
// prlimit) granted, not the 1,024 soft default many shells and units start
// with. Returns both limits, before and after, for the start-up log line.
#ifndef LUFD_SERVER_OPS_FD_LIMIT_H_
#define LUFD_SERVER_OPS_FD_LIMIT_H_

#include <cstdint>
#include <string>

namespace lufd {

struct FileLimit {
  uint64_t soft_before = 0;
  uint64_t soft = 0;  // After raising.
  uint64_t hard = 0;
  std::string error;  // Non-empty when getrlimit/setrlimit failed.
};

FileLimit RaiseFileLimit();

}  // namespace lufd

#endif  // LUFD_SERVER_OPS_FD_LIMIT_H_
