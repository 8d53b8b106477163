#include "tests/support/pg_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace lufd::testing {
namespace {

constexpr char kBinDir[] = "/usr/lib/postgresql/15/bin";
constexpr int kStartAttempts = 5;

std::string Bin(absl::string_view name) {
  return absl::StrCat(kBinDir, "/", name);
}

bool IsRoot() { return geteuid() == 0; }

absl::Status ChownToPostgres(const std::string& path) {
  if (!IsRoot()) return absl::OkStatus();
  struct passwd* pw = getpwnam("postgres");
  if (pw == nullptr) {
    return absl::UnavailableError("running as root but no `postgres` user");
  }
  if (chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    return absl::InternalError(
        absl::StrCat("chown ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> MakeTempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ =
      absl::StrCat(base && *base ? base : "/tmp", "/lufd-pg-XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", std::strerror(errno)));
  }
  chmod(templ.c_str(), 0700);
  if (absl::Status s = ChownToPostgres(templ); !s.ok()) {
    std::filesystem::remove_all(templ);
    return s;
  }
  return templ;
}

}  // namespace

absl::StatusOr<int> PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return absl::InternalError("bind to 127.0.0.1:0 failed");
  }
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

absl::Status RunPgCommand(const std::vector<std::string>& argv,
                          const std::string& log_file, int timeout_s) {
  std::vector<std::string> full;
  if (IsRoot()) full = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<char*> cargv;
  for (auto& a : full) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    // The postgres user may not be able to read our working directory.
    if (chdir("/") != 0) _exit(126);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(timeout_s);
  int wstatus = 0;
  for (;;) {
    pid_t r = waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return absl::InternalError("waitpid failed");
    if (absl::Now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &wstatus, 0);
      return absl::DeadlineExceededError(
          absl::StrCat("timed out: ", absl::StrJoin(argv, " ")));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("command failed (status ", wstatus,
                                          "): ", absl::StrJoin(argv, " "),
                                          "; see ", log_file));
}

bool PgHarness::Available() {
  return access(Bin("initdb").c_str(), X_OK) == 0 &&
         access(Bin("pg_ctl").c_str(), X_OK) == 0;
}

absl::StatusOr<std::unique_ptr<PgHarness>> PgHarness::Start() {
  if (!Available()) {
    return absl::UnavailableError(
        absl::StrCat("PostgreSQL 15 binaries not found in ", kBinDir));
  }
  std::unique_ptr<PgHarness> h(new PgHarness());
  auto dir = MakeTempDir();
  if (!dir.ok()) return dir.status();
  h->dir_ = *dir;
  absl::Status s =
      RunPgCommand({Bin("initdb"), "-D", h->data_dir(), "-A", "trust", "-U",
                    "postgres", "--no-sync", "-E", "UTF8", "--locale=C"},
                   h->dir_ + "/initdb.log", 120);
  if (!s.ok()) return s;
  if (s = h->StartServer(); !s.ok()) return s;
  return h;
}

absl::Status PgHarness::StartServer() {
  absl::Status last;
  // The free port can be taken by someone else before postgres binds it;
  // a few fresh ports make that race harmless.
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    auto port = PickFreePort();
    if (!port.ok()) return port.status();
    port_ = *port;
    const std::string opts = absl::StrCat(
        "-p ", port_, " -k ", dir_,
        " -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
        " -c max_connections=100");
    last = RunPgCommand(
        {Bin("pg_ctl"), "-D", data_dir(), "-l", dir_ + "/server.log", "-o",
         opts, "-w", "-t", "60", "start"},
        dir_ + "/pg_ctl.log", 90);
    if (!last.ok()) continue;
    // pg_ctl -w already waited; confirm over TCP, bounded.
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      try {
        pqxx::connection c(Url());
        running_ = true;
        return absl::OkStatus();
      } catch (const std::exception&) {
        absl::SleepFor(absl::Milliseconds(50));
      }
    }
    last = absl::DeadlineExceededError("server never accepted connections");
    RunPgCommand(
        {Bin("pg_ctl"), "-D", data_dir(), "-m", "immediate", "-w", "stop"},
        dir_ + "/pg_ctl.log", 60)
        .IgnoreError();
  }
  return absl::UnavailableError(absl::StrCat(
      "could not start PostgreSQL: ", last.message(), "\n", ReadLog()));
}

PgHarness::~PgHarness() {
  Stop().IgnoreError();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

absl::Status PgHarness::Stop() {
  if (!running_) return absl::OkStatus();
  running_ = false;
  absl::Status s = RunPgCommand(
      {Bin("pg_ctl"), "-D", data_dir(), "-m", "fast", "-w", "-t", "60", "stop"},
      dir_ + "/pg_ctl.log", 90);
  if (!s.ok()) {
    // Last resort so no server outlives the test.
    RunPgCommand(
        {Bin("pg_ctl"), "-D", data_dir(), "-m", "immediate", "-w", "stop"},
        dir_ + "/pg_ctl.log", 60)
        .IgnoreError();
  }
  return s;
}

std::string PgHarness::Url(absl::string_view dbname) const {
  return absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/", dbname);
}

absl::StatusOr<std::string> PgHarness::CreateDatabase(absl::string_view name) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
        return absl::ascii_isalnum(c) || c == '_';
      })) {
    return absl::InvalidArgumentError("database name: letters, digits, _");
  }
  try {
    pqxx::connection c(Url());
    pqxx::nontransaction w(c);
    w.exec(absl::StrCat("CREATE DATABASE ", w.quote_name(std::string(name)),
                        " TEMPLATE template0"));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("CREATE DATABASE: ", e.what()));
  }
  return Url(name);
}

absl::StatusOr<std::unique_ptr<PgHarness>> PgHarness::StartReplica() {
  std::unique_ptr<PgHarness> r(new PgHarness());
  auto dir = MakeTempDir();
  if (!dir.ok()) return dir.status();
  r->dir_ = *dir;
  absl::Status s = RunPgCommand(
      {Bin("pg_basebackup"), "-h", "127.0.0.1", "-p", absl::StrCat(port_), "-U",
       "postgres", "-D", r->data_dir(), "-R", "-X", "stream", "-c", "fast"},
      r->dir_ + "/basebackup.log", 120);
  if (!s.ok()) return s;
  if (s = r->StartServer(); !s.ok()) return s;
  return r;
}

std::string PgHarness::ReadLog() const {
  std::ifstream in(dir_ + "/server.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace lufd::testing
