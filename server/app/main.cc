// lufd: the ENUM / SPEERMINT Look-Up Function registry server.
//
//   lufd --config FILE [--listen ADDR] [--log-level LEVEL] [--port-file FILE]
//        [--dns-port-file FILE]
//   lufd --check-config FILE     prints "OK" or the errors; exit 0 / 1
//   lufd --version
//
// --port-file receives the gRPC port (one line). --dns-port-file receives
// one line per DNS listener, "<transport> <address>" with the actual port
// (port 0 in dns.listen / dns.dot.listen picks a free one), e.g.
//   udp+tcp 127.0.0.1:40123
//   udp+tcp [::1]:40124
//   tls 127.0.0.1:40125
// Both are written (atomically, via rename) once everything listens.
//
// Runs until SIGTERM/SIGINT, then drains (drain_timeout) and exits 0.
// SIGHUP re-reads the config file (the same command-line overrides
// applied): what can change while serving does, every other change is
// logged at warning, field by field, as "not applied, restart needed"
// (server/ops/reload.h); a file that does not load or validate is rejected
// whole and the running config stays.
// Under systemd (Type=notify, $NOTIFY_SOCKET) it reports READY=1 once
// serving, RELOADING=1 ... READY=1 around a reload, STOPPING=1 when
// draining, and WATCHDOG=1 when the unit sets WatchdogSec= (server/ops/
// sd_notify.h).
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/app/lufd_server.h"
#include "server/ops/config.h"
#include "server/ops/fd_limit.h"
#include "server/ops/logging.h"
#include "server/ops/reload.h"
#include "server/ops/sd_notify.h"
#include "server/ops/signals.h"
#include "spdlog/spdlog.h"

namespace {

struct Flags {
  std::string config;
  std::string check_config;
  std::string port_file;
  std::string dns_port_file;
  std::string listen;     // Overrides grpc.listen.
  std::string log_level;  // Overrides log.level.
  bool version = false;
  bool help = false;
};

constexpr char kUsage[] =
    "usage: lufd --config FILE [--listen ADDR] [--log-level LEVEL]\n"
    "            [--port-file FILE] [--dns-port-file FILE]\n"
    "       lufd --check-config FILE\n"
    "       lufd --version\n";

// Accepts "--flag value" and "--flag=value". Returns false on a bad flag.
bool ParseFlags(int argc, char** argv, Flags* flags, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--version") {
      flags->version = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      flags->help = true;
      continue;
    }
    std::string* target = nullptr;
    absl::string_view name = arg;
    std::string value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
      has_value = true;
    }
    if (name == "--config") target = &flags->config;
    if (name == "--check-config") target = &flags->check_config;
    if (name == "--port-file") target = &flags->port_file;
    if (name == "--dns-port-file") target = &flags->dns_port_file;
    if (name == "--listen") target = &flags->listen;
    if (name == "--log-level") target = &flags->log_level;
    if (target == nullptr) {
      *error = absl::StrCat("unknown flag ", arg);
      return false;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        *error = absl::StrCat(name, " needs a value");
        return false;
      }
      value = argv[++i];
    }
    *target = value;
  }
  return true;
}

// Written via rename so a reader never sees a partial file.
bool WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

bool WritePortFile(const std::string& path, int port) {
  return WriteFileAtomically(path, absl::StrCat(port, "\n"));
}

// The config file with the command-line overrides, as at start-up.
absl::StatusOr<lufd::v1::ServerConfig> LoadWithOverrides(const Flags& flags) {
  return lufd::LoadConfigFile(flags.config,
                              [&flags](lufd::v1::ServerConfig* c) {
                                if (!flags.listen.empty())
                                  c->mutable_grpc()->set_listen(flags.listen);
                                if (!flags.log_level.empty())
                                  c->mutable_log()->set_level(flags.log_level);
                              });
}

void Notify(absl::string_view state) {
  if (absl::Status s = lufd::SdNotify(state); !s.ok()) {
    spdlog::warn("systemd notification failed: {}", s.ToString());
  }
}

// SIGHUP: re-reads the config and applies what can change live; `running`
// becomes the config in force (the not-applied fields keep their values).
void Reload(const Flags& flags, lufd::LufdServer* server,
            lufd::v1::ServerConfig* running) {
  if (absl::Status s = lufd::SdNotifyReloading(); !s.ok()) {
    spdlog::warn("systemd notification failed: {}", s.ToString());
  }
  spdlog::info("SIGHUP: reloading {}", flags.config);
  absl::StatusOr<lufd::v1::ServerConfig> next = LoadWithOverrides(flags);
  if (!next.ok()) {
    spdlog::error(
        "reload rejected, the running configuration stays: invalid {}: {}",
        flags.config, std::string(next.status().message()));
    Notify("READY=1");
    return;
  }
  const lufd::ConfigDiff diff = lufd::DiffConfigs(*running, *next);
  lufd::v1::ServerConfig merged = lufd::MergeLiveFields(*running, *next, diff);
  if (absl::Status s = lufd::UpdateLogging(merged.log()); !s.ok()) {
    // Validation accepted the values, so this is not expected; keep the
    // old logging section then, so the next diff names it again.
    spdlog::error("reload: logging: {}", s.ToString());
    *merged.mutable_log() = running->log();
  }
  server->ApplyLiveConfig(merged);
  int applied = 0;
  int not_applied = 0;
  for (const lufd::ConfigChange& c : diff.changes) {
    if (c.live) {
      ++applied;
      spdlog::info("reload: {}: {} -> {}: applied", c.field, c.old_value,
                   c.new_value);
    } else {
      ++not_applied;
      spdlog::warn("reload: {}: {} -> {}: not applied, restart needed", c.field,
                   c.old_value, c.new_value);
    }
  }
  // TLS files are not config fields: say what happens to them.
  const bool dot =
      server->dns() != nullptr && !running->dns().dot().listen().empty();
  spdlog::info(
      "reload done: {} change(s) applied, {} need a restart; {}gRPC "
      "certificate files re-read within grpc.tls.reload_interval ({})",
      applied, not_applied, dot ? "DoT certificate files re-checked now, " : "",
      running->grpc().tls().reload_interval());
  *running = std::move(merged);
  Notify("READY=1");
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists, so every thread inherits the blocked mask and
  // the signal is only ever taken by sigwait below.
  lufd::BlockServerSignals();
  // Everything lufd creates (the SQLite registry and its -wal/-shm, DNSSEC
  // key files, port files, logs) is for lufd alone: group and others get no
  // access unless the operator grants it. 0077 rather than 0027: nothing lufd
  // writes is meant for a group, and the registry holds TSIG secrets.
  umask(0077);
  // Debian's Abseil is built with Mutex deadlock detection on, which walks
  // a global graph on every lock, also the DNS hot path's reader locks.
  // lufd's lock order is checked by the unit tests' builds; production
  // does not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  Flags flags;
  std::string error;
  if (!ParseFlags(argc, argv, &flags, &error)) {
    std::cerr << "lufd: " << error << "\n" << kUsage;
    return 2;
  }
  if (flags.help) {
    std::cout << kUsage;
    return 0;
  }
  if (flags.version) {
    std::cout << "lufd " << lufd::LufdVersion() << "\n";
    return 0;
  }
  if (!flags.check_config.empty()) {
    absl::StatusOr<lufd::v1::ServerConfig> config =
        lufd::LoadConfigFile(flags.check_config);
    if (!config.ok()) {
      std::cout << config.status().message() << "\n";
      return 1;
    }
    std::cout << "OK\n";
    return 0;
  }
  if (flags.config.empty()) {
    std::cerr << kUsage;
    return 2;
  }

  absl::StatusOr<lufd::v1::ServerConfig> config = LoadWithOverrides(flags);
  if (!config.ok()) {
    std::cerr << "lufd: invalid configuration:\n"
              << config.status().message() << "\n";
    return 1;
  }
  if (absl::Status s = lufd::InitLogging(config->log()); !s.ok()) {
    std::cerr << "lufd: " << s.message() << "\n";
    return 1;
  }

  // Every connection of both front doors is a descriptor: use what the
  // operator granted (the hard limit), and say how much that is.
  const lufd::FileLimit nofile = lufd::RaiseFileLimit();
  if (!nofile.error.empty()) {
    spdlog::warn("descriptor limit: {} (soft {}, hard {})", nofile.error,
                 nofile.soft, nofile.hard);
  } else {
    spdlog::info("descriptor limit: soft {} (was {}), hard {}", nofile.soft,
                 nofile.soft_before, nofile.hard);
  }

  absl::StatusOr<std::unique_ptr<lufd::LufdServer>> server =
      lufd::LufdServer::Start(*config);
  if (!server.ok()) {
    spdlog::error("cannot start: {}", server.status().ToString());
    return 1;
  }
  spdlog::info("serving on {} (serial {}, backend {})", (*server)->address(),
               (*server)->views()->Current()->serial(),
               (*server)->store()->Backend());
  if (!flags.port_file.empty() &&
      !WritePortFile(flags.port_file, (*server)->port())) {
    spdlog::error("cannot write port file {}", flags.port_file);
    return 1;
  }
  if (!flags.dns_port_file.empty()) {
    std::string lines;
    if ((*server)->dns() != nullptr) {
      for (const lufd::dns::BoundAddress& b : (*server)->dns()->bound()) {
        absl::StrAppend(&lines, b.transport, " ", b.address, "\n");
      }
    }
    if (!WriteFileAtomically(flags.dns_port_file, lines)) {
      spdlog::error("cannot write DNS port file {}", flags.dns_port_file);
      return 1;
    }
  }

  Notify(absl::StrCat("READY=1\nSTATUS=serving on ", (*server)->address()));
  // The watchdog proves that this loop runs, which is where a reload or a
  // drain would be handled.
  const absl::Duration watchdog = lufd::WatchdogInterval();
  lufd::v1::ServerConfig running = *config;
  int sig = 0;
  while (true) {
    sig = lufd::WaitForServerSignal(
        watchdog > absl::ZeroDuration() ? watchdog : absl::InfiniteDuration());
    if (sig == 0) {
      Notify("WATCHDOG=1");
      continue;
    }
    if (sig == SIGHUP) {
      Reload(flags, server->get(), &running);
      continue;
    }
    break;
  }
  // drain_timeout is not live: the one start-up read, like every
  // restart-only field.
  const absl::Duration drain = lufd::ConfigDuration(config->drain_timeout());
  Notify("STOPPING=1");
  spdlog::info("signal {}: draining for up to {}", sig,
               absl::FormatDuration(drain));
  (*server)->Shutdown(drain);
  server->reset();
  spdlog::info("stopped");
  return 0;
}
