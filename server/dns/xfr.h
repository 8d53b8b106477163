// Zone transfer out to conventional secondaries (dns.xfr): AXFR (RFC 5936),
// IXFR (RFC 1995) and NOTIFY (RFC 1996) of each zone's PUBLIC view, i.e.
// exactly what an anonymous querier may see (public SED groups), never a
// peer's view.
//
//   contents   A ZoneSnapshot is the zone as `lufctl zone export` writes it
//              for the anonymous viewer (client/zone_file.h: NS, NAPTR/URI
//              per TN, wildcards for prefixes and range blocks), parsed
//              back into wire-form records, plus the SOA lufd already
//              serves (serial = the view's registry serial mod 2^32). No
//              DNSSEC records: the secondary gets unsigned data and signs
//              it itself (e.g. Knot's onlinesign), see docs/dns.md.
//   history    XfrJournal keeps the snapshot of the newest serial and the
//              differences between the consecutive serials this process
//              has seen (the view follows the registry's change log, so
//              every change of the public view since start is in it), in
//              memory, bounded. IXFR from a serial in the history gets the
//              differences; from any other serial (older than the history,
//              from before a restart, unknown) the whole zone in the IXFR
//              response (RFC 1995 section 4 allows it; the secondary
//              treats it as AXFR).
//   access     Only over TCP or DoT, only with a TSIG key named in
//              dns.xfr.allow_tsig that verified on the query (DnsServer
//              checks the MAC; a bad one gets NOTAUTH there), or over DoT
//              without TSIG with a client certificate of an org in
//              dns.xfr.allow_dot_orgs (XoT, RFC 9103 mutual TLS; the
//              certificate is verified and mapped to its credential as for
//              any DoT peer). Anything else is REFUSED; a name that is
//              not one of our apexes is NOTAUTH; a private zone (anonymous
//              REFUSED) is never transferred.
//              Every message of a TSIG answer is signed (TsigStreamSigner).
//   NOTIFY     When a zone's public serial changes, a NOTIFY (SOA, with the
//              new serial in the answer section) goes over UDP to every
//              dns.xfr.notify address, TSIG-signed with the first
//              allow_tsig key when the registry has it. At most one per
//              zone every kNotifyMinInterval (changes in between are
//              coalesced into the next), retried every kNotifyTimeout until
//              the secondary answers, kNotifyTries sends in all.
//
// Threads: Start() runs one background thread that follows the view (every
// kPollInterval), rebuilds the snapshots and sends NOTIFYs. Transfer() runs
// on the DNS TCP loop's thread and reads the newest snapshot; it rebuilds it
// itself first only when the zone is small enough to rebuild quickly
// (kSyncRebuildBudget), so a large zone never stalls the TCP loop.
#ifndef LUFD_SERVER_DNS_XFR_H_
#define LUFD_SERVER_DNS_XFR_H_

#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lufd/v1/config.pb.h"
#include "server/core/view.h"
#include "server/dns/processor.h"
#include "server/dns/tsig.h"

namespace lufd::dns {

// One resource record of a zone, wire form.
struct ZoneRecord {
  std::string owner;  // Lowercase, uncompressed.
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string rdata;  // Uncompressed.

  friend bool operator<(const ZoneRecord& a, const ZoneRecord& b) {
    return std::tie(a.owner, a.type, a.rdata, a.ttl) <
           std::tie(b.owner, b.type, b.rdata, b.ttl);
  }
  friend bool operator==(const ZoneRecord& a, const ZoneRecord& b) {
    return a.owner == b.owner && a.type == b.type && a.ttl == b.ttl &&
           a.rdata == b.rdata;
  }
  // owner TYPE IN TTL RDLENGTH RDATA.
  std::string Wire() const;
};

struct ZoneSnapshot {
  uint32_t serial = 0;              // The SOA serial.
  std::vector<ZoneRecord> records;  // Sorted, unique, without the SOA.
};

// The public (anonymous) contents of `zone` in `view`; `zone` has defaults
// applied (server/ops/config.h). The serial is view.serial() mod 2^32.
absl::StatusOr<ZoneSnapshot> BuildPublicSnapshot(
    const RegistryView& view, const lufd::v1::DnsZoneConfig& zone);

struct ZoneDiff {
  uint32_t from_serial = 0, to_serial = 0;
  std::vector<ZoneRecord> deleted, added;  // Sorted.
};
// What turns `from` into `to` (records equal in both are in neither list;
// a TTL change is a deletion plus an addition).
ZoneDiff DiffSnapshots(const ZoneSnapshot& from, const ZoneSnapshot& to);

// One zone's newest snapshot and the differences that led to it.
// Thread-safe.
class XfrJournal {
 public:
  // Keeps at most `max_diffs` differences holding at most `max_records`
  // records in all (the oldest go first).
  XfrJournal(size_t max_diffs, size_t max_records)
      : max_diffs_(max_diffs), max_records_(max_records) {}

  // Makes `next` the newest; when there was one with another serial, the
  // difference from it is remembered.
  void Push(std::shared_ptr<const ZoneSnapshot> next);
  std::shared_ptr<const ZoneSnapshot> current() const;
  // The differences from `serial` to the newest snapshot, in order (empty
  // when `serial` is the newest); nullopt when `serial` is not in the
  // history.
  std::optional<std::vector<std::shared_ptr<const ZoneDiff>>> Since(
      uint32_t serial) const;
  size_t diff_count() const;

 private:
  const size_t max_diffs_;
  const size_t max_records_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const ZoneSnapshot> current_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<const ZoneDiff>> diffs_ ABSL_GUARDED_BY(mu_);
  size_t records_ ABSL_GUARDED_BY(mu_) = 0;
};

// Packs the answer records `rrs` (each a whole RR in wire form) into
// transfer response messages of at most `limit` bytes: id, QR AA, NOERROR;
// the question (qname_wire, qtype, IN) in the first message only
// (RFC 5936 section 2.2). INTERNAL when one record cannot fit a message.
absl::StatusOr<std::vector<std::string>> PackXfrMessages(
    uint16_t id, std::string_view qname_wire, uint16_t qtype,
    const std::vector<std::string>& rrs, size_t limit);

// The answer RRs of a transfer, in order, each a whole RR in wire form;
// `soa(serial)` is the zone's SOA RR at that serial.
// AXFR (and IXFR from a serial not in the history): SOA, records, SOA.
using SoaMaker = std::function<std::string(uint32_t serial)>;
std::vector<std::string> AxfrRecords(const ZoneSnapshot& snap,
                                     const SoaMaker& soa);
// IXFR (RFC 1995 section 4): SOA(newest), then per difference SOA(from),
// its deletions, SOA(to), its additions, then SOA(newest). With no
// differences (the client is current): the SOA alone.
std::vector<std::string> IxfrRecords(
    const ZoneSnapshot& snap,
    const std::vector<std::shared_ptr<const ZoneDiff>>& diffs,
    const SoaMaker& soa);

// True when serial `a` is newer than `b` (RFC 1982 arithmetic).
bool SerialNewer(uint32_t a, uint32_t b);

struct XfrStats {
  std::atomic<uint64_t> axfr{0}, ixfr{0}, ixfr_as_axfr{0}, up_to_date{0},
      refused{0}, snapshots{0}, notify_sent{0}, notify_acked{0},
      notify_failed{0};
};

class XfrService final : public XfrProcessor {
 public:
  static constexpr absl::Duration kPollInterval = absl::Milliseconds(50);
  static constexpr absl::Duration kNotifyMinInterval = absl::Milliseconds(200);
  static constexpr absl::Duration kNotifyTimeout = absl::Seconds(1);
  static constexpr int kNotifyTries = 5;
  static constexpr absl::Duration kSyncRebuildBudget = absl::Milliseconds(20);
  static constexpr size_t kJournalDiffs = 1000;
  static constexpr size_t kJournalRecords = 2000000;

  // `config` has defaults applied and is valid (Responder::Create checked
  // the zones). `keys` finds the TSIG secret NOTIFY is signed with. INVALID
  // ARGUMENT for a bad notify address or key name.
  static absl::StatusOr<std::unique_ptr<XfrService>> Create(
      const lufd::v1::DnsConfig& config, const ViewHolder* views,
      TsigKeyLookup keys);
  ~XfrService() override;

  // The background thread (snapshots, NOTIFY). Stop() is idempotent.
  absl::Status Start();
  void Stop();

  // XfrProcessor (processor.h).
  std::vector<std::string> Transfer(const ParsedQuery& query,
                                    const Identity& viewer,
                                    std::string_view tsig_key,
                                    Transport transport, size_t limit) override;

  // Rebuilds every zone's snapshot from the current view when its serial
  // changed (the background thread's step; public for tests).
  void Refresh();
  const XfrJournal* journal(size_t zone) const;
  const XfrStats& stats() const { return stats_; }

 private:
  struct Zone;
  struct Notify;
  XfrService() = default;

  void Run();
  // Queues a NOTIFY of zone `z` at its newest serial to every target.
  void QueueNotify(Zone& z, absl::Time now);
  void SendNotify(Notify& n, absl::Time now);
  void ReadNotifyAnswers();
  // Rebuilds `z` from `view` when its serial changed; the caller holds
  // z.build_mu.
  bool RefreshZone(Zone& z, const RegistryView& view);
  std::vector<std::string> Answer(const ParsedQuery& query, uint16_t rcode,
                                  size_t limit);

  const ViewHolder* views_ = nullptr;
  TsigKeyLookup keys_;
  std::vector<std::unique_ptr<Zone>> zones_;
  std::vector<std::string> allow_tsig_;  // Lowercase wire names.
  std::vector<std::string> allow_dot_orgs_;
  struct Target {
    std::string text;  // As configured ("127.0.0.1:5300").
    sockaddr_storage address{};
    socklen_t address_len = 0;
  };
  std::vector<Target> notify_targets_;
  std::vector<std::unique_ptr<Notify>> pending_;  // Run()'s thread only.
  int notify_fd4_ = -1, notify_fd6_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  XfrStats stats_;
};

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_XFR_H_
