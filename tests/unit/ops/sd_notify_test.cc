// SdNotify (server/ops/sd_notify.h) against a unix datagram socket the test
// owns, as systemd's would be: the state arrives as one datagram, a path
// and an abstract ("@") address both work, no NOTIFY_SOCKET is a no-op.
#include "server/ops/sd_notify.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace lufd {
namespace {

// A bound datagram socket; `abstract`: in the abstract namespace.
class Listener {
 public:
  explicit Listener(bool abstract) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (abstract) {
      name_ = absl::StrCat("@lufd-notify-test-", getpid());
    } else {
      char dir[] = "/tmp/lufd-notify-XXXXXX";
      dir_ = mkdtemp(dir);
      name_ = dir_ + "/notify";
    }
    std::memcpy(addr.sun_path, name_.data(), name_.size());
    if (abstract) addr.sun_path[0] = '\0';
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&addr),
                  static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                         name_.size())) == 0;
    timeval tv{5, 0};  // Bounded wait; a datagram sent before recv is queued.
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~Listener() {
    close(fd_);
    if (!dir_.empty()) {
      unlink(name_.c_str());
      rmdir(dir_.c_str());
    }
  }
  bool bound() const { return bound_; }
  const std::string& name() const { return name_; }
  std::string Receive() {
    char buf[1024];
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n < 0 ? std::string("(nothing)") : std::string(buf, n);
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
  std::string dir_;
  std::string name_;
};

class SdNotifyTest : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
  }
};

TEST_F(SdNotifyTest, SendsToAPathSocket) {
  Listener l(/*abstract=*/false);
  ASSERT_TRUE(l.bound());
  setenv("NOTIFY_SOCKET", l.name().c_str(), 1);
  ASSERT_TRUE(SdNotify("READY=1\nSTATUS=serving").ok());
  EXPECT_EQ(l.Receive(), "READY=1\nSTATUS=serving");
  ASSERT_TRUE(SdNotifyReloading().ok());
  const std::string reloading = l.Receive();
  EXPECT_TRUE(absl::StartsWith(reloading, "RELOADING=1\nMONOTONIC_USEC="))
      << reloading;
}

TEST_F(SdNotifyTest, SendsToAnAbstractSocket) {
  Listener l(/*abstract=*/true);
  ASSERT_TRUE(l.bound());
  setenv("NOTIFY_SOCKET", l.name().c_str(), 1);
  ASSERT_TRUE(SdNotify("STOPPING=1").ok());
  EXPECT_EQ(l.Receive(), "STOPPING=1");
}

TEST_F(SdNotifyTest, NoSocketIsANoOp) {
  unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(SdNotify("READY=1").ok());
}

TEST_F(SdNotifyTest, BadOrGoneSocketIsAnError) {
  setenv("NOTIFY_SOCKET", "relative/path", 1);
  EXPECT_FALSE(SdNotify("READY=1").ok());
  setenv("NOTIFY_SOCKET", "/nonexistent/lufd-notify", 1);
  EXPECT_FALSE(SdNotify("READY=1").ok());
}

TEST_F(SdNotifyTest, WatchdogInterval) {
  EXPECT_EQ(WatchdogInterval(), absl::ZeroDuration());
  setenv("WATCHDOG_USEC", "20000000", 1);
  EXPECT_EQ(WatchdogInterval(), absl::Seconds(10));
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  EXPECT_EQ(WatchdogInterval(), absl::Seconds(10));
  setenv("WATCHDOG_PID", "1", 1);  // Another process's watchdog.
  EXPECT_EQ(WatchdogInterval(), absl::ZeroDuration());
}

}  // namespace
}  // namespace lufd
