// Fuzz target for the config loader (server/ops/config.h): YAML text ->
// ServerConfig -> defaults -> validation, and the two value grammars
// (server/ops/config_values.h) on every string the input sets. Nothing may
// crash or throw; a config that validates must keep validating after its
// defaults are applied again (applying defaults is idempotent), and every
// duration and address it holds must parse.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/ops/config.h"
#include "server/ops/config_values.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  // The grammars on the raw input too: any bytes, no crash.
  (void)lufd::ParseConfigDuration(input);
  std::string host;
  int port = 0;
  (void)lufd::ParseListenAddress(input, &host, &port);

  absl::StatusOr<lufd::v1::ServerConfig> config = lufd::ParseConfigYaml(input);
  if (!config.ok()) return 0;
  lufd::ApplyConfigDefaults(&*config);
  lufd::v1::ServerConfig again = *config;
  lufd::ApplyConfigDefaults(&again);
  if (!google::protobuf::util::MessageDifferencer::Equals(*config, again)) {
    std::abort();  // Defaults must be a fixed point.
  }
  (void)lufd::ValidateDnssecConfig(config->dns().dnssec());
  if (!lufd::ValidateConfig(*config).ok()) return 0;
  // A valid config's values parse with the grammars start-up uses.
  for (const std::string* d :
       {&config->drain_timeout(), &config->grpc().max_deadline(),
        &config->store().poll_interval(), &config->dns().tcp_idle_timeout(),
        &config->dns().dnssec().zsk_lifetime()}) {
    if (!lufd::ParseConfigDuration(*d).ok()) std::abort();
  }
  for (const std::string& listen : config->dns().listen()) {
    sockaddr_storage addr;
    socklen_t len = 0;
    if (!lufd::ParseIpListenAddress(listen, &addr, &len).ok()) std::abort();
  }
  if (!lufd::ParseListenAddress(config->grpc().listen(), &host, &port).ok()) {
    std::abort();
  }
  return 0;
}
