#include "server/dns/responder.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "server/dns/bytes.h"
#include "server/dns/canonical.h"
#include "server/dns/dnssec.h"
#include "server/dns/signer.h"
#include "spdlog/spdlog.h"

namespace lufd::dns {
namespace {

using Section = ResponseWriter::Section;

constexpr uint16_t kOpcodeMask = 0x7800;

// TYPE CLASS TTL RDLENGTH RDATA into `out` (cleared first; capacity kept).
void TailInto(std::string* out, uint16_t type, uint32_t ttl,
              std::string_view rdata) {
  out->clear();
  AppendRrTail(out, type, kClassIN, ttl, rdata);
}

// The tail of an RRSIG RR rebuilt from its compact form, without
// intermediate strings.
void RrsigTailInto(std::string* out, const CompactRrsig& sig,
                   uint16_t type_covered, std::string_view signer_wire,
                   uint32_t ttl) {
  out->clear();
  Append16(out, kTypeRRSIG);
  Append16(out, kClassIN);
  Append32(out, ttl);
  Append16(out, static_cast<uint16_t>(18 + signer_wire.size() + 64));
  Append16(out, type_covered);
  out->push_back(static_cast<char>(sig.algorithm));
  out->push_back(static_cast<char>(sig.labels));
  Append32(out, sig.original_ttl);
  Append32(out, sig.expiration);
  Append32(out, sig.inception);
  Append16(out, sig.key_tag);
  out->append(signer_wire);
  out->append(reinterpret_cast<const char*>(sig.signature.data()), 64);
}

// Raw label count (a leading "*" counts: this is for owner arithmetic).
size_t RawLabels(std::string_view wire) {
  size_t n = 0, pos = 0;
  while (pos < wire.size()) {
    size_t len = static_cast<uint8_t>(wire[pos]);
    if (len == 0) break;
    ++n;
    pos += 1 + len;
  }
  return n;
}

uint32_t NowUnix() {
  return static_cast<uint32_t>(absl::ToUnixSeconds(absl::Now()));
}

// A cached signature is served only while it outlives what a resolver may
// cache it for (the RRset TTL), with a minute of slack.
bool StillGood(const CompactRrsig& sig, uint32_t now, uint32_t ttl) {
  return static_cast<int64_t>(sig.expiration) >
             static_cast<int64_t>(now) + ttl + 60 &&
         sig.inception <= now;
}

// Per-thread scratch: the hit path reuses these instead of allocating.
struct Scratch {
  std::vector<std::string> rdatas;  // Only [0, count) are meaningful.
  size_t count = 0;
  std::string tail;
  std::string sig_tail;
  std::string nsec_rdata;
  std::string e164;
  std::vector<RecordRef> refs;
  std::string& Next() {
    if (count == rdatas.size()) rdatas.emplace_back();
    return rdatas[count++];
  }
};
Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// A key that signs zone data; null key = only its cached signatures serve.
struct ZoneSigner {
  std::shared_ptr<const SigningKey> key;
  uint16_t tag = 0;
};

}  // namespace

// What is answered at the apex, precomputed once per (view serial, KeyRing
// generation) and re-made before its signatures age.
struct Responder::ZoneState {
  uint64_t serial = 0;
  uint64_t generation = 0;
  uint32_t refresh_after = 0;  // Unix time: re-sign the apex RRsets after.
  std::shared_ptr<const ZoneKeys> keys;
  std::vector<ZoneSigner> zone_signers;
  // Published, non-signing zone keys (retired ZSKs) of an active signer's
  // algorithm: their stored signatures bridge a roll.
  std::vector<uint16_t> fallback_tags;
  bool can_sign = false;  // At least one zone signer with a private key.
  std::string soa_tail, soa_neg_tail;
  std::vector<std::string> soa_sigs, soa_neg_sigs;
  std::vector<std::string> ns_tails, ns_sigs;
  std::vector<std::string> dnskey_tails, dnskey_sigs;
};

struct Responder::Zone {
  std::string apex;  // Lowercase wire.
  size_t apex_labels = 0;
  lufd::v1::DnsZoneConfig config;  // Defaults applied by the caller.
  std::vector<std::string> ns_wire;
  std::string mname_wire, rname_wire;
  uint32_t ttl = 3600;
  uint32_t neg_ttl = 300;
  bool is_private = false;
  std::atomic<bool> warned_unsigned{false};
  absl::Mutex rebuild_mu;
  std::atomic<std::shared_ptr<const ZoneState>> state;
};

namespace {

// Signs an apex RRset with every key in `signers`; RRSIG tails with `ttl`.
void SignApexRrset(const std::vector<ZoneSigner>& signers,
                   std::string_view apex, uint16_t type, uint32_t ttl,
                   const std::vector<std::string>& rdatas,
                   const DnssecTiming& timing, absl::Time now,
                   std::vector<std::string>* out, uint32_t out_ttl) {
  for (const auto& s : signers) {
    if (s.key == nullptr) continue;
    auto sig =
        MakeRrsig(*s.key, s.tag, apex, apex, type, ttl, rdatas, timing, now);
    if (!sig.ok()) {
      spdlog::error("dns: signing the apex {} RRset failed: {}", type,
                    sig.status().ToString());
      continue;
    }
    std::string tail;
    RrsigTailInto(&tail, *sig, type, apex, out_ttl);
    out->push_back(std::move(tail));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Responder>> Responder::Create(
    const lufd::v1::DnsConfig& config, const ViewHolder* views,
    const KeyRing* keys, SignatureCache* stored, SignatureLru* lru) {
  if (views == nullptr)
    return absl::InvalidArgumentError("dns: no view holder");
  auto timing = DnssecTiming::FromConfig(config.dnssec());
  if (!timing.ok()) return timing.status();
  std::unique_ptr<Responder> r(new Responder());
  r->views_ = views;
  r->keys_ = keys;
  r->stored_ = stored;
  r->lru_ = lru;
  r->timing_ = *timing;
  r->max_udp_payload_ = static_cast<uint16_t>(
      std::clamp<uint32_t>(config.max_udp_payload(), 512, 65535));

  auto name = [](std::string text,
                 const std::string& field) -> absl::StatusOr<std::string> {
    if (text.empty() || text.back() != '.') text.push_back('.');
    auto wire = NameFromText(text);
    if (!wire) {
      return absl::InvalidArgumentError(
          absl::StrCat("dns.zones.", field, ": not a domain name: ", text));
    }
    return LowercaseName(*wire);
  };
  for (int i = 0; i < config.zones_size(); ++i) {
    const auto& zc = config.zones(i);
    const std::string prefix = absl::StrCat("[", i, "]");
    auto z = std::make_unique<Zone>();
    z->config = zc;
    auto apex = name(zc.name(), prefix + ".name");
    if (!apex.ok()) return apex.status();
    if (zc.name().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("dns.zones", prefix, ".name: required"));
    }
    z->apex = *apex;
    z->apex_labels = RawLabels(z->apex);
    for (const auto& other : r->zones_) {
      if (other->apex == z->apex) {
        return absl::InvalidArgumentError(absl::StrCat(
            "dns.zones", prefix, ".name: duplicate zone ", zc.name()));
      }
    }
    if (zc.ns().empty()) {  // ApplyDnsDefaults names one.
      return absl::InvalidArgumentError(
          absl::StrCat("dns.zones", prefix, ".ns: required"));
    }
    for (int j = 0; j < z->config.ns_size(); ++j) {
      auto ns = name(z->config.ns(j), absl::StrCat(prefix, ".ns[", j, "]"));
      if (!ns.ok()) return ns.status();
      z->ns_wire.push_back(*ns);
    }
    auto mname = name(z->config.soa_mname(), prefix + ".soa_mname");
    if (!mname.ok()) return mname.status();
    auto rname = name(z->config.soa_rname(), prefix + ".soa_rname");
    if (!rname.ok()) return rname.status();
    z->mname_wire = *mname;
    z->rname_wire = *rname;
    z->ttl = z->config.ttl();
    z->neg_ttl = std::min(z->ttl, z->config.soa_minimum());
    z->is_private = zc.private_();
    r->zones_.push_back(std::move(z));
  }
  return r;
}

Responder::~Responder() = default;

std::vector<std::string> Responder::zone_names() const {
  std::vector<std::string> out;
  for (const auto& z : zones_) out.push_back(z->apex);
  return out;
}

std::shared_ptr<const Responder::ZoneState> Responder::StateFor(Zone& z,
                                                                uint64_t serial,
                                                                uint32_t now) {
  const uint64_t gen = keys_ == nullptr ? 0 : keys_->generation();
  auto fresh_enough = [&](const std::shared_ptr<const ZoneState>& st) {
    // A worker still holding an older view reuses the newer state: its SOA
    // serial is at most a few changes ahead, which is harmless.
    return st != nullptr && st->serial >= serial && st->generation == gen &&
           now < st->refresh_after;
  };
  auto st = z.state.load();
  if (fresh_enough(st)) return st;
  absl::MutexLock lock(&z.rebuild_mu);
  st = z.state.load();
  if (fresh_enough(st)) return st;

  auto next = std::make_shared<ZoneState>();
  next->serial = serial;
  next->generation = gen;
  const absl::Time t = absl::FromUnixSeconds(now);
  // Re-sign the apex RRsets well before their signatures get close to
  // expiry; a day at most so a jittered expiry never surprises.
  const int64_t lifetime = std::max<int64_t>(
      60,
      std::min<int64_t>(
          absl::ToInt64Seconds(timing_.validity - timing_.jitter) / 2, 86400));
  next->refresh_after = static_cast<uint32_t>(now + lifetime);
  if (keys_ != nullptr) next->keys = keys_->Get(z.apex);
  if (next->keys != nullptr) {
    for (const auto& k : next->keys->zone_signers) {
      next->zone_signers.push_back({k.private_key, k.key_tag});
      if (k.private_key != nullptr) next->can_sign = true;
    }
    for (const auto& k : next->keys->published) {
      bool active = false, same_alg = false;
      for (const auto& a : next->keys->zone_signers) {
        active = active || a.key_tag == k.key_tag;
        same_alg = same_alg || a.info.algorithm() == k.info.algorithm();
      }
      if (!active && same_alg && k.info.role() != lufd::v1::DNS_KEY_ROLE_KSK) {
        next->fallback_tags.push_back(k.key_tag);
      }
    }
  }
  const uint32_t soa_serial = static_cast<uint32_t>(serial & 0xffffffffu);
  std::vector<std::string> soa_rdata{SoaRdata(
      z.mname_wire, z.rname_wire, soa_serial, z.config.soa_refresh(),
      z.config.soa_retry(), z.config.soa_expire(), z.config.soa_minimum())};
  TailInto(&next->soa_tail, kTypeSOA, z.ttl, soa_rdata[0]);
  TailInto(&next->soa_neg_tail, kTypeSOA, z.neg_ttl, soa_rdata[0]);
  std::vector<std::string> ns_rdatas;
  for (const auto& ns : z.ns_wire) {
    ns_rdatas.push_back(ns);
    std::string tail;
    TailInto(&tail, kTypeNS, z.ttl, ns);
    next->ns_tails.push_back(std::move(tail));
  }
  std::vector<std::string> dnskey_rdatas;
  if (next->keys != nullptr) {
    for (const auto& k : next->keys->published) {
      dnskey_rdatas.push_back(k.dnskey_rdata);
      std::string tail;
      TailInto(&tail, kTypeDNSKEY, z.ttl, k.dnskey_rdata);
      next->dnskey_tails.push_back(std::move(tail));
    }
  }
  if (next->can_sign) {
    SignApexRrset(next->zone_signers, z.apex, kTypeSOA, z.ttl, soa_rdata,
                  timing_, t, &next->soa_sigs, z.ttl);
    SignApexRrset(next->zone_signers, z.apex, kTypeSOA, z.ttl, soa_rdata,
                  timing_, t, &next->soa_neg_sigs, z.neg_ttl);
    SignApexRrset(next->zone_signers, z.apex, kTypeNS, z.ttl, ns_rdatas,
                  timing_, t, &next->ns_sigs, z.ttl);
  }
  if (next->keys != nullptr && !dnskey_rdatas.empty()) {
    std::vector<ZoneSigner> ksks;
    for (const auto& k : next->keys->dnskey_signers) {
      ksks.push_back({k.private_key, k.key_tag});
    }
    SignApexRrset(ksks, z.apex, kTypeDNSKEY, z.ttl, dnskey_rdatas, timing_, t,
                  &next->dnskey_sigs, z.ttl);
  }
  if (next->keys != nullptr && !next->can_sign &&
      !z.warned_unsigned.exchange(true)) {
    spdlog::warn(
        "dns: zone {} has no zone-signing key with its private key here; "
        "answering unsigned",
        NameToText(z.apex));
  }
  std::shared_ptr<const ZoneState> published = std::move(next);
  z.state.store(published);
  return published;
}

// Appends RRSIGs over the RRset (owner = the qname): for each zone signer
// the sign-ahead store, then the on-demand LRU. When no active key has a
// cached signature, a stored one by a retired (still published) key of the
// same algorithm serves: right after a ZSK roll the signer is still
// re-signing and a validator accepts either. Only when nothing is cached
// is the RRset signed now, into the LRU.
bool Responder::AppendRrsetSigs(ResponseWriter* w, Section section,
                                const Zone& z, const ZoneState& st,
                                std::string_view owner_lower, uint16_t type,
                                uint32_t ttl,
                                absl::Span<const std::string> rdatas,
                                bool try_store, uint32_t now) {
  Scratch& s = ThreadScratch();
  const uint64_t hash = RrsetHash(type, ttl, rdatas);
  auto emit = [&](const CompactRrsig& sig) {
    RrsigTailInto(&s.sig_tail, sig, type, z.apex, ttl);
    return w->AppendRrAtQnameSuffix(section, 0, s.sig_tail);
  };
  auto from_store = [&](uint16_t tag) -> std::optional<CompactRrsig> {
    if (!try_store || stored_ == nullptr) return std::nullopt;
    auto sig = stored_->Find(SignatureKey(owner_lower, type, hash, tag));
    if (!sig || !StillGood(*sig, now, ttl)) return std::nullopt;
    stats_.sig_store_hits.fetch_add(1, std::memory_order_relaxed);
    return sig;
  };
  bool served = false;
  bool missing = false;
  for (const auto& signer : st.zone_signers) {
    std::optional<CompactRrsig> sig = from_store(signer.tag);
    if (!sig && lru_ != nullptr) {
      sig = lru_->Find(SignatureKey(owner_lower, type, hash, signer.tag));
      if (sig && StillGood(*sig, now, ttl)) {
        stats_.sig_lru_hits.fetch_add(1, std::memory_order_relaxed);
      } else {
        sig.reset();
      }
    }
    if (!sig) {
      missing = true;
      continue;
    }
    if (!emit(*sig)) return false;
    served = true;
  }
  if (!missing || served) return true;
  for (uint16_t tag : st.fallback_tags) {
    if (auto sig = from_store(tag)) return emit(*sig);
  }
  for (const auto& signer : st.zone_signers) {
    if (signer.key == nullptr) continue;
    auto made = MakeRrsig(*signer.key, signer.tag, z.apex, owner_lower, type,
                            ttl, rdatas, timing_, absl::FromUnixSeconds(now));
    if (!made.ok()) {
      spdlog::error("dns: on-demand signing failed: {}",
                    made.status().ToString());
      continue;
    }
    stats_.signed_on_demand.fetch_add(1, std::memory_order_relaxed);
    if (lru_ != nullptr) {
      lru_->Insert(SignatureKey(owner_lower, type, hash, signer.tag), *made);
    }
    if (!emit(*made)) return false;
  }
  return true;
}

size_t Responder::Respond(const ParsedQuery& query, ParseResult parsed,
                          const Identity& viewer, Transport transport,
                          uint8_t* out, size_t capacity) {
  stats_.queries.fetch_add(1, std::memory_order_relaxed);
  if (parsed == ParseResult::kDrop || capacity < kHeaderSize) return 0;

  size_t limit = std::min<size_t>(capacity, 65535);
  if (transport == Transport::kUdp) {
    size_t client = query.has_edns
                        ? std::max<size_t>(query.udp_payload, kMaxUdpNoEdns)
                        : kMaxUdpNoEdns;
    limit = std::min(
        {limit, client, std::max<size_t>(max_udp_payload_, kMaxUdpNoEdns)});
  }
  // Opcode, RD and CD come back as received; RA is never set.
  const uint16_t base_flags = static_cast<uint16_t>(
      kFlagQR | (query.flags & (kOpcodeMask | kFlagRD | kFlagCD)));
  const bool dnssec_ok = query.has_edns && query.do_bit;
  uint16_t edns_flags = dnssec_ok ? kEdnsFlagDO : 0;

  ResponseWriter w(out, limit);
  // Error answers: header (+ question when it parsed) (+ OPT).
  auto error = [&](uint16_t rcode) -> size_t {
    if (!w.Start(query, base_flags, rcode)) {
      if (!w.StartNoQuestion(query.id, base_flags, rcode)) return 0;
    }
    if (query.has_edns)
      w.AppendOpt(max_udp_payload_, rcode, edns_flags & kEdnsFlagDO);
    return w.size();
  };
  if (parsed == ParseResult::kFormErr) {
    stats_.formerr.fetch_add(1, std::memory_order_relaxed);
    return error(kRcodeFormErr);
  }
  if (parsed == ParseResult::kNotImp) {
    stats_.notimp.fetch_add(1, std::memory_order_relaxed);
    return error(kRcodeNotImp);
  }
  if (query.has_edns && query.edns_version > 0) {
    return error(kRcodeBadVers);  // RFC 6891 section 6.1.3.
  }
  if (query.qclass != kClassIN) {
    stats_.refused.fetch_add(1, std::memory_order_relaxed);
    return error(kRcodeRefused);
  }
  // The zone: longest apex that is a suffix of the qname.
  Zone* zone = nullptr;
  for (const auto& z : zones_) {
    if (IsSubdomainOf(query.qname_lower, z->apex) &&
        (zone == nullptr || z->apex.size() > zone->apex.size())) {
      zone = z.get();
    }
  }
  if (zone == nullptr || (zone->is_private && viewer.anonymous())) {
    stats_.refused.fetch_add(1, std::memory_order_relaxed);
    return error(kRcodeRefused);
  }
  if (query.qtype == kTypeNXNAME) {  // RFC 9824 section 3.4.
    stats_.formerr.fetch_add(1, std::memory_order_relaxed);
    return error(kRcodeFormErr);
  }
  if (query.qtype == kTypeAXFR || query.qtype == kTypeIXFR) {
    stats_.refused.fetch_add(1, std::memory_order_relaxed);
    return error(kRcodeRefused);
  }

  std::shared_ptr<const RegistryView> view = views_->Current();
  const uint32_t now = NowUnix();
  std::shared_ptr<const ZoneState> st = StateFor(*zone, view->serial(), now);
  const bool sign = dnssec_ok && st->can_sign;
  const bool serve_sigs = dnssec_ok && !st->zone_signers.empty();
  const size_t qlabels = RawLabels(query.qname_lower);
  const size_t to_apex = qlabels - zone->apex_labels;
  Scratch& s = ThreadScratch();
  s.count = 0;

  enum class Kind { kAnswer, kNoData, kNxDomain } kind = Kind::kAnswer;
  uint16_t rcode = kRcodeNoError;
  bool ok = true;
  bool started = false;
  auto start = [&](uint16_t rc) {
    started = w.Start(query, base_flags | kFlagAA, rc);
    return started;
  };
  // Types at the name, for the bitmap of a compact-denial NSEC.
  static const std::vector<uint16_t> kApexTypes{kTypeNS, kTypeSOA, kTypeRRSIG,
                                                kTypeNSEC, kTypeDNSKEY};
  static const std::vector<uint16_t> kApexTypesNoKey{kTypeNS, kTypeSOA,
                                                     kTypeRRSIG, kTypeNSEC};
  static const std::vector<uint16_t> kNxTypes{kTypeRRSIG, kTypeNSEC,
                                              kTypeNXNAME};
  thread_local std::vector<uint16_t> present;
  present.clear();

  if (to_apex == 0) {
    // Apex: SOA, NS, DNSKEY; ANY answers the SOA (RFC 8482 section 4.1).
    const std::vector<std::string>* tails = nullptr;
    const std::vector<std::string>* sigs = nullptr;
    switch (query.qtype) {
      case kTypeSOA:
      case kTypeANY:
        if (!start(kRcodeNoError)) return 0;
        ok = w.AppendRrAtQnameSuffix(Section::kAnswer, 0, st->soa_tail);
        sigs = &st->soa_sigs;
        break;
      case kTypeNS:
        tails = &st->ns_tails;
        sigs = &st->ns_sigs;
        break;
      case kTypeDNSKEY:
        if (!st->dnskey_tails.empty()) {
          tails = &st->dnskey_tails;
          sigs = &st->dnskey_sigs;
          break;
        }
        [[fallthrough]];
      default:
        kind = Kind::kNoData;
        present.assign(st->dnskey_tails.empty() ? kApexTypesNoKey.begin()
                                                : kApexTypes.begin(),
                       st->dnskey_tails.empty() ? kApexTypesNoKey.end()
                                                : kApexTypes.end());
        break;
    }
    if (kind == Kind::kAnswer) {
      if (!started && !start(kRcodeNoError)) return 0;
      if (tails != nullptr) {
        for (const auto& t : *tails) {
          ok = ok && w.AppendRrAtQnameSuffix(Section::kAnswer, 0, t);
        }
      }
      if (dnssec_ok && sigs != nullptr) {
        for (const auto& t : *sigs) {
          ok = ok && w.AppendRrAtQnameSuffix(Section::kAnswer, 0, t);
        }
      }
    }
  } else {
    // Below the apex only single-digit labels can exist.
    bool number = to_apex <= 15;
    s.e164.assign(1, '+');
    s.e164.resize(1 + (number ? to_apex : 0));
    size_t pos = 0;
    for (size_t i = 0; number && i < to_apex; ++i) {
      const uint8_t len = static_cast<uint8_t>(query.qname_lower[pos]);
      const char c = query.qname_lower[pos + 1];
      if (len != 1 || c < '0' || c > '9') {
        number = false;
        break;
      }
      s.e164[to_apex - i] = c;  // Labels run least significant first.
      pos += 2;
    }
    std::vector<RecordRef>& refs = s.refs;
    const bool found = number && view->ResolveNumberRefs(s.e164, viewer, &refs);
    if (!number) refs.clear();
    bool has_naptr = false, has_uri = false;
    uint32_t naptr_ttl = std::numeric_limits<uint32_t>::max();
    uint32_t uri_ttl = naptr_ttl;
    for (const RecordRef& ref : refs) {
      if (ref.record->has_naptr()) {
        has_naptr = true;
        naptr_ttl = std::min(naptr_ttl, ref.ttl);
      } else if (ref.record->has_uri()) {
        has_uri = true;
        uri_ttl = std::min(uri_ttl, ref.ttl);
      }
    }
    uint16_t want = 0;
    if ((query.qtype == kTypeNAPTR || query.qtype == kTypeANY) && has_naptr) {
      want = kTypeNAPTR;
    } else if (query.qtype == kTypeURI && has_uri) {
      want = kTypeURI;
    }
    if (want != 0) {
      const uint32_t ttl = want == kTypeNAPTR ? naptr_ttl : uri_ttl;
      for (const RecordRef& ref : refs) {
        if (want == kTypeNAPTR && ref.record->has_naptr()) {
          std::string& rd = s.Next();
          if (!NaptrRdataFrom(ref.record->naptr(), &rd)) --s.count;
        } else if (want == kTypeURI && ref.record->has_uri()) {
          std::string& rd = s.Next();
          if (!UriRdataFrom(ref.record->uri(), &rd)) --s.count;
        }
      }
      if (!start(kRcodeNoError)) return 0;
      for (size_t i = 0; ok && i < s.count; ++i) {
        TailInto(&s.tail, want, ttl, s.rdatas[i]);
        ok = w.AppendRrAtQnameSuffix(Section::kAnswer, 0, s.tail);
      }
      if (ok && serve_sigs && s.count > 0) {
        ok = AppendRrsetSigs(&w, Section::kAnswer, *zone, *st,
                             query.qname_lower, want, ttl,
                             absl::MakeConstSpan(s.rdatas.data(), s.count),
                             /*try_store=*/true, now);
      }
    } else if (found) {
      kind = Kind::kNoData;
      if (has_naptr) present.push_back(kTypeNAPTR);
      present.push_back(kTypeRRSIG);
      present.push_back(kTypeNSEC);
      if (has_uri) present.push_back(kTypeURI);
    } else if (number && view->HasIdentifiersBelow(s.e164)) {
      kind = Kind::kNoData;  // Empty non-terminal.
      present.push_back(kTypeRRSIG);
      present.push_back(kTypeNSEC);
    } else {
      kind = Kind::kNxDomain;
    }
  }

  if (kind != Kind::kAnswer) {
    // Compact denial when we can sign: NOERROR (NXDOMAIN back with CO).
    const bool compact = sign;
    if (kind == Kind::kNxDomain) {
      stats_.nxdomain.fetch_add(1, std::memory_order_relaxed);
      rcode = (!compact || query.co_bit) ? kRcodeNxDomain : kRcodeNoError;
    } else {
      stats_.nodata.fetch_add(1, std::memory_order_relaxed);
    }
    if (!start(rcode)) return 0;
    ok =
        w.AppendRrAtQnameSuffix(Section::kAuthority, to_apex, st->soa_neg_tail);
    if (ok && dnssec_ok) {
      for (const auto& t : st->soa_neg_sigs) {
        ok = ok && w.AppendRrAtQnameSuffix(Section::kAuthority, to_apex, t);
      }
    }
    if (ok && compact) {
      auto next = ImmediateSuccessor(query.qname_lower, zone->apex);
      if (next) {
        const auto& types = kind == Kind::kNxDomain ? kNxTypes : present;
        s.nsec_rdata.assign(*next);
        s.nsec_rdata.append(TypeBitmap(types));
        TailInto(&s.tail, kTypeNSEC, zone->neg_ttl, s.nsec_rdata);
        ok = w.AppendRrAtQnameSuffix(Section::kAuthority, 0, s.tail);
        if (ok) {
          ok = AppendRrsetSigs(&w, Section::kAuthority, *zone, *st,
                               query.qname_lower, kTypeNSEC, zone->neg_ttl,
                               absl::MakeConstSpan(&s.nsec_rdata, 1),
                               /*try_store=*/false, now);
        }
      }
    }
    if (query.co_bit && dnssec_ok) edns_flags |= kEdnsFlagCO;
  } else {
    stats_.answers.fetch_add(1, std::memory_order_relaxed);
  }

  if (ok && query.has_edns)
    ok = w.AppendOpt(max_udp_payload_, rcode, edns_flags);
  if (!ok) {
    // Does not fit: header + question (+ OPT), TC (RFC 2181 section 9).
    stats_.truncated.fetch_add(1, std::memory_order_relaxed);
    w.TruncateToQuestion();
    w.SetFlags(
        static_cast<uint16_t>(base_flags | kFlagAA | kFlagTC | (rcode & 0xf)));
    if (query.has_edns) w.AppendOpt(max_udp_payload_, rcode, edns_flags);
  }
  return w.size();
}

}  // namespace lufd::dns
