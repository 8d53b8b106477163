// Process logging: spdlog to stderr, as plain text or as JSON lines, so the
// same binary suits a terminal and a log shipper.
//
// InitLogging() replaces spdlog's default logger once at start-up; after
// that the spdlog::info/debug/... free functions (thread-safe, they go
// through the default logger) are the logging API everywhere in lufd.
// In JSON mode every line is one object {"ts","level","msg"}; the message
// is escaped by a custom pattern flag so arbitrary text stays valid JSON.
// gRPC's internal log output is routed into the same logger.
#ifndef LUFD_SERVER_OPS_LOGGING_H_
#define LUFD_SERVER_OPS_LOGGING_H_

#include "absl/status/status.h"
#include "lufd/v1/config.pb.h"

namespace lufd {

// level: debug|info|warn|error; format: text|json (validated by config).
absl::Status InitLogging(const lufd::v1::LogConfig& config);

// A new level and format for the running logger (config reload), changed in
// place: safe while other threads log. The logger must come from
// InitLogging().
absl::Status UpdateLogging(const lufd::v1::LogConfig& config);

}  // namespace lufd

#endif  // LUFD_SERVER_OPS_LOGGING_H_
