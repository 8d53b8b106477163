#include "server/dns/xfr.h"

#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/zone_file.h"
#include "server/dns/bytes.h"
#include "server/dns/wire.h"
#include "server/ops/config_values.h"
#include "spdlog/spdlog.h"

// ldns/common.h defines bool/true/false as macros unless stdbool.h came
// first, which breaks the C++ headers included after it.
#include <ldns/ldns.h>
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers)

namespace lufd::dns {
namespace {

constexpr uint8_t kOpcodeNotify = 4;

struct LdnsBufferDeleter {
  void operator()(ldns_buffer* b) const { ldns_buffer_free(b); }
};

absl::StatusOr<std::string> WireName(std::string text) {
  if (text.empty() || text.back() != '.') text.push_back('.');
  std::optional<std::string> wire = NameFromText(text);
  if (!wire.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a domain name: ", text));
  }
  return LowercaseName(*wire);
}

}  // namespace

std::string ZoneRecord::Wire() const {
  std::string out = owner;
  AppendRrTail(&out, type, kClassIN, ttl, rdata);
  return out;
}

absl::StatusOr<ZoneSnapshot> BuildPublicSnapshot(
    const RegistryView& view, const lufd::v1::DnsZoneConfig& zone) {
  // The same contents `lufctl zone export` writes for the anonymous viewer
  // (one code path, so a transferred zone and an exported one agree),
  // parsed back with ldns.
  lufd::client::ZoneExportOptions options;
  options.zone = zone.name();
  options.ns.assign(zone.ns().begin(), zone.ns().end());
  options.soa_rname = zone.soa_rname();
  options.soa_refresh = zone.soa_refresh();
  options.soa_retry = zone.soa_retry();
  options.soa_expire = zone.soa_expire();
  options.soa_minimum = zone.soa_minimum();
  options.ttl = zone.ttl();
  options.serial = static_cast<uint32_t>(view.serial() & 0xffffffffu);
  absl::StatusOr<lufd::client::ZoneExportResult> text =
      lufd::client::BuildZoneText(view, options);
  if (!text.ok()) return text.status();

  ZoneSnapshot snap;
  snap.serial = options.serial;
  // BuildZoneText writes one RR per line, "owner ttl IN TYPE rdata", with
  // absolute owners (plus comment and $TTL lines). The owner and TTL are
  // read here; each distinct "TYPE rdata" is parsed by ldns once and its
  // wire form reused (numbers on the same SED groups share their RDATA, so
  // a rebuild is not dominated by re-parsing the same records).
  absl::flat_hash_map<std::string, std::pair<uint16_t, std::string>>
      rdata_cache;
  std::unique_ptr<ldns_buffer, LdnsBufferDeleter> buf(ldns_buffer_new(512));
  size_t line_no = 0;
  for (absl::string_view line : absl::StrSplit(text->text, '\n')) {
    ++line_no;
    if (line.empty() || line[0] == ';' || line[0] == '$') continue;
    auto bad = [&](absl::string_view why) {
      return absl::InternalError(absl::StrCat("zone contents of ", zone.name(),
                                              ", line ", line_no, ": ", why));
    };
    const size_t s1 = line.find(' ');
    const size_t s2 = s1 == line.npos ? s1 : line.find(' ', s1 + 1);
    const size_t s3 = s2 == line.npos ? s2 : line.find(' ', s2 + 1);
    const size_t s4 = s3 == line.npos ? s3 : line.find(' ', s3 + 1);
    if (s4 == line.npos || line.substr(s2 + 1, s3 - s2 - 1) != "IN") {
      return bad("not \"owner ttl IN TYPE rdata\"");
    }
    const absl::string_view type_and_rdata = line.substr(s3 + 1);
    if (absl::StartsWith(type_and_rdata, "SOA ")) continue;  // Ours instead.
    ZoneRecord r;
    std::optional<std::string> owner =
        NameFromText(std::string_view(line.data(), s1));
    if (!owner.has_value()) return bad("owner is not a domain name");
    r.owner = LowercaseName(*owner);
    if (!absl::SimpleAtoi(line.substr(s1 + 1, s2 - s1 - 1), &r.ttl)) {
      return bad("bad TTL");
    }
    auto it = rdata_cache.find(type_and_rdata);
    if (it == rdata_cache.end()) {
      const std::string rr_text = absl::StrCat(". 0 IN ", type_and_rdata);
      ldns_rr* rr = nullptr;
      const ldns_status st =
          ldns_rr_new_frm_str(&rr, rr_text.c_str(), 0, nullptr, nullptr);
      if (st != LDNS_STATUS_OK) return bad(ldns_get_errorstr_by_id(st));
      ldns_buffer_clear(buf.get());
      const ldns_status wst = ldns_rr_rdata2buffer_wire(buf.get(), rr);
      const uint16_t type = static_cast<uint16_t>(ldns_rr_get_type(rr));
      ldns_rr_free(rr);
      if (wst != LDNS_STATUS_OK) return bad(ldns_get_errorstr_by_id(wst));
      it = rdata_cache
               .emplace(std::string(type_and_rdata),
                        std::make_pair(
                            type, std::string(reinterpret_cast<const char*>(
                                                  ldns_buffer_begin(buf.get())),
                                              ldns_buffer_position(buf.get()))))
               .first;
    }
    r.type = it->second.first;
    r.rdata = it->second.second;
    snap.records.push_back(std::move(r));
  }
  std::sort(snap.records.begin(), snap.records.end());
  snap.records.erase(std::unique(snap.records.begin(), snap.records.end()),
                     snap.records.end());
  return snap;
}

ZoneDiff DiffSnapshots(const ZoneSnapshot& from, const ZoneSnapshot& to) {
  ZoneDiff d;
  d.from_serial = from.serial;
  d.to_serial = to.serial;
  std::set_difference(from.records.begin(), from.records.end(),
                      to.records.begin(), to.records.end(),
                      std::back_inserter(d.deleted));
  std::set_difference(to.records.begin(), to.records.end(),
                      from.records.begin(), from.records.end(),
                      std::back_inserter(d.added));
  return d;
}

void XfrJournal::Push(std::shared_ptr<const ZoneSnapshot> next) {
  absl::MutexLock l(&mu_);
  if (current_ != nullptr && current_->serial != next->serial &&
      !SerialNewer(next->serial, current_->serial)) {
    // The serial went back (the registry moved back in time, e.g. a
    // rebuilt replica): serials in the history may now name other
    // contents, so it starts afresh.
    diffs_.clear();
    records_ = 0;
  } else if (current_ != nullptr && current_->serial != next->serial) {
    auto diff = std::make_shared<ZoneDiff>(DiffSnapshots(*current_, *next));
    records_ += diff->deleted.size() + diff->added.size();
    diffs_.push_back(std::move(diff));
    while (!diffs_.empty() &&
           (diffs_.size() > max_diffs_ || records_ > max_records_)) {
      records_ -= diffs_.front()->deleted.size() + diffs_.front()->added.size();
      diffs_.pop_front();
    }
  }
  current_ = std::move(next);
}

std::shared_ptr<const ZoneSnapshot> XfrJournal::current() const {
  absl::MutexLock l(&mu_);
  return current_;
}

size_t XfrJournal::diff_count() const {
  absl::MutexLock l(&mu_);
  return diffs_.size();
}

std::optional<std::vector<std::shared_ptr<const ZoneDiff>>> XfrJournal::Since(
    uint32_t serial) const {
  absl::MutexLock l(&mu_);
  std::vector<std::shared_ptr<const ZoneDiff>> out;
  if (current_ != nullptr && current_->serial == serial) return out;
  for (size_t i = 0; i < diffs_.size(); ++i) {
    if (diffs_[i]->from_serial != serial) continue;
    out.assign(diffs_.begin() + static_cast<ptrdiff_t>(i), diffs_.end());
    return out;
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<std::string>> PackXfrMessages(
    uint16_t id, std::string_view qname_wire, uint16_t qtype,
    const std::vector<std::string>& rrs, size_t limit) {
  std::vector<std::string> out;
  std::string msg;
  uint16_t count = 0;
  auto start = [&](bool question) {
    msg.clear();
    count = 0;
    Append16(&msg, id);
    Append16(&msg, kFlagQR | kFlagAA);
    Append16(&msg, question ? 1 : 0);
    Append16(&msg, 0);
    Append16(&msg, 0);
    Append16(&msg, 0);
    if (question) {
      msg.append(qname_wire);
      Append16(&msg, qtype);
      Append16(&msg, kClassIN);
    }
  };
  auto finish = [&] {
    Put16(reinterpret_cast<uint8_t*>(msg.data()) + 6, count);
    out.push_back(msg);
  };
  start(true);
  const size_t question_size = msg.size();
  for (const std::string& rr : rrs) {
    if (msg.size() + rr.size() > limit || count == 0xffff) {
      if (count == 0) {
        return absl::InternalError(absl::StrCat(
            "a ", rr.size(), "-byte record does not fit a transfer message of ",
            limit, " bytes"));
      }
      finish();
      start(false);
      if (msg.size() + rr.size() > limit) {
        return absl::InternalError(absl::StrCat(
            "a ", rr.size(), "-byte record does not fit a transfer message of ",
            limit, " bytes"));
      }
    }
    msg.append(rr);
    ++count;
  }
  if (count > 0 || msg.size() == question_size) finish();
  return out;
}

std::vector<std::string> AxfrRecords(const ZoneSnapshot& snap,
                                     const SoaMaker& soa) {
  std::vector<std::string> rrs;
  rrs.reserve(snap.records.size() + 2);
  rrs.push_back(soa(snap.serial));
  for (const ZoneRecord& r : snap.records) rrs.push_back(r.Wire());
  rrs.push_back(soa(snap.serial));
  return rrs;
}

std::vector<std::string> IxfrRecords(
    const ZoneSnapshot& snap,
    const std::vector<std::shared_ptr<const ZoneDiff>>& diffs,
    const SoaMaker& soa) {
  std::vector<std::string> rrs;
  rrs.push_back(soa(snap.serial));
  if (diffs.empty()) return rrs;
  for (const auto& d : diffs) {
    rrs.push_back(soa(d->from_serial));
    for (const ZoneRecord& r : d->deleted) rrs.push_back(r.Wire());
    rrs.push_back(soa(d->to_serial));
    for (const ZoneRecord& r : d->added) rrs.push_back(r.Wire());
  }
  rrs.push_back(soa(snap.serial));
  return rrs;
}

bool SerialNewer(uint32_t a, uint32_t b) {
  return a != b && static_cast<uint32_t>(a - b) < 0x80000000u;
}

// ------------------------------------------------------------ XfrService

struct XfrService::Zone {
  lufd::v1::DnsZoneConfig config;
  std::string apex;  // Lowercase wire.
  std::string mname, rname;
  bool is_private = false;
  XfrJournal journal{kJournalDiffs, kJournalRecords};
  // The registry serial of the newest snapshot (0: none yet), and how long
  // building it took.
  std::atomic<uint64_t> view_serial{0};
  std::atomic<int64_t> build_ns{0};
  // Held while rebuilding (RefreshZone), by one thread at a time.
  absl::Mutex build_mu;
  // Run()'s thread only.
  std::optional<uint32_t> notified_serial;
  absl::Time last_notify = absl::InfinitePast();
  bool warned = false;

  std::string Soa(uint32_t serial) const {
    std::string rr = apex;
    AppendRrTail(
        &rr, kTypeSOA, kClassIN, config.ttl(),
        SoaRdata(mname, rname, serial, config.soa_refresh(), config.soa_retry(),
                 config.soa_expire(), config.soa_minimum()));
    return rr;
  }
};

// One NOTIFY in flight to one target.
struct XfrService::Notify {
  size_t target = 0;
  std::string zone_text;
  uint32_t serial = 0;
  uint16_t id = 0;
  int sent = 0;
  absl::Time next_send = absl::InfinitePast();
  std::string packet;
};

absl::StatusOr<std::unique_ptr<XfrService>> XfrService::Create(
    const lufd::v1::DnsConfig& config, const ViewHolder* views,
    TsigKeyLookup keys) {
  std::unique_ptr<XfrService> s(new XfrService());
  s->views_ = views;
  s->keys_ = std::move(keys);
  for (const auto& zc : config.zones()) {
    auto z = std::make_unique<Zone>();
    z->config = zc;
    absl::StatusOr<std::string> apex = WireName(zc.name());
    if (!apex.ok()) return apex.status();
    z->apex = *apex;
    absl::StatusOr<std::string> mname = WireName(zc.soa_mname());
    if (!mname.ok()) return mname.status();
    absl::StatusOr<std::string> rname = WireName(zc.soa_rname());
    if (!rname.ok()) return rname.status();
    z->mname = *mname;
    z->rname = *rname;
    z->is_private = zc.private_();
    s->zones_.push_back(std::move(z));
  }
  for (const std::string& k : config.xfr().allow_tsig()) {
    absl::StatusOr<std::string> wire = WireName(k);
    if (!wire.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("dns.xfr.allow_tsig: ", wire.status().message()));
    }
    s->allow_tsig_.push_back(*wire);
  }
  s->allow_dot_orgs_.assign(config.xfr().allow_dot_orgs().begin(),
                            config.xfr().allow_dot_orgs().end());
  for (const std::string& t : config.xfr().notify()) {
    Target target;
    target.text = t;
    if (absl::Status st =
            ParseIpListenAddress(t, &target.address, &target.address_len);
        !st.ok() || t.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("dns.xfr.notify: \"", t, "\" is not an IP host:port",
                       st.ok() ? "" : absl::StrCat(" (", st.message(), ")")));
    }
    s->notify_targets_.push_back(std::move(target));
  }
  return s;
}

XfrService::~XfrService() { Stop(); }

absl::Status XfrService::Start() {
  for (const Target& t : notify_targets_) {
    int& fd = t.address.ss_family == AF_INET6 ? notify_fd6_ : notify_fd4_;
    if (fd >= 0) continue;
    fd = socket(t.address.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0) {
      return absl::InternalError(
          absl::StrCat("dns.xfr: NOTIFY socket: ", strerror(errno)));
    }
  }
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void XfrService::Stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  if (notify_fd4_ >= 0) close(notify_fd4_);
  if (notify_fd6_ >= 0) close(notify_fd6_);
  notify_fd4_ = notify_fd6_ = -1;
}

const XfrJournal* XfrService::journal(size_t zone) const {
  return zone < zones_.size() ? &zones_[zone]->journal : nullptr;
}

bool XfrService::RefreshZone(Zone& z, const RegistryView& view) {
  if (z.view_serial.load() == view.serial()) return false;
  const absl::Time t0 = absl::Now();
  absl::StatusOr<ZoneSnapshot> snap = BuildPublicSnapshot(view, z.config);
  if (!snap.ok()) {
    if (!z.warned) {
      spdlog::error("dns.xfr: cannot build the contents of {} at serial {}: {}",
                    z.config.name(), view.serial(), snap.status().ToString());
      z.warned = true;
    }
    // Not retried until the next serial: the same view fails the same way.
    z.view_serial.store(view.serial());
    return false;
  }
  z.warned = false;
  const size_t records = snap->records.size();
  const uint32_t serial = snap->serial;
  z.journal.Push(std::make_shared<const ZoneSnapshot>(*std::move(snap)));
  z.view_serial.store(view.serial());
  const absl::Duration took = absl::Now() - t0;
  z.build_ns.store(absl::ToInt64Nanoseconds(took));
  // A slow rebuild delays NOTIFY and IXFR for every change: say so.
  if (took >= absl::Milliseconds(100)) {
    // A large rebuild freed the previous snapshot, the zone text and the
    // parse cache; glibc keeps such heap resident unless asked.
    malloc_trim(0);
    spdlog::info(
        "dns.xfr: public contents of {} at serial {} ({} records) "
        "rebuilt in {}",
        z.config.name(), serial, records, absl::FormatDuration(took));
  } else {
    spdlog::debug(
        "dns.xfr: public contents of {} at serial {} ({} records) "
        "rebuilt in {}",
        z.config.name(), serial, records, absl::FormatDuration(took));
  }
  stats_.snapshots.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void XfrService::Refresh() {
  std::shared_ptr<const RegistryView> view = views_->Current();
  if (view == nullptr) return;
  for (auto& z : zones_) {
    if (z->is_private) continue;
    absl::MutexLock l(&z->build_mu);
    RefreshZone(*z, *view);
  }
}

std::vector<std::string> XfrService::Answer(const ParsedQuery& query,
                                            uint16_t rcode, size_t limit) {
  std::string buf(std::min<size_t>(limit, 512), '\0');
  ResponseWriter w(reinterpret_cast<uint8_t*>(buf.data()), buf.size());
  if (!w.Start(query, kFlagQR, rcode)) return {};
  buf.resize(w.size());
  return {buf};
}

std::vector<std::string> XfrService::Transfer(const ParsedQuery& query,
                                              const Identity& viewer,
                                              std::string_view tsig_key,
                                              Transport transport,
                                              size_t limit) {
  Zone* zone = nullptr;
  for (auto& z : zones_) {
    if (z->apex == query.qname_lower) zone = z.get();
  }
  if (zone == nullptr) {
    stats_.refused.fetch_add(1, std::memory_order_relaxed);
    return Answer(query, kRcodeNotAuth, limit);
  }
  // A TSIG key named in allow_tsig (that verified), or over DoT a client
  // certificate (verified by the TLS layer and the PeerAuthenticator) of an
  // org named in allow_dot_orgs. Either way only the public view goes out.
  const bool tsig_ok = !tsig_key.empty() && !viewer.anonymous() &&
                       std::find(allow_tsig_.begin(), allow_tsig_.end(),
                                 tsig_key) != allow_tsig_.end();
  const bool xot_ok = transport == Transport::kTls && tsig_key.empty() &&
                      !viewer.anonymous() &&
                      std::find(allow_dot_orgs_.begin(), allow_dot_orgs_.end(),
                                viewer.org_id) != allow_dot_orgs_.end();
  const bool allowed = tsig_ok || xot_ok;
  if (!allowed || zone->is_private || query.qclass != kClassIN) {
    stats_.refused.fetch_add(1, std::memory_order_relaxed);
    return Answer(query, kRcodeRefused, limit);
  }
  // A small zone is brought up to the current view here, so a secondary
  // that just saw a newer SOA from the responder gets it; a large one is
  // left to the background thread (which NOTIFYs once it has it).
  std::shared_ptr<const RegistryView> view = views_->Current();
  if (view != nullptr && zone->view_serial.load() != view->serial() &&
      absl::Nanoseconds(zone->build_ns.load()) <= kSyncRebuildBudget &&
      zone->build_mu.TryLock()) {
    // TryLock: when the background thread is rebuilding the zone right
    // now, serve what there is rather than stall the TCP loop on it.
    RefreshZone(*zone, *view);
    zone->build_mu.Unlock();
  }
  std::shared_ptr<const ZoneSnapshot> snap = zone->journal.current();
  if (snap == nullptr) return Answer(query, kRcodeServFail, limit);
  const SoaMaker soa = [zone](uint32_t serial) { return zone->Soa(serial); };
  std::vector<std::string> rrs;
  std::string kind = "AXFR";  // For the log line.
  if (query.qtype == kTypeIXFR && query.has_ixfr_serial) {
    std::optional<std::vector<std::shared_ptr<const ZoneDiff>>> diffs;
    if (query.ixfr_serial == snap->serial ||
        SerialNewer(query.ixfr_serial, snap->serial)) {
      diffs.emplace();  // Current (or ahead of us): the SOA alone.
      stats_.up_to_date.fetch_add(1, std::memory_order_relaxed);
    } else {
      diffs = zone->journal.Since(query.ixfr_serial);
    }
    if (diffs.has_value()) {
      rrs = IxfrRecords(*snap, *diffs, soa);
      stats_.ixfr.fetch_add(1, std::memory_order_relaxed);
      kind = absl::StrCat("IXFR (incremental from ", query.ixfr_serial, ")");
    } else {
      rrs = AxfrRecords(*snap, soa);
      stats_.ixfr_as_axfr.fetch_add(1, std::memory_order_relaxed);
      kind = absl::StrCat("IXFR (whole zone: ", query.ixfr_serial,
                          " not in the history)");
    }
  } else {
    rrs = AxfrRecords(*snap, soa);
    stats_.axfr.fetch_add(1, std::memory_order_relaxed);
  }
  absl::StatusOr<std::vector<std::string>> messages =
      PackXfrMessages(query.id, query.qname, query.qtype, rrs, limit);
  if (!messages.ok()) {
    spdlog::error("dns.xfr: {} of {}: {}",
                  query.qtype == kTypeIXFR ? "IXFR" : "AXFR",
                  zone->config.name(), messages.status().ToString());
    return Answer(query, kRcodeServFail, limit);
  }
  spdlog::info(
      "dns.xfr: {} of {} serial {} to {} ({} records, {} messages)", kind,
      zone->config.name(), snap->serial,
      tsig_key.empty() ? viewer.org_id + " (DoT)" : NameToText(tsig_key),
      rrs.size(), messages->size());
  return *std::move(messages);
}

// ---------------------------------------------------------------- NOTIFY

void XfrService::QueueNotify(Zone& z, absl::Time now) {
  std::shared_ptr<const ZoneSnapshot> snap = z.journal.current();
  if (snap == nullptr) return;
  z.notified_serial = snap->serial;
  z.last_notify = now;
  static thread_local absl::BitGen gen;
  for (size_t t = 0; t < notify_targets_.size(); ++t) {
    // A newer serial replaces a NOTIFY still unanswered for the same zone.
    pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                  [&](const std::unique_ptr<Notify>& n) {
                                    return n->target == t &&
                                           n->zone_text == z.config.name();
                                  }),
                   pending_.end());
    auto n = std::make_unique<Notify>();
    n->target = t;
    n->zone_text = z.config.name();
    n->serial = snap->serial;
    n->id = absl::Uniform<uint16_t>(gen);
    std::string& p = n->packet;
    Append16(&p, n->id);
    Append16(&p, static_cast<uint16_t>((kOpcodeNotify << 11) | kFlagAA));
    Append16(&p, 1);  // QD: the apex SOA.
    Append16(&p, 1);  // AN: the SOA with the new serial (RFC 1996 3.7).
    Append16(&p, 0);
    Append16(&p, 0);
    p.append(z.apex);
    Append16(&p, kTypeSOA);
    Append16(&p, kClassIN);
    p.append(z.Soa(snap->serial));
    // Signed with the first transfer key, when the registry has it: the
    // secondary has that key anyway, and may then require it for NOTIFY.
    if (!allow_tsig_.empty() && keys_) {
      std::optional<TsigKey> key = keys_(allow_tsig_.front());
      if (key.has_value()) {
        const size_t size = p.size();
        p.resize(size + 512);
        const size_t signed_size = SignQuery(
            reinterpret_cast<uint8_t*>(p.data()), size, p.size(),
            allow_tsig_.front(), key->secret,
            static_cast<uint64_t>(absl::ToUnixSeconds(absl::Now())), nullptr);
        p.resize(signed_size == 0 ? size : signed_size);
      }
    }
    pending_.push_back(std::move(n));
  }
}

void XfrService::SendNotify(Notify& n, absl::Time now) {
  const Target& t = notify_targets_[n.target];
  const int fd = t.address.ss_family == AF_INET6 ? notify_fd6_ : notify_fd4_;
  ++n.sent;
  n.next_send = now + kNotifyTimeout;
  if (sendto(fd, n.packet.data(), n.packet.size(), 0,
             reinterpret_cast<const sockaddr*>(&t.address),
             t.address_len) < 0) {
    spdlog::warn("dns.xfr: NOTIFY {} serial {} to {}: {}", n.zone_text,
                 n.serial, t.text, strerror(errno));
    return;
  }
  stats_.notify_sent.fetch_add(1, std::memory_order_relaxed);
}

void XfrService::ReadNotifyAnswers() {
  uint8_t buf[4096];
  for (int fd : {notify_fd4_, notify_fd6_}) {
    if (fd < 0) continue;
    for (;;) {
      sockaddr_storage from{};
      socklen_t from_len = sizeof(from);
      const ssize_t got =
          recvfrom(fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from),
                   &from_len);
      if (got < 0) break;
      if (got < static_cast<ssize_t>(kHeaderSize)) continue;
      const uint16_t id = Get16(buf);
      const uint16_t flags = Get16(buf + 2);
      if ((flags & kFlagQR) == 0 || ((flags >> 11) & 0xF) != kOpcodeNotify) {
        continue;
      }
      for (auto it = pending_.begin(); it != pending_.end(); ++it) {
        const Notify& n = **it;
        const Target& t = notify_targets_[n.target];
        // The answer must come from the address we sent to.
        if (n.id != id || from_len != t.address_len ||
            std::memcmp(&from, &t.address, from_len) != 0) {
          continue;
        }
        const uint16_t rcode = flags & 0xF;
        if (rcode == kRcodeNoError) {
          stats_.notify_acked.fetch_add(1, std::memory_order_relaxed);
          spdlog::info("dns.xfr: NOTIFY {} serial {} acknowledged by {}",
                       n.zone_text, n.serial, t.text);
        } else {
          stats_.notify_failed.fetch_add(1, std::memory_order_relaxed);
          spdlog::warn("dns.xfr: NOTIFY {} serial {} answered rcode {} by {}",
                       n.zone_text, n.serial, rcode, t.text);
        }
        pending_.erase(it);
        break;
      }
    }
  }
}

void XfrService::Run() {
  while (!stopping_.load()) {
    Refresh();
    absl::Time now = absl::Now();
    if (!notify_targets_.empty()) {
      for (auto& z : zones_) {
        if (z->is_private) continue;
        std::shared_ptr<const ZoneSnapshot> snap = z->journal.current();
        if (snap == nullptr || z->notified_serial == snap->serial) continue;
        if (now - z->last_notify < kNotifyMinInterval) continue;
        QueueNotify(*z, now);
      }
      for (auto it = pending_.begin(); it != pending_.end();) {
        Notify& n = **it;
        if (now < n.next_send) {
          ++it;
          continue;
        }
        if (n.sent >= kNotifyTries) {
          stats_.notify_failed.fetch_add(1, std::memory_order_relaxed);
          spdlog::warn(
              "dns.xfr: NOTIFY {} serial {} to {}: no answer after "
              "{} tries",
              n.zone_text, n.serial, notify_targets_[n.target].text, n.sent);
          it = pending_.erase(it);
          continue;
        }
        SendNotify(n, now);
        ++it;
      }
    }
    pollfd fds[2];
    nfds_t nfds = 0;
    for (int fd : {notify_fd4_, notify_fd6_}) {
      if (fd >= 0) fds[nfds++] = pollfd{fd, POLLIN, 0};
    }
    poll(fds, nfds, static_cast<int>(absl::ToInt64Milliseconds(kPollInterval)));
    if (nfds > 0) ReadNotifyAnswers();
  }
}

}  // namespace lufd::dns
