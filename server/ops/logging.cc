#include "server/ops/logging.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpc/support/log.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace lufd {
namespace {

// %* in a pattern: the log message, escaped for a JSON string literal.
class JsonEscapedMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    for (char c : msg.payload) {
      switch (c) {
        case '"':
          dest.append(std::string_view("\\\""));
          break;
        case '\\':
          dest.append(std::string_view("\\\\"));
          break;
        case '\n':
          dest.append(std::string_view("\\n"));
          break;
        case '\r':
          dest.append(std::string_view("\\r"));
          break;
        case '\t':
          dest.append(std::string_view("\\t"));
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            const std::string esc = absl::StrCat(
                "\\u00",
                absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
            dest.append(std::string_view(esc));
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

// gRPC's own log lines (e.g. failed TLS handshakes) go through the same
// logger, so JSON mode stays one JSON object per line. gRPC "errors" are
// mostly a peer's fault (bad certificate, reset connection), hence warn.
void GrpcLogToSpdlog(gpr_log_func_args* args) {
  spdlog::level::level_enum level = spdlog::level::debug;
  if (args->severity == GPR_LOG_SEVERITY_ERROR) {
    level = spdlog::level::warn;
  } else if (args->severity == GPR_LOG_SEVERITY_INFO) {
    level = spdlog::level::info;
  }
  spdlog::log(level, "grpc {}:{}: {}", args->file, args->line, args->message);
}

// The level and formatter `config` asks for.
absl::Status ParseLogConfig(const lufd::v1::LogConfig& config,
                            spdlog::level::level_enum* level,
                            std::unique_ptr<spdlog::formatter>* formatter) {
  *level = spdlog::level::info;
  if (config.level() == "debug") {
    *level = spdlog::level::debug;
  } else if (config.level() == "warn") {
    *level = spdlog::level::warn;
  } else if (config.level() == "error") {
    *level = spdlog::level::err;
  } else if (!config.level().empty() && config.level() != "info") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown log level \"", config.level(), "\""));
  }
  if (config.format() == "json") {
    auto json = std::make_unique<spdlog::pattern_formatter>(
        spdlog::pattern_time_type::utc);
    json->add_flag<JsonEscapedMessage>('*').set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":"%*"})");
    *formatter = std::move(json);
  } else if (config.format().empty() || config.format() == "text") {
    *formatter = std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%fZ %L %v", spdlog::pattern_time_type::utc);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown log format \"", config.format(), "\""));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status InitLogging(const lufd::v1::LogConfig& config) {
  spdlog::level::level_enum level;
  std::unique_ptr<spdlog::formatter> formatter;
  if (absl::Status s = ParseLogConfig(config, &level, &formatter); !s.ok()) {
    return s;
  }
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("lufd", sink);
  logger->set_formatter(std::move(formatter));
  logger->set_level(level);
  // Warnings and errors must not sit in a buffer when the process dies.
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  gpr_set_log_function(GrpcLogToSpdlog);
  return absl::OkStatus();
}

absl::Status UpdateLogging(const lufd::v1::LogConfig& config) {
  spdlog::level::level_enum level;
  std::unique_ptr<spdlog::formatter> formatter;
  if (absl::Status s = ParseLogConfig(config, &level, &formatter); !s.ok()) {
    return s;
  }
  // In place: other threads log through spdlog::default_logger_raw(), so
  // the logger object must stay. The level is atomic; set_formatter swaps
  // each sink's formatter under that sink's mutex (an _mt sink).
  spdlog::logger* logger = spdlog::default_logger_raw();
  logger->set_formatter(std::move(formatter));
  logger->set_level(level);
  return absl::OkStatus();
}

}  // namespace lufd
