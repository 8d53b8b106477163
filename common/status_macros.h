// RETURN_IF_ERROR / ASSIGN_OR_RETURN: Debian's Abseil 20220623 ships neither.
// Written once, here; every module uses these two.
#ifndef LUFD_COMMON_STATUS_MACROS_H_
#define LUFD_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define LUFD_CONCAT_INNER_(a, b) a##b
#define LUFD_CONCAT_(a, b) LUFD_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                     \
  do {                                            \
    ::absl::Status lufd_status_ = (expr);         \
    if (!lufd_status_.ok()) return lufd_status_;  \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  LUFD_ASSIGN_OR_RETURN_IMPL_(LUFD_CONCAT_(lufd_statusor_, __LINE__), lhs, expr)

#define LUFD_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                \
  if (!statusor.ok()) return statusor.status();          \
  lhs = std::move(statusor).value()

#endif  // LUFD_COMMON_STATUS_MACROS_H_
