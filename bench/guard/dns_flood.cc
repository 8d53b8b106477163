// dns_flood: the DNS clients of bench/guard/run.sh: the two anonymous ones
// of the flood scenario and the harvest's DoT harvester, one process each.
//
//  --mode=flood: random-miss NAPTR queries (DO bit) from --sources UDP
//    sockets bound to 127.0.x.1 (x = 1..sources; loopback accepts any 127/8
//    source), round robin, as fast as one core can, bounded by --duration_s
//    and --max_qps (0 = no bound). Responses are counted by rcode and TC, but
//    the flood never waits for them: a spoofing attacker would not either.
//  --mode=legit: an anonymous resolver on --legit_source asking NAPTR (DO
//    bit) for names from --names (one per line; the first word is the name,
//    so dnsperf query files work) at a fixed --rate, over UDP; an answer
//    with TC=1 is retried over TCP (persistent connections from the same
//    address, --tcp_threads of them), like a real resolver. A query counts
//    as answered when a NOERROR/NXDOMAIN answer without TC arrives (over UDP
//    or the TCP retry) within --timeout_ms of the UDP send. Prints, per
//    second of sending, sent / answered / TC / retried over TCP, and the
//    answered share overall and from the second second on.
//  --mode=dot: an identified peer over DNS over TLS (RFC 7858) with a
//    client certificate (--cert/--key, server verified against --ca) that
//    asks NAPTR (DO bit) for the --names in file order, one pass, as fast
//    as it can: one connection per --dot_ports entry (replicas; default
//    --port), query k on connection k mod n, up to --dot_window queries
//    pipelined on each (lufd's max_tcp_queries_in_flight is 100), bounded
//    by --duration_s. A connection that fails (closed, or 5 s without an
//    answer) is reopened (at most 100 times in all); queries in flight on
//    it are counted lost. Counts rcodes, and the distinct
//    names answered NOERROR with a NAPTR record in the answer section:
//    what a harvester learned over this door. With --dot_rate > 0 it is
//    paced at that many queries/s instead, cycling through the names for
//    the whole --duration_s (the identified DoT peer beside the flood).
// Output: human-readable lines, then one `RESULT key=value ...` line.
// Network traffic to 127.0.0.0/8 only (--server is an IPv4 address). Not a
// test; bench/guard/run.sh runs it by hand.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "bench/bench_util.h"

ABSL_FLAG(std::string, mode, "flood", "flood | legit | dot");
ABSL_FLAG(std::string, server, "127.0.0.1", "Server IPv4 address.");
ABSL_FLAG(int, port, 53, "Server port (UDP, and TCP for the retries).");
ABSL_FLAG(double, duration_s, 10, "Seconds of sending (<= 600).");
ABSL_FLAG(double, max_qps, 0, "flood: upper bound on queries/s; 0 = none.");
ABSL_FLAG(int, sources, 64, "flood: source sockets 127.0.x.1, x = 1..N.");
ABSL_FLAG(std::string, zone, "e164.arpa.", "flood: zone of the names.");
ABSL_FLAG(std::string, digits_prefix, "1",
          "flood: random numbers are this prefix + random digits (11 in all).");
ABSL_FLAG(std::string, legit_source, "127.0.200.1", "legit: source address.");
ABSL_FLAG(std::string, names, "", "legit, dot: file of query names.");
ABSL_FLAG(double, rate, 1000, "legit: queries/s.");
ABSL_FLAG(int, timeout_ms, 1000, "legit: answer deadline per query.");
ABSL_FLAG(int, tcp_threads, 4, "legit: TCP retry connections.");
ABSL_FLAG(uint64_t, seed, 1, "Random seed.");
ABSL_FLAG(std::string, ca, "", "dot: CA bundle that signed the server cert.");
ABSL_FLAG(std::string, cert, "", "dot: client certificate chain (PEM).");
ABSL_FLAG(std::string, key, "", "dot: client private key (PEM).");
ABSL_FLAG(std::string, server_name, "localhost",
          "dot: the name to verify in the server certificate.");
ABSL_FLAG(int, dot_window, 32, "dot: queries in flight per connection.");
ABSL_FLAG(double, dot_rate, 0,
          "dot: queries/s (paced, the names reused in turn); 0 = as fast as "
          "the window allows, each name once.");
ABSL_FLAG(std::string, dot_ports, "",
          "dot: DoT ports, comma-separated (replicas); one connection each, "
          "queries alternate between them. Empty: --port.");
ABSL_FLAG(bool, mutex_deadlock_detection, false,
          "Abseil mutex deadlock detection (slow).");

namespace {

using lufd::bench::NowNs;

constexpr uint16_t kNaptr = 35;

// A query for `name` (presentation form, absolute or not): no RD, one
// question, an OPT record with the DO bit and a 1232-byte UDP size.
std::string MakeQuery(uint16_t id, const std::string& name) {
  std::string q;
  q.reserve(64 + name.size());
  q.push_back(static_cast<char>(id >> 8));
  q.push_back(static_cast<char>(id & 0xff));
  q.append("\x00\x00\x00\x01\x00\x00\x00\x00\x00\x01", 10);
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    if (dot > start) {
      q.push_back(static_cast<char>(dot - start));
      q.append(name, start, dot - start);
    }
    start = dot + 1;
  }
  q.push_back('\0');
  q.push_back(0);
  q.push_back(static_cast<char>(kNaptr));
  q.append("\x00\x01", 2);
  // OPT: root owner, type 41, class = UDP size 1232, TTL with DO, no RDATA.
  q.append("\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x00", 11);
  return q;
}

sockaddr_in Addr(const std::string& ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) {
    std::fprintf(stderr, "dns_flood: bad address %s\n", ip.c_str());
    std::exit(2);
  }
  return a;
}

int BoundSocket(int type, const std::string& source) {
  int fd = socket(AF_INET, type, 0);
  if (fd < 0) {
    std::perror("socket");
    std::exit(1);
  }
  int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  sockaddr_in src = Addr(source, 0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
    std::fprintf(stderr, "dns_flood: bind %s: %s\n", source.c_str(),
                 std::strerror(errno));
    std::exit(1);
  }
  return fd;
}

struct Counts {
  uint64_t responses = 0, tc = 0, noerror = 0, nxdomain = 0, refused = 0,
           other = 0;
  void Add(const uint8_t* p, ssize_t n) {
    if (n < 12) return;
    ++responses;
    if (p[2] & 0x02) ++tc;
    switch (p[3] & 0x0f) {
      case 0:
        ++noerror;
        break;
      case 3:
        ++nxdomain;
        break;
      case 5:
        ++refused;
        break;
      default:
        ++other;
    }
  }
};

int Flood() {
  const int n = std::clamp(absl::GetFlag(FLAGS_sources), 1, 250);
  const sockaddr_in dst =
      Addr(absl::GetFlag(FLAGS_server), absl::GetFlag(FLAGS_port));
  std::vector<int> fds;
  for (int x = 1; x <= n; ++x) {
    int fd = BoundSocket(SOCK_DGRAM, absl::StrCat("127.0.", x, ".1"));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    fds.push_back(fd);
  }
  const std::string prefix = absl::GetFlag(FLAGS_digits_prefix);
  const std::string zone = absl::GetFlag(FLAGS_zone);
  const int random_digits = std::max(1, 11 - static_cast<int>(prefix.size()));
  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));
  const double max_qps = absl::GetFlag(FLAGS_max_qps);
  const double duration_s =
      std::clamp(absl::GetFlag(FLAGS_duration_s), 0.1, 600.0);
  const int64_t start = NowNs();
  const int64_t end = start + static_cast<int64_t>(duration_s * 1e9);
  uint64_t sent = 0, send_errors = 0;
  Counts c;
  uint8_t buf[4096];
  uint16_t id = 0;
  std::string digits(random_digits, '0');
  std::string name;
  constexpr int kBatch = 16;
  std::string queries[kBatch];
  iovec iov[kBatch];
  mmsghdr msgs[kBatch];
  for (int64_t now = start; now < end; now = NowNs()) {
    if (max_qps > 0 && sent >= (now - start) / 1e9 * max_qps) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    } else {
      // One sendmmsg of kBatch queries per source: the syscall, not the
      // query, is what one core spends its time on.
      for (int fd : fds) {
        for (int b = 0; b < kBatch; ++b) {
          uint64_t r = rng();
          for (char& d : digits) {
            d = static_cast<char>('0' + r % 10);
            r /= 10;
            if (r == 0) r = rng();
          }
          // ENUM name: the digits reversed, dot-separated, under the zone.
          const std::string number = prefix + digits;
          name.clear();
          for (auto it = number.rbegin(); it != number.rend(); ++it) {
            name.push_back(*it);
            name.push_back('.');
          }
          name += zone;
          queries[b] = MakeQuery(id++, name);
          iov[b].iov_base = queries[b].data();
          iov[b].iov_len = queries[b].size();
          msgs[b] = mmsghdr{};
          msgs[b].msg_hdr.msg_name =
              const_cast<sockaddr*>(reinterpret_cast<const sockaddr*>(&dst));
          msgs[b].msg_hdr.msg_namelen = sizeof dst;
          msgs[b].msg_hdr.msg_iov = &iov[b];
          msgs[b].msg_hdr.msg_iovlen = 1;
        }
        const int done = sendmmsg(fd, msgs, kBatch, 0);
        if (done < 0) {
          send_errors += kBatch;
        } else {
          sent += done;
          send_errors += kBatch - done;
        }
      }
    }
    for (int fd : fds) {
      for (int k = 0; k < 64; ++k) {
        ssize_t got = recv(fd, buf, sizeof buf, 0);
        if (got < 0) break;
        c.Add(buf, got);
      }
    }
  }
  const double secs = (NowNs() - start) / 1e9;
  // Late responses (bounded: 200 ms).
  const int64_t drain_end = NowNs() + 200'000'000;
  while (NowNs() < drain_end) {
    bool any = false;
    for (int fd : fds) {
      ssize_t got = recv(fd, buf, sizeof buf, 0);
      if (got >= 0) {
        c.Add(buf, got);
        any = true;
      }
    }
    if (!any) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (int fd : fds) close(fd);
  std::printf("flood: %d sources, %.1f s: sent %" PRIu64 " (%.0f/s), %" PRIu64
              " send errors; responses %" PRIu64 " (TC %" PRIu64
              ", NOERROR %" PRIu64 ", NXDOMAIN %" PRIu64 ", REFUSED %" PRIu64
              ", other %" PRIu64 ")\n",
              n, secs, sent, sent / secs, send_errors, c.responses, c.tc,
              c.noerror, c.nxdomain, c.refused, c.other);
  std::printf("RESULT sent=%" PRIu64 " qps=%.0f send_errors=%" PRIu64
              " responses=%" PRIu64 " tc=%" PRIu64 " noerror=%" PRIu64
              " nxdomain=%" PRIu64 " refused=%" PRIu64 " other=%" PRIu64
              " sources=%d duration_s=%.1f\n",
              sent, sent / secs, send_errors, c.responses, c.tc, c.noerror,
              c.nxdomain, c.refused, c.other, n, secs);
  return sent > 0 ? 0 : 1;
}

// ----------------------------------------------------------------- legit

struct Second {
  std::atomic<uint64_t> sent{0}, answered{0}, tc{0}, tcp_ok{0}, refused{0};
};

struct Retry {
  std::string name;
  int second;
  int64_t deadline_ns;
};

// The TCP side of the resolver: persistent connections from the legit
// source, one query at a time each (a TC retry is rare when all is well).
class TcpRetrier {
 public:
  TcpRetrier(sockaddr_in dst, std::string source, std::vector<Second>* secs)
      : dst_(dst), source_(std::move(source)), secs_(secs) {}

  void Start(int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this, i] { Loop(i); });
    }
  }
  void Push(Retry r) {
    absl::MutexLock l(&mu_);
    queue_.push_back(std::move(r));
  }
  void Stop() {
    {
      absl::MutexLock l(&mu_);
      stop_ = true;
    }
    for (auto& t : threads_) t.join();
  }
  uint64_t failures() const { return failures_.load(); }

 private:
  void Loop(int index) {
    int fd = -1;
    uint16_t id = static_cast<uint16_t>(index << 12);
    while (true) {
      Retry r;
      {
        absl::MutexLock l(&mu_);
        auto ready = [this] {
          mu_.AssertHeld();
          return stop_ || !queue_.empty();
        };
        mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(100));
        if (queue_.empty()) {
          if (stop_) break;
          continue;
        }
        r = std::move(queue_.front());
        queue_.pop_front();
      }
      const int64_t left_ms = (r.deadline_ns - NowNs()) / 1'000'000;
      if (left_ms <= 0) continue;
      if (fd < 0) fd = Connect(left_ms);
      bool ok = fd >= 0 && Ask(fd, id++, r, left_ms);
      if (!ok && fd >= 0) {
        // The server may have closed an idle connection: one fresh try.
        close(fd);
        fd = Connect(std::max<int64_t>(1, (r.deadline_ns - NowNs()) / 1000000));
        ok = fd >= 0 && Ask(fd, id++, r, 1000);
      }
      if (!ok) {
        failures_.fetch_add(1);
        if (fd >= 0) close(fd);
        fd = -1;
      }
    }
    if (fd >= 0) close(fd);
  }

  int Connect(int64_t timeout_ms) {
    int fd = BoundSocket(SOCK_STREAM, source_);
    timeval tv{static_cast<time_t>(timeout_ms / 1000),
               static_cast<suseconds_t>((timeout_ms % 1000) * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&dst_), sizeof dst_) !=
        0) {
      close(fd);
      return -1;
    }
    return fd;
  }

  // One query over the connection; true when the connection still works
  // (whatever the answer), and the answer is counted when it is one.
  bool Ask(int fd, uint16_t id, const Retry& r, int64_t timeout_ms) {
    const std::string q = MakeQuery(id, r.name);
    std::string msg;
    msg.push_back(static_cast<char>(q.size() >> 8));
    msg.push_back(static_cast<char>(q.size() & 0xff));
    msg += q;
    if (send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(msg.size())) {
      return false;
    }
    timeval tv{static_cast<time_t>(timeout_ms / 1000),
               static_cast<suseconds_t>((timeout_ms % 1000) * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    uint8_t len[2];
    if (!ReadFull(fd, len, 2)) return false;
    std::vector<uint8_t> resp((len[0] << 8) | len[1]);
    if (resp.size() < 12 || !ReadFull(fd, resp.data(), resp.size())) {
      return false;
    }
    const int rcode = resp[3] & 0x0f;
    Second& s = (*secs_)[r.second];
    if ((rcode == 0 || rcode == 3) && NowNs() <= r.deadline_ns) {
      s.answered.fetch_add(1);
      s.tcp_ok.fetch_add(1);
    } else if (rcode == 5) {
      s.refused.fetch_add(1);
    }
    return true;
  }

  static bool ReadFull(int fd, uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t got = recv(fd, p, n, 0);
      if (got <= 0) return false;
      p += got;
      n -= got;
    }
    return true;
  }

  const sockaddr_in dst_;
  const std::string source_;
  std::vector<Second>* secs_;
  absl::Mutex mu_;
  std::deque<Retry> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> failures_{0};
};

std::vector<std::string> LoadNames(const std::string& path) {
  std::vector<std::string> names;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const size_t sp = line.find_first_of(" \t");
    std::string name = line.substr(0, sp);
    if (!name.empty()) names.push_back(std::move(name));
  }
  return names;
}

int Legit() {
  const std::vector<std::string> names = LoadNames(absl::GetFlag(FLAGS_names));
  if (names.empty()) {
    std::fprintf(stderr, "dns_flood: no names in --names\n");
    return 2;
  }
  const sockaddr_in dst =
      Addr(absl::GetFlag(FLAGS_server), absl::GetFlag(FLAGS_port));
  const std::string source = absl::GetFlag(FLAGS_legit_source);
  const double duration_s =
      std::clamp(absl::GetFlag(FLAGS_duration_s), 1.0, 600.0);
  const int n_secs = static_cast<int>(std::ceil(duration_s));
  const double rate = std::max(1.0, absl::GetFlag(FLAGS_rate));
  const int64_t timeout_ns = absl::GetFlag(FLAGS_timeout_ms) * 1'000'000LL;
  std::vector<Second> secs(n_secs);
  TcpRetrier tcp(dst, source, &secs);
  tcp.Start(std::max(1, absl::GetFlag(FLAGS_tcp_threads)));

  int fd = BoundSocket(SOCK_DGRAM, source);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  struct Pending {
    bool active = false;
    int second = 0;
    int64_t sent_ns = 0;
    uint32_t name = 0;
  };
  std::vector<Pending> pending(65536);
  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));
  const int64_t start = NowNs();
  const int64_t end = start + static_cast<int64_t>(duration_s * 1e9);
  const double interval_ns = 1e9 / rate;
  uint64_t k = 0;
  uint16_t id = 0;
  uint8_t buf[4096];
  auto receive = [&] {
    while (true) {
      ssize_t got = recv(fd, buf, sizeof buf, 0);
      if (got < 12) break;
      Pending& p = pending[(buf[0] << 8) | buf[1]];
      if (!p.active) continue;
      p.active = false;
      const int64_t now = NowNs();
      Second& s = secs[p.second];
      const int rcode = buf[3] & 0x0f;
      if (buf[2] & 0x02) {
        s.tc.fetch_add(1);
        tcp.Push(Retry{names[p.name], p.second, p.sent_ns + timeout_ns});
      } else if ((rcode == 0 || rcode == 3) && now - p.sent_ns <= timeout_ns) {
        s.answered.fetch_add(1);
      } else if (rcode == 5) {
        s.refused.fetch_add(1);
      }
    }
  };
  // Sending stops at `end`; answers are awaited up to the timeout after it.
  const int64_t stop = end + timeout_ns;
  while (true) {
    const int64_t now = NowNs();
    if (now >= stop) break;
    int64_t next = start + static_cast<int64_t>(k * interval_ns);
    while (next <= now && next < end) {
      Pending& p = pending[id];
      p.active = true;
      p.second = static_cast<int>((next - start) / 1'000'000'000);
      p.sent_ns = next;
      p.name = static_cast<uint32_t>(rng() % names.size());
      const std::string q = MakeQuery(id, names[p.name]);
      ++id;
      sendto(fd, q.data(), q.size(), 0, reinterpret_cast<const sockaddr*>(&dst),
             sizeof dst);
      secs[p.second].sent.fetch_add(1);
      ++k;
      next = start + static_cast<int64_t>(k * interval_ns);
    }
    receive();
    // Sleep until the next send is due (ppoll: nanoseconds, so a 1 ms
    // send interval does not turn into a busy loop).
    const int64_t wait_ns = std::clamp<int64_t>(
        std::min(next < end ? next : stop, stop) - NowNs(), 0, 10'000'000);
    pollfd pfd{fd, POLLIN, 0};
    timespec ts{0, static_cast<long>(wait_ns)};
    ppoll(&pfd, 1, &ts, nullptr);
  }
  tcp.Stop();
  close(fd);

  uint64_t sent = 0, answered = 0, sent2 = 0, answered2 = 0, tc = 0, tcp_ok = 0,
           refused = 0;
  double min_pct2 = 100;
  for (int i = 0; i < n_secs; ++i) {
    const Second& s = secs[i];
    const double pct = s.sent ? 100.0 * s.answered / s.sent : 0;
    std::printf("second %d: sent %" PRIu64 " answered %" PRIu64
                " (%.2f %%) TC %" PRIu64 " answered over TCP %" PRIu64
                " REFUSED %" PRIu64 "\n",
                i + 1, s.sent.load(), s.answered.load(), pct, s.tc.load(),
                s.tcp_ok.load(), s.refused.load());
    sent += s.sent;
    answered += s.answered;
    tc += s.tc;
    tcp_ok += s.tcp_ok;
    refused += s.refused;
    if (i >= 1 && s.sent > 0) {
      sent2 += s.sent;
      answered2 += s.answered;
      min_pct2 = std::min(min_pct2, pct);
    }
  }
  std::printf(
      "RESULT sent=%" PRIu64 " answered=%" PRIu64
      " answered_pct=%.2f answered_pct_from_s2=%.2f min_second_pct_from_s2=%.2f"
      " tc=%" PRIu64 " tcp_answered=%" PRIu64 " tcp_failures=%" PRIu64
      " refused=%" PRIu64 " rate=%.0f duration_s=%.1f\n",
      sent, answered, sent ? 100.0 * answered / sent : 0,
      sent2 ? 100.0 * answered2 / sent2 : 0, min_pct2, tc, tcp_ok,
      tcp.failures(), refused, rate, duration_s);
  return answered > 0 ? 0 : 1;
}

// ------------------------------------------------------------------- dot

// Whether a DNS response (wire form) has a NAPTR record in its answer
// section. Skips the question section's names (compression pointers end a
// name) rather than trusting the answer's owner to match.
bool HasNaptrAnswer(const uint8_t* p, size_t n) {
  if (n < 12) return false;
  const int qd = (p[4] << 8) | p[5];
  const int an = (p[6] << 8) | p[7];
  size_t off = 12;
  auto skip_name = [&]() -> bool {
    while (off < n) {
      const uint8_t len = p[off];
      if (len == 0) {
        ++off;
        return true;
      }
      if ((len & 0xc0) == 0xc0) {
        off += 2;
        return off <= n;
      }
      off += 1 + len;
    }
    return false;
  };
  for (int i = 0; i < qd; ++i) {
    if (!skip_name()) return false;
    off += 4;
  }
  for (int i = 0; i < an; ++i) {
    if (!skip_name() || off + 10 > n) return false;
    const int type = (p[off] << 8) | p[off + 1];
    if (type == kNaptr) return true;
    const int rdlen = (p[off + 8] << 8) | p[off + 9];
    off += 10 + rdlen;
  }
  return false;
}

class DotConnection {
 public:
  explicit DotConnection(SSL_CTX* ctx) : ctx_(ctx) {}
  ~DotConnection() { Close(); }

  bool Open(const sockaddr_in& dst, const std::string& host) {
    Close();
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return false;
    timeval tv{5, 0};  // Bounds every blocking read and write.
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&dst), sizeof dst) !=
        0) {
      Close();
      return false;
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, host.c_str());
    SSL_set1_host(ssl_, host.c_str());
    if (SSL_connect(ssl_) != 1) {
      ERR_print_errors_fp(stderr);
      Close();
      return false;
    }
    return true;
  }
  int fd() const { return fd_; }
  // Whether TLS holds decrypted bytes not read yet (poll would not see them).
  bool Pending() const { return ssl_ != nullptr && SSL_pending(ssl_) > 0; }
  void Close() {
    if (ssl_ != nullptr) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
      ssl_ = nullptr;
    }
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  bool Send(const std::string& query) {
    std::string msg;
    msg.push_back(static_cast<char>(query.size() >> 8));
    msg.push_back(static_cast<char>(query.size() & 0xff));
    msg += query;
    return SSL_write(ssl_, msg.data(), static_cast<int>(msg.size())) ==
           static_cast<int>(msg.size());
  }
  // One length-prefixed message into `out`; false when the connection ended
  // (or nothing came for 5 s).
  bool Receive(std::vector<uint8_t>* out) {
    uint8_t len[2];
    if (!ReadFull(len, 2)) return false;
    out->resize((len[0] << 8) | len[1]);
    return ReadFull(out->data(), out->size());
  }

 private:
  bool ReadFull(uint8_t* p, size_t n) {
    while (n > 0) {
      const int got = SSL_read(ssl_, p, static_cast<int>(n));
      if (got <= 0) return false;
      p += got;
      n -= got;
    }
    return true;
  }

  SSL_CTX* ctx_;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
};

int Dot() {
  const std::vector<std::string> names = LoadNames(absl::GetFlag(FLAGS_names));
  if (names.empty()) {
    std::fprintf(stderr, "dns_flood: no names in --names\n");
    return 2;
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  if (SSL_CTX_load_verify_locations(ctx, absl::GetFlag(FLAGS_ca).c_str(),
                                    nullptr) != 1 ||
      SSL_CTX_use_certificate_chain_file(
          ctx, absl::GetFlag(FLAGS_cert).c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, absl::GetFlag(FLAGS_key).c_str(),
                                  SSL_FILETYPE_PEM) != 1) {
    ERR_print_errors_fp(stderr);
    std::fprintf(stderr, "dns_flood: cannot load --ca/--cert/--key\n");
    return 2;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  std::vector<int> ports;
  for (absl::string_view p :
       absl::StrSplit(absl::GetFlag(FLAGS_dot_ports), ',', absl::SkipEmpty())) {
    int port = 0;
    if (!absl::SimpleAtoi(p, &port) || port <= 0 || port > 65535) {
      std::fprintf(stderr, "dns_flood: bad --dot_ports\n");
      return 2;
    }
    ports.push_back(port);
  }
  if (ports.empty()) ports.push_back(absl::GetFlag(FLAGS_port));
  const std::string host = absl::GetFlag(FLAGS_server_name);
  const int window = std::clamp(absl::GetFlag(FLAGS_dot_window), 1, 1000);
  const double duration_s =
      std::clamp(absl::GetFlag(FLAGS_duration_s), 0.1, 600.0);
  const int64_t start = NowNs();
  const int64_t end = start + static_cast<int64_t>(duration_s * 1e9);

  // One connection per port (replica); query k goes to connection
  // k % ports, so consecutive queries alternate between the replicas.
  struct Conn {
    explicit Conn(SSL_CTX* c) : tls(c) {}
    DotConnection tls;
    sockaddr_in dst{};
    bool open = false;
    absl::flat_hash_map<uint16_t, uint32_t> in_flight;  // DNS id -> name.
  };
  std::vector<std::unique_ptr<Conn>> conns;
  for (int port : ports) {
    conns.push_back(std::make_unique<Conn>(ctx));
    conns.back()->dst = Addr(absl::GetFlag(FLAGS_server), port);
    conns.back()->open = conns.back()->tls.Open(conns.back()->dst, host);
    if (!conns.back()->open) {
      std::fprintf(stderr, "dns_flood: DoT connection to port %d failed\n",
                   port);
      SSL_CTX_free(ctx);
      return 1;
    }
  }
  // Paced (an identified peer beside a flood): `rate` queries/s, cycling
  // through the names for the whole duration.
  const double rate = std::max(0.0, absl::GetFlag(FLAGS_dot_rate));
  const bool paced = rate > 0;
  auto due = [&] {
    return static_cast<uint64_t>((NowNs() - start) / 1e9 * rate) + 1;
  };
  int64_t last_answer = NowNs();
  Counts c;
  uint64_t sent = 0, lost = 0, reconnects = 0;
  absl::flat_hash_set<uint32_t> learned;
  size_t next = 0;
  uint16_t id = 0;
  std::vector<uint8_t> resp;
  // A connection that failed: what was in flight on it is lost; reopened
  // while there is work and time (at most 100 reconnects in all).
  auto fail = [&](Conn& k) {
    lost += k.in_flight.size();
    k.in_flight.clear();
    k.open = false;
    k.tls.Close();
  };
  auto in_flight_total = [&] {
    size_t n = 0;
    for (auto& k : conns) n += k->in_flight.size();
    return n;
  };
  while (true) {
    if (paced && next >= names.size()) next = 0;
    const bool more = next < names.size() && NowNs() < end;
    // Send in strict turn while the next connection has room.
    while (next < names.size() && NowNs() < end) {
      if (paced && sent >= due()) break;
      Conn& k = *conns[next % conns.size()];
      if (!k.open) {
        if (reconnects >= 100) break;
        ++reconnects;
        k.open = k.tls.Open(k.dst, host);
        if (!k.open) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          break;
        }
      }
      if (static_cast<int>(k.in_flight.size()) >= window) break;
      if (!k.tls.Send(MakeQuery(id, names[next]))) {
        fail(k);
        break;
      }
      k.in_flight[id++] = static_cast<uint32_t>(next++);
      ++sent;
    }
    if (in_flight_total() == 0) {
      if (!more || reconnects >= 100) break;
      if (paced) std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    // Read one answer from a connection that has one (TLS-buffered data
    // first, then poll; 5 s without any answer fails them all).
    Conn* ready = nullptr;
    for (auto& k : conns) {
      if (k->open && !k->in_flight.empty() && k->tls.Pending()) {
        ready = k.get();
        break;
      }
    }
    if (ready == nullptr) {
      std::vector<pollfd> pfds;
      std::vector<Conn*> which;
      for (auto& k : conns) {
        if (k->open && !k->in_flight.empty()) {
          pfds.push_back(pollfd{k->tls.fd(), POLLIN, 0});
          which.push_back(k.get());
        }
      }
      if (pfds.empty()) continue;
      // Paced: wake every millisecond to keep sending on time.
      const int n = poll(pfds.data(), pfds.size(), paced ? 1 : 5000);
      if (n == 0 && paced && NowNs() - last_answer < 5'000'000'000) continue;
      if (n <= 0) {
        for (Conn* k : which) fail(*k);
        continue;
      }
      for (size_t i = 0; i < pfds.size(); ++i) {
        if (pfds[i].revents != 0) {
          ready = which[i];
          break;
        }
      }
      if (ready == nullptr) continue;
    }
    if (!ready->tls.Receive(&resp) || resp.size() < 12) {
      fail(*ready);
      continue;
    }
    auto it =
        ready->in_flight.find(static_cast<uint16_t>((resp[0] << 8) | resp[1]));
    if (it == ready->in_flight.end()) continue;
    last_answer = NowNs();
    c.Add(resp.data(), static_cast<ssize_t>(resp.size()));
    if ((resp[3] & 0x0f) == 0 && HasNaptrAnswer(resp.data(), resp.size())) {
      learned.insert(it->second);
    }
    ready->in_flight.erase(it);
  }
  conns.clear();
  SSL_CTX_free(ctx);
  const double secs = (NowNs() - start) / 1e9;
  std::printf("dot: %zu connection(s), %.1f s: sent %" PRIu64
              " (%.0f/s), responses %" PRIu64 " (NOERROR %" PRIu64
              ", NXDOMAIN %" PRIu64 ", REFUSED %" PRIu64 ", other %" PRIu64
              "), lost %" PRIu64 ", reconnects %" PRIu64
              "; distinct names answered with NAPTR %zu\n",
              ports.size(), secs, sent, sent / secs, c.responses, c.noerror,
              c.nxdomain, c.refused, c.other, lost, reconnects, learned.size());
  std::printf("RESULT sent=%" PRIu64 " qps=%.0f responses=%" PRIu64
              " noerror=%" PRIu64 " nxdomain=%" PRIu64 " refused=%" PRIu64
              " other=%" PRIu64 " lost=%" PRIu64 " reconnects=%" PRIu64
              " distinct_naptr=%zu connections=%zu duration_s=%.1f\n",
              sent, sent / secs, c.responses, c.noerror, c.nxdomain, c.refused,
              c.other, lost, reconnects, learned.size(), ports.size(), secs);
  return c.responses > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  lufd::bench::InitProgram(
      argc, argv,
      "Anonymous DNS flood (--mode=flood), a legitimate resolver "
      "(--mode=legit) or a DoT peer walking names (--mode=dot) against "
      "lufd, for bench/guard/run.sh.",
      FLAGS_mutex_deadlock_detection);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "flood") return Flood();
  if (mode == "legit") return Legit();
  if (mode == "dot") return Dot();
  std::fprintf(stderr, "dns_flood: --mode must be flood, legit or dot\n");
  return 2;
}
