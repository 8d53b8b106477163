#include "server/dns/responder.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "server/core/denial.h"
#include "server/dns/bytes.h"
#include "server/dns/canonical.h"
#include "server/dns/dnssec.h"
#include "server/dns/rdata.h"
#include "server/dns/rrsig.h"
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
  std::vector<uint16_t> present;  // Types at a NODATA name.
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
  // Published zone keys that do not sign here, of an active signer's
  // algorithm (any, when nothing signs here): retired ZSKs, whose stored
  // signatures bridge a roll, and other instances' ZSKs (multi-signer),
  // whose signatures the sign-ahead lease holder made.
  std::vector<uint16_t> fallback_tags;
  bool can_sign = false;  // At least one zone signer with a private key.
  std::string soa_tail, soa_neg_tail;
  std::vector<std::string> soa_sigs, soa_neg_sigs;
  std::vector<std::string> ns_tails, ns_sigs;
  std::vector<std::string> dnskey_tails, dnskey_sigs;
  // Of the DNSKEY RRSIGs taken from the SignatureCache (made by the KSK
  // holder, multi-signer), the earliest expiration; 0 when none was.
  uint32_t stored_dnskey_expiration = 0;
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
  const std::string& denial = config.dnssec().denial();
  if (denial == "compact") {
    r->covering_ = false;
  } else if (!denial.empty() && denial != "covering") {
    return absl::InvalidArgumentError(
        absl::StrCat("dns.dnssec.denial: unknown mode \"", denial,
                     "\" (covering, compact)"));
  }

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
      bool active = false;
      bool same_alg = next->keys->zone_signers.empty();
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
    StoredDnskeySigs(z, dnskey_rdatas, now, st.get(), next.get());
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

void Responder::StoredDnskeySigs(const Zone& z,
                                 const std::vector<std::string>& rdatas,
                                 uint32_t now, const ZoneState* prev,
                                 ZoneState* next) const {
  if (stored_ == nullptr) return;
  const uint64_t hash = RrsetHash(kTypeDNSKEY, z.ttl, rdatas);
  bool wanted = false;
  for (const auto& k : next->keys->published) {
    const auto role = k.info.role();
    if (k.private_key != nullptr || (role != lufd::v1::DNS_KEY_ROLE_KSK &&
                                     role != lufd::v1::DNS_KEY_ROLE_CSK)) {
      continue;  // Signed above, or not a key that signs DNSKEY.
    }
    wanted = true;
    auto sig =
        stored_->Find(SignatureKey(z.apex, kTypeDNSKEY, hash, k.key_tag));
    if (!sig || !StillGood(*sig, now, z.ttl)) continue;
    std::string tail;
    RrsigTailInto(&tail, *sig, kTypeDNSKEY, z.apex, z.ttl);
    next->dnskey_sigs.push_back(std::move(tail));
    if (next->stored_dnskey_expiration == 0 ||
        sig->expiration < next->stored_dnskey_expiration) {
      next->stored_dnskey_expiration = sig->expiration;
    }
  }
  if (!wanted) return;
  if (next->dnskey_sigs.empty()) {
    // The DNSKEY RRset changed (an instance's ZSK joined or left) and the
    // KSK holder's signature over the new one is not here yet: the last
    // signed RRset goes on serving meanwhile. It validates: what signs now
    // was in it (a new ZSK is only PUBLISHED during publish_safety).
    if (prev != nullptr && !prev->dnskey_sigs.empty() &&
        prev->stored_dnskey_expiration != 0 &&
        static_cast<int64_t>(prev->stored_dnskey_expiration) >
            static_cast<int64_t>(now) + z.ttl + 60) {
      next->dnskey_tails = prev->dnskey_tails;
      next->dnskey_sigs = prev->dnskey_sigs;
      next->stored_dnskey_expiration = prev->stored_dnskey_expiration;
    }
    // Look again soon: the signer polls stored signatures every second.
    next->refresh_after = std::min(next->refresh_after, now + 1);
  } else if (next->stored_dnskey_expiration != 0) {
    // Re-read before the stored signature stops being served.
    const uint32_t stale = next->stored_dnskey_expiration - z.ttl - 60;
    next->refresh_after =
        std::min(next->refresh_after, std::max(stale, now + 1));
  }
}

// One query's way through the stages: what each stage leaves for the next.
struct Responder::Answer {
  Answer(const ParsedQuery& q, ParseResult p, const Identity& v, Transport t,
         const ClientAddress& c, uint8_t* out, size_t limit)
      : query(q),
        parsed(p),
        viewer(v),
        transport(t),
        client(c),
        w(out, limit),
        s(ThreadScratch()) {}

  // The input.
  const ParsedQuery& query;
  const ParseResult parsed;
  const Identity& viewer;
  const Transport transport;  // For the guard (RRL is about UDP).
  const ClientAddress& client;
  // Admit: who is charged, and what Settle reports back.
  bool guarded = false;
  // Points at a per-thread cache (SourceKey, the last org): copying the
  // key's string per query was a measurable part of the guard's cost. Valid
  // until this thread's next query, i.e. for this one.
  const GuardKey* key = nullptr;
  GuardLimits limits;
  lufd::Guard::Admission admission;
  bool apex_only = false;  // Charged to the rate only.
  absl::Time guard_now;    // When Admit charged it.
  // Admit's QnameNumber result for AnswerNumber (s.e164 holds the number),
  // so the qname is decoded once: kUnknown when Admit did not look.
  enum class Number : uint8_t { kUnknown, kNo, kYes } number = Number::kUnknown;
  bool signing_denied = false;  // AppendRrsetSigs withheld a signature.
  // Classify: opcode, RD and CD come back as received; RA is never set.
  uint16_t base_flags = 0;
  bool dnssec_ok = false;
  uint16_t edns_flags = 0;  // DO echoed; Deny adds CO.
  // FindZone.
  Zone* zone = nullptr;
  std::shared_ptr<const RegistryView> view;
  std::shared_ptr<const ZoneState> st;
  uint32_t now = 0;
  absl::Time clock;    // `now` before rounding: the guard's time too.
  size_t to_apex = 0;  // Labels between the qname and the apex.
  // AnswerApex / AnswerNumber: an answer written, or what Deny must say;
  // `present` lists the types at the name for a NODATA NSEC bitmap.
  enum class Kind { kAnswer, kNoData, kNxDomain } kind = Kind::kAnswer;
  std::vector<uint16_t>* present = nullptr;
  // Every stage.
  ResponseWriter w;
  uint16_t rcode = kRcodeNoError;
  bool fits = true;  // False once a record did not fit: Finish sets TC.
  size_t size = 0;   // The response size once a stage returned kDone.
  Scratch& s;

  bool Start(uint16_t rc) { return w.Start(query, base_flags | kFlagAA, rc); }
  Step Done(size_t n) {
    size = n;
    return Step::kDone;
  }
};

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
                                bool try_store, uint32_t now, Answer* a,
                                std::string_view owner_wire) {
  Scratch& s = ThreadScratch();
  const uint64_t hash = RrsetHash(type, ttl, rdatas);
  auto emit = [&](const CompactRrsig& sig) {
    RrsigTailInto(&s.sig_tail, sig, type, z.apex, ttl);
    return owner_wire.empty() ? w->AppendRrAtQnameSuffix(section, 0, s.sig_tail)
                              : w->AppendRr(section, owner_wire, s.sig_tail);
  };
  auto from_store = [&](uint16_t tag) -> std::optional<CompactRrsig> {
    if (!try_store || stored_ == nullptr) return std::nullopt;
    auto sig = stored_->Find(SignatureKey(owner_lower, type, hash, tag));
    if (!sig || !StillGood(*sig, now, ttl)) return std::nullopt;
    stats_.sig_store_hits.fetch_add(1, std::memory_order_relaxed);
    return sig;
  };
  bool served = false;
  // Nothing signs here (a joining instance before its ZSK is ACTIVE): only
  // other keys' stored signatures can serve.
  bool missing = st.zone_signers.empty();
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
  if (!st.can_sign) return true;  // Nothing here could sign it now.
  // Online signing is the one per-query cost a flood can multiply: it is
  // charged before it is done.
  if (a != nullptr && a->guarded &&
      !guard_->ChargeSigning(*a->key, a->limits,
                             static_cast<uint32_t>(st.zone_signers.size()),
                             a->guard_now)) {
    a->signing_denied = true;
    return true;
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

namespace {

// The E.164 number ("+" and digits) a lowercase wire qname spells in its
// `to_apex` labels below the apex: only single-digit labels, at most 15,
// least significant first. False (and `e164` unspecified) otherwise.
// kCode: also its Guard::ItemCode in `*code`, made on the way (the guard
// stage's item) instead of parsing the text again.
template <bool kCode = false>
bool QnameNumber(std::string_view qname_lower, size_t to_apex,
                 std::string* e164, uint64_t* code = nullptr) {
  // Below the apex only single-digit labels can exist.
  if (to_apex == 0 || to_apex > 15) return false;
  e164->assign(1 + to_apex, '+');
  uint64_t value = 0;
  uint64_t weight = 1;  // 10^i for label i (least significant first).
  size_t pos = 0;
  for (size_t i = 0; i < to_apex; ++i) {
    const uint8_t len = static_cast<uint8_t>(qname_lower[pos]);
    const char c = qname_lower[pos + 1];
    if (len != 1 || c < '0' || c > '9') return false;
    (*e164)[to_apex - i] = c;  // Labels run least significant first.
    if constexpr (kCode) {
      value += static_cast<uint64_t>(c - '0') * weight;
      weight *= 10;
    }
    pos += 2;
  }
  if constexpr (kCode) *code = Guard::NumberCode(value, to_apex);
  return true;
}

// The guard key of an anonymous client: its address masked to `v4_bits` /
// `v6_bits` (GuardKey::SourcePrefix), or nullptr for an address of neither
// size. Building the key's text costs more than the guard's own work, so
// the keys made are kept per thread in a small direct-mapped cache by
// address (a listener thread sees the same sources again and again: one
// resolver in runs, or a few hundred interleaved) and returned without a
// copy: valid until this thread's next call.
const GuardKey* SourceKey(const ClientAddress& client, int v4_bits,
                          int v6_bits) {
  struct Entry {
    ClientAddress client;
    int v4_bits = -1, v6_bits = -1;
    GuardKey key;
  };
  static constexpr size_t kSlots = 256;  // About 18 KB per thread.
  thread_local std::array<Entry, kSlots> cache;
  if (client.size == 0) {
    static const GuardKey* const unknown =
        new GuardKey{GuardKey::Kind::kSourcePrefix, "unknown"};
    return unknown;
  }
  // The same source as last time (a run): no hashing.
  thread_local Entry* last = nullptr;
  if (last != nullptr && last->v4_bits == v4_bits && last->v6_bits == v6_bits &&
      last->client.raw() == client.raw()) {
    return &last->key;
  }
  // FNV-1a over the address: hosts and /24s spread over the slots.
  uint32_t h = 2166136261u;
  for (uint8_t i = 0; i < client.size; ++i)
    h = (h ^ client.bytes[i]) * 16777619u;
  Entry& e = cache[(h ^ (h >> 16)) % kSlots];
  if (e.v4_bits == v4_bits && e.v6_bits == v6_bits &&
      e.client.raw() == client.raw()) {
    last = &e;
    return &e.key;
  }
  absl::StatusOr<GuardKey> made =
      GuardKey::SourcePrefix(client.raw(), v4_bits, v6_bits);
  if (!made.ok()) return nullptr;
  e.client = client;
  e.v4_bits = v4_bits;
  e.v6_bits = v6_bits;
  e.key = *std::move(made);
  last = &e;
  return &e.key;
}

// Types at the name, for the bitmap of a compact-denial NSEC.
const std::vector<uint16_t>& ApexTypes(bool with_dnskey) {
  static const std::vector<uint16_t> kApexTypes{kTypeNS, kTypeSOA, kTypeRRSIG,
                                                kTypeNSEC, kTypeDNSKEY};
  static const std::vector<uint16_t> kApexTypesNoKey{kTypeNS, kTypeSOA,
                                                     kTypeRRSIG, kTypeNSEC};
  return with_dnskey ? kApexTypes : kApexTypesNoKey;
}
const std::vector<uint16_t>& NxTypes() {
  static const std::vector<uint16_t> kNxTypes{kTypeRRSIG, kTypeNSEC,
                                              kTypeNXNAME};
  return kNxTypes;
}

}  // namespace

size_t Responder::Respond(const ParsedQuery& query, ParseResult parsed,
                          const Identity& viewer, Transport transport,
                          const ClientAddress& client, uint8_t* out,
                          size_t limit) {
  stats_.queries.fetch_add(1, std::memory_order_relaxed);
  if (parsed == ParseResult::kDrop || limit < kHeaderSize) return 0;
  // A blocked anonymous UDP source costs as little as possible: the guard
  // would refuse it anyway (source_blocks.h says which datagrams still go
  // to it). TSIG peers and TCP/DoT clients are never dropped here.
  if (transport == Transport::kUdp && viewer.anonymous() &&
      DroppedAsBlocked(client)) {
    return 0;
  }
  Answer a(query, parsed, viewer, transport, client, out,
           std::min<size_t>(limit, 65535));
  if (Classify(a) == Step::kDone) return a.size;
  if (FindZone(a) == Step::kDone) return a.size;
  if (Admit(a) == Step::kDone) return a.size;
  const Step found = a.to_apex == 0 ? AnswerApex(a) : AnswerNumber(a);
  if (found == Step::kDone) return Settle(a, a.size);
  if (a.kind != Answer::Kind::kAnswer && Deny(a) == Step::kDone) {
    return Settle(a, a.size);
  }
  return Settle(a, Finish(a));
}

bool Responder::DropUnansweredUdp(const ClientAddress& client) {
  return DroppedAsBlocked(client);
}

bool Responder::DroppedAsBlocked(const ClientAddress& client) {
  if (blocks_ == nullptr || blocks_->empty() ||
      !blocks_->ShouldDrop(client, absl::Now())) {
    return false;
  }
  stats_.guard_blocked_dropped.fetch_add(1, std::memory_order_relaxed);
  // A refusal like the guard stage's (the source is blocked), made early.
  if (counters_ != nullptr) {
    counters_->Denial(Door::kDns, IdentityClass::kAnonymous, "",
                      absl::StatusCode::kResourceExhausted);
  }
  return true;
}

void Responder::set_guard(lufd::Guard* guard,
                          const lufd::v1::GuardConfig& config,
                          DenialRecorder* denials) {
  guard_ = guard;
  denials_ = denials;
  // Each policy's generation is unique in the process, so a per-thread
  // cache never mistakes a new responder at a freed one's address for it.
  policy_ =
      std::make_unique<GuardPolicyHolder>(GuardPolicy::FromConfig(config));
  v4_prefix_ = static_cast<int>(config.v4_prefix());
  v6_prefix_ = static_cast<int>(config.v6_prefix());
  blocks_ = guard_ == nullptr ? nullptr
                              : std::make_unique<SourceBlocks>(
                                    v4_prefix_, v6_prefix_, denials_);
}

void Responder::UpdateGuardLimits(const lufd::v1::GuardConfig& config) {
  if (policy_ != nullptr) policy_->Set(GuardPolicy::FromConfig(config));
}

Responder::Step Responder::Admit(Answer& a) {
  if (guard_ == nullptr || a.viewer.is_admin()) return Step::kContinue;
  const GuardPolicy& policy = *policy_->Current();
  // FindZone's clock read: answering takes microseconds, a second read per
  // query would cost more than it tells.
  const absl::Time now = a.clock;
  if (!a.viewer.anonymous()) {
    // The org's key and its Quota over guard.peer, kept per thread for the
    // last org and view: reading the Quota copies the org's object, and a
    // TSIG or DoT peer sends its queries in runs.
    struct LastOrg {
      uint64_t generation = 0;  // Of the GuardPolicy: unique per policy.
      const RegistryView* view = nullptr;
      uint64_t serial = 0;
      GuardKey key;  // Org(org_id).
      GuardLimits limits;
    };
    thread_local LastOrg last;
    if (last.key.id != a.viewer.org_id) {
      last.key = GuardKey::Org(a.viewer.org_id);
      last.generation = 0;  // The limits are another org's.
    }
    a.key = &last.key;
    if (last.generation != policy.generation || last.view != a.view.get() ||
        last.serial != a.view->serial()) {
      last.limits = policy.peer;
      if (std::optional<lufd::v1::RegistryObject> org =
              a.view->Get(lufd::v1::OBJECT_KIND_ORG, a.viewer.org_id);
          org.has_value()) {
        last.limits = EffectiveLimits(org->org().quota(), policy.peer);
      }
      last.generation = policy.generation;
      last.view = a.view.get();
      last.serial = a.view->serial();
    }
    a.limits = last.limits;
  } else {
    // UDP sources are unproven: charge the prefix, so that one host cannot
    // spread itself over many addresses. TCP and DoT prove the address: a
    // resolver that shares a /24 with a flooder gets its own budget there,
    // which is where the slip sends it.
    const bool proven = a.transport != Transport::kUdp;
    a.key = SourceKey(a.client, proven ? 32 : v4_prefix_,
                      proven ? 128 : v6_prefix_);
    if (a.key == nullptr) return Step::kContinue;
    a.limits = policy.anonymous;
  }
  // The apex (SOA, NS, DNSKEY: what every validating resolver fetches) is
  // public and discloses no number: it costs a token, never a budget.
  // The item's Guard::ItemCode: "" unless the qname spells a number.
  static const uint64_t kNoItem = Guard::ItemCode("");
  uint64_t item = kNoItem;
  if (a.to_apex == 0) {
    a.apex_only = true;
    a.limits.distinct_numbers_per_day = 0;
    a.limits.misses_per_day = 0;
    a.limits.scan_threshold = 0;
  } else if (QnameNumber<true>(a.query.qname_lower, a.to_apex, &a.s.e164,
                               &item)) {
    a.number = Answer::Number::kYes;
  } else {
    a.number = Answer::Number::kNo;
  }
  a.guard_now = now;
  a.admission = guard_->AdmitCode(*a.key, a.limits, item, now);
  const bool anonymous_udp =
      a.viewer.anonymous() && a.transport == Transport::kUdp;
  const bool blocked =
      !a.admission.status.ok() && a.admission.rule == GuardRule::kBlock;
  if (anonymous_udp && blocked) {
    blocks_->Block(a.client, now + a.admission.retry_after, *a.key, now);
  } else if (anonymous_udp && !blocks_->empty()) {
    // Not blocked (any more: the block ended or was lifted).
    blocks_->Lift(a.client, now);
  }
  if (!a.admission.status.ok()) {
    return Refuse(a, a.admission.rule, a.admission.status);
  }
  a.guarded = true;
  return Step::kContinue;
}

Responder::Step Responder::Refuse(Answer& a, GuardRule rule,
                                  const absl::Status& why) {
  if (counters_ != nullptr) {
    counters_->Denial(
        Door::kDns, ClassifyIdentity(a.viewer.anonymous(), a.viewer.is_admin()),
        a.viewer.org_id, why.code());
  }
  if (denials_ != nullptr) {
    DenialRecord record;
    record.actor = a.viewer.anonymous() ? a.key->Describe()
                                        : absl::StrCat(a.viewer.org_id, "/",
                                                       a.viewer.credential_id);
    record.peer = a.key->kind == GuardKey::Kind::kSourcePrefix ? a.key->id : "";
    record.method = a.transport == Transport::kUdp   ? "dns/udp"
                    : a.transport == Transport::kTcp ? "dns/tcp"
                                                     : "dns/tls";
    record.reason = DenialReason(why).value_or(std::string(why.message()));
    record.code = static_cast<int32_t>(why.code());
    denials_->Record(std::move(record));
  }
  if (a.transport == Transport::kUdp && a.viewer.anonymous()) {
    // Response-rate limiting with slip: a spoofed flood gets nothing
    // bigger than its queries back, a real resolver retries over TCP.
    const uint32_t slip = policy_->Current()->slip;
    if (slip == 0 ||
        slip_counter_.fetch_add(1, std::memory_order_relaxed) % slip != 0) {
      stats_.guard_dropped.fetch_add(1, std::memory_order_relaxed);
      return a.Done(0);
    }
    stats_.guard_slipped.fetch_add(1, std::memory_order_relaxed);
    if (!a.w.Start(a.query, a.base_flags | kFlagTC, kRcodeNoError)) {
      return a.Done(0);
    }
    if (a.query.has_edns) {
      a.w.AppendOpt(max_udp_payload_, kRcodeNoError,
                    a.edns_flags & kEdnsFlagDO);
    }
    return a.Done(a.w.size());
  }
  stats_.guard_refused.fetch_add(1, std::memory_order_relaxed);
  if (!a.w.Start(a.query, a.base_flags, kRcodeRefused) &&
      !a.w.StartNoQuestion(a.query.id, a.base_flags, kRcodeRefused)) {
    return a.Done(0);
  }
  if (a.query.has_edns) {
    const uint16_t info =
        rule == GuardRule::kBlock ? kEdeBlocked : kEdeProhibited;
    if (!a.w.AppendOptWithEde(
            max_udp_payload_, kRcodeRefused, a.edns_flags & kEdnsFlagDO, info,
            std::string_view(why.message().data(), why.message().size()))) {
      a.w.AppendOpt(max_udp_payload_, kRcodeRefused,
                    a.edns_flags & kEdnsFlagDO);
    }
  }
  return a.Done(a.w.size());
}

size_t Responder::Settle(Answer& a, size_t size) {
  const bool answered = a.kind == Answer::Kind::kAnswer && size > 0;
  // A lookup is a name below the apex (the apex's SOA/NS/DNSKEY disclose
  // no number); one refused for its signing budget counts as a denial
  // (Refuse), not as a lookup.
  if (counters_ != nullptr && a.to_apex != 0 && !a.signing_denied) {
    counters_->Lookup(
        Door::kDns, ClassifyIdentity(a.viewer.anonymous(), a.viewer.is_admin()),
        a.viewer.org_id, answered);
  }
  if (!a.guarded) return size;
  if (a.signing_denied) {
    stats_.guard_signing_denied.fetch_add(1, std::memory_order_relaxed);
    guard_->Report(*a.key, a.admission, /*disclosed=*/false, a.guard_now);
    Refuse(a, GuardRule::kSigning,
           WithDenialReason(
               absl::ResourceExhaustedError(absl::StrCat(
                   "signing budget of ", a.key->Describe(), " spent (",
                   a.limits.signatures_per_second, " signatures per second)")),
               absl::StrCat("guard: signing budget (",
                            a.limits.signatures_per_second, "/s)")));
    return a.size;
  }
  // The apex is never a miss (it is no number); elsewhere only an answer
  // with SED counts as one, the same for absent and invisible names.
  // Reported at the admission's time: answering takes microseconds, and a
  // second clock read per query would cost more than it tells.
  guard_->Report(*a.key, a.admission, answered || a.apex_only, a.guard_now);
  return size;
}

Responder::Step Responder::Error(Answer& a, uint16_t rcode) {
  if (!a.w.Start(a.query, a.base_flags, rcode) &&
      !a.w.StartNoQuestion(a.query.id, a.base_flags, rcode)) {
    return a.Done(0);
  }
  if (a.query.has_edns) {
    a.w.AppendOpt(max_udp_payload_, rcode, a.edns_flags & kEdnsFlagDO);
  }
  return a.Done(a.w.size());
}

Responder::Step Responder::Classify(Answer& a) {
  const ParsedQuery& q = a.query;
  a.base_flags = static_cast<uint16_t>(
      kFlagQR | (q.flags & (kOpcodeMask | kFlagRD | kFlagCD)));
  a.dnssec_ok = q.has_edns && q.do_bit;
  a.edns_flags = a.dnssec_ok ? kEdnsFlagDO : 0;
  if (a.parsed == ParseResult::kFormErr) {
    stats_.formerr.fetch_add(1, std::memory_order_relaxed);
    return Error(a, kRcodeFormErr);
  }
  if (a.parsed == ParseResult::kNotImp) {
    stats_.notimp.fetch_add(1, std::memory_order_relaxed);
    return Error(a, kRcodeNotImp);
  }
  if (q.has_edns && q.edns_version > 0) {
    return Error(a, kRcodeBadVers);  // RFC 6891 section 6.1.3.
  }
  if (q.qclass != kClassIN) {
    stats_.refused.fetch_add(1, std::memory_order_relaxed);
    return Error(a, kRcodeRefused);
  }
  return Step::kContinue;
}

Responder::Step Responder::FindZone(Answer& a) {
  const ParsedQuery& q = a.query;
  // The longest apex that is a suffix of the qname.
  Zone* zone = nullptr;
  for (const auto& z : zones_) {
    if (IsSubdomainOf(q.qname_lower, z->apex) &&
        (zone == nullptr || z->apex.size() > zone->apex.size())) {
      zone = z.get();
    }
  }
  if (zone == nullptr || (zone->is_private && a.viewer.anonymous())) {
    stats_.refused.fetch_add(1, std::memory_order_relaxed);
    return Error(a, kRcodeRefused);
  }
  if (q.qtype == kTypeNXNAME) {  // RFC 9824 section 3.4.
    stats_.formerr.fetch_add(1, std::memory_order_relaxed);
    return Error(a, kRcodeFormErr);
  }
  if (q.qtype == kTypeAXFR || q.qtype == kTypeIXFR) {
    stats_.refused.fetch_add(1, std::memory_order_relaxed);
    return Error(a, kRcodeRefused);
  }
  a.zone = zone;
  a.view = views_->Current();
  a.clock = absl::Now();
  a.now = static_cast<uint32_t>(absl::ToUnixSeconds(a.clock));
  a.st = StateFor(*zone, a.view->serial(), a.now);
  a.to_apex = RawLabels(q.qname_lower) - zone->apex_labels;
  a.s.count = 0;
  a.s.present.clear();
  a.present = &a.s.present;
  return Step::kContinue;
}

Responder::Step Responder::AnswerApex(Answer& a) {
  const ZoneState& st = *a.st;
  // SOA, NS, DNSKEY; ANY answers the SOA (RFC 8482 section 4.1).
  const std::string* soa = nullptr;
  const std::vector<std::string>* tails = nullptr;
  const std::vector<std::string>* sigs = nullptr;
  switch (a.query.qtype) {
    case kTypeSOA:
    case kTypeANY:
      soa = &st.soa_tail;
      sigs = &st.soa_sigs;
      break;
    case kTypeNS:
      tails = &st.ns_tails;
      sigs = &st.ns_sigs;
      break;
    case kTypeDNSKEY:
      if (!st.dnskey_tails.empty()) {
        tails = &st.dnskey_tails;
        sigs = &st.dnskey_sigs;
        break;
      }
      [[fallthrough]];
    default: {
      a.kind = Answer::Kind::kNoData;
      const std::vector<uint16_t>& types = ApexTypes(!st.dnskey_tails.empty());
      a.present->assign(types.begin(), types.end());
      return Step::kContinue;
    }
  }
  if (!a.Start(kRcodeNoError)) return a.Done(0);
  bool& ok = a.fits;
  if (soa != nullptr) {
    ok = a.w.AppendRrAtQnameSuffix(Section::kAnswer, 0, *soa);
  }
  if (tails != nullptr) {
    for (const auto& t : *tails) {
      ok = ok && a.w.AppendRrAtQnameSuffix(Section::kAnswer, 0, t);
    }
  }
  if (a.dnssec_ok) {
    for (const auto& t : *sigs) {
      ok = ok && a.w.AppendRrAtQnameSuffix(Section::kAnswer, 0, t);
    }
  }
  return Step::kContinue;
}

Responder::Step Responder::AnswerNumber(Answer& a) {
  const ParsedQuery& q = a.query;
  const size_t to_apex = a.to_apex;
  Scratch& s = a.s;
  const bool number = a.number == Answer::Number::kUnknown
                          ? QnameNumber(q.qname_lower, to_apex, &s.e164)
                          : a.number == Answer::Number::kYes;
  std::vector<RecordRef>& refs = s.refs;
  const bool found =
      number && a.view->ResolveNumberRefs(s.e164, a.viewer, &refs);
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
  if ((q.qtype == kTypeNAPTR || q.qtype == kTypeANY) && has_naptr) {
    want = kTypeNAPTR;
  } else if (q.qtype == kTypeURI && has_uri) {
    want = kTypeURI;
  }
  if (want == 0) {
    std::vector<uint16_t>& present = *a.present;
    if (found) {
      a.kind = Answer::Kind::kNoData;
      if (has_naptr) present.push_back(kTypeNAPTR);
      present.push_back(kTypeRRSIG);
      present.push_back(kTypeNSEC);
      if (has_uri) present.push_back(kTypeURI);
    } else if (number && a.view->HasVisibleIdentifiersBelow(s.e164, a.viewer)) {
      // An empty non-terminal in this viewer's view: above data it cannot
      // see, the name is as absent as above nothing.
      a.kind = Answer::Kind::kNoData;
      present.push_back(kTypeRRSIG);
      present.push_back(kTypeNSEC);
    } else {
      a.kind = Answer::Kind::kNxDomain;
    }
    return Step::kContinue;
  }
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
  if (!a.Start(kRcodeNoError)) return a.Done(0);
  bool& ok = a.fits;
  for (size_t i = 0; ok && i < s.count; ++i) {
    TailInto(&s.tail, want, ttl, s.rdatas[i]);
    ok = a.w.AppendRrAtQnameSuffix(Section::kAnswer, 0, s.tail);
  }
  // Served from the caches even when no key here can sign (a replica).
  const bool serve_sigs = a.dnssec_ok && (!a.st->zone_signers.empty() ||
                                          !a.st->fallback_tags.empty());
  if (ok && serve_sigs && s.count > 0) {
    ok = AppendRrsetSigs(&a.w, Section::kAnswer, *a.zone, *a.st, q.qname_lower,
                         want, ttl,
                         absl::MakeConstSpan(s.rdatas.data(), s.count),
                         /*try_store=*/true, a.now, &a);
  }
  return Step::kContinue;
}

Responder::Step Responder::Deny(Answer& a) {
  const ParsedQuery& q = a.query;
  const Zone& zone = *a.zone;
  const ZoneState& st = *a.st;
  Scratch& s = a.s;
  // Covering denial for a nonexistent name when configured and the rule has
  // an answer; else compact denial when we can sign: NOERROR (NXDOMAIN back
  // with CO).
  const bool signs = a.dnssec_ok && st.can_sign;
  std::optional<CoveringNsecs> cover;
  if (signs && covering_ && a.kind == Answer::Kind::kNxDomain) {
    cover = CoveringFor(a);
  }
  const bool compact = signs && !cover;
  if (a.kind == Answer::Kind::kNxDomain) {
    stats_.nxdomain.fetch_add(1, std::memory_order_relaxed);
    a.rcode = (!compact || q.co_bit) ? kRcodeNxDomain : kRcodeNoError;
  } else {
    stats_.nodata.fetch_add(1, std::memory_order_relaxed);
  }
  if (!a.Start(a.rcode)) return a.Done(0);
  bool& ok = a.fits;
  ok = a.w.AppendRrAtQnameSuffix(Section::kAuthority, a.to_apex,
                                 st.soa_neg_tail);
  if (ok && a.dnssec_ok) {
    for (const auto& t : st.soa_neg_sigs) {
      ok = ok && a.w.AppendRrAtQnameSuffix(Section::kAuthority, a.to_apex, t);
    }
  }
  if (ok && cover) {
    stats_.covering_denials.fetch_add(1, std::memory_order_relaxed);
    // The NSEC covering the qname first, then the wildcard's.
    ok = AppendCoveringNsec(a, cover->owner, cover->next);
    if (ok && !cover->wildcard_owner.empty()) {
      ok = AppendCoveringNsec(a, cover->wildcard_owner, cover->wildcard_next);
    }
  } else if (ok && compact) {
    auto next = ImmediateSuccessor(q.qname_lower, zone.apex);
    if (next) {
      const auto& types =
          a.kind == Answer::Kind::kNxDomain ? NxTypes() : *a.present;
      s.nsec_rdata.assign(*next);
      s.nsec_rdata.append(TypeBitmap(types));
      TailInto(&s.tail, kTypeNSEC, zone.neg_ttl, s.nsec_rdata);
      ok = a.w.AppendRrAtQnameSuffix(Section::kAuthority, 0, s.tail);
      if (ok) {
        ok = AppendRrsetSigs(&a.w, Section::kAuthority, zone, st, q.qname_lower,
                             kTypeNSEC, zone.neg_ttl,
                             absl::MakeConstSpan(&s.nsec_rdata, 1),
                             /*try_store=*/false, a.now, &a);
      }
    }
  }
  if (q.co_bit && a.dnssec_ok) a.edns_flags |= kEdnsFlagCO;
  return Step::kContinue;
}

std::optional<CoveringNsecs> Responder::CoveringFor(const Answer& a) const {
  const Zone& zone = *a.zone;
  const std::string_view qname = a.query.qname_lower;
  std::vector<RecordRef>& refs = a.s.refs;  // AnswerNumber is done with it.
  // The below-index first: every level above E has names below it, and
  // that is one probe, while resolving a prefix as a number probes the TN,
  // prefix, range and holding tables and fails for all of them. So a miss
  // resolves a number only where nothing is below (E's child C, or a leaf
  // number), not at every level (bench/dns/notes-denial.md: the walk was a
  // quarter of a random-miss flood's CPU at 1M numbers). Same result: both
  // are const lookups, `refs` is scratch.
  auto exists = [&](std::string_view e164_std) {
    const absl::string_view e164(e164_std.data(), e164_std.size());
    return a.view->HasVisibleIdentifiersBelow(e164, a.viewer) ||
           a.view->ResolveNumberRefs(e164, a.viewer, &refs);
  };
  auto enc = FindClosestEncloser(qname, zone.apex, exists);
  if (!enc) return std::nullopt;
  const std::string_view e = qname.substr(enc->e_offset);
  // Another zone served here below E: its names are not this zone's to
  // deny wholesale, so a range could cover them.
  for (const auto& other : zones_) {
    if (other.get() != &zone && other->apex.size() > e.size() &&
        IsSubdomainOf(other->apex, e)) {
      return std::nullopt;
    }
  }
  const size_t c_len = static_cast<uint8_t>(qname[enc->c_offset]);
  return CoveringNames(e, qname.substr(enc->c_offset + 1, c_len));
}

bool Responder::AppendCoveringNsec(Answer& a, const std::string& owner,
                                   const std::string& next) {
  const Zone& zone = *a.zone;
  Scratch& s = a.s;
  // The owners are not names of the zone: RRSIG and NSEC only (RFC 4470).
  static const std::string kBitmap = TypeBitmap({kTypeRRSIG, kTypeNSEC});
  s.nsec_rdata.assign(next);
  s.nsec_rdata.append(kBitmap);
  TailInto(&s.tail, kTypeNSEC, zone.neg_ttl, s.nsec_rdata);
  if (!a.w.AppendRr(Section::kAuthority, owner, s.tail)) return false;
  return AppendRrsetSigs(&a.w, Section::kAuthority, zone, *a.st, owner,
                         kTypeNSEC, zone.neg_ttl,
                         absl::MakeConstSpan(&s.nsec_rdata, 1),
                         /*try_store=*/false, a.now, &a, owner);
}

size_t Responder::Finish(Answer& a) {
  if (a.kind == Answer::Kind::kAnswer) {
    stats_.answers.fetch_add(1, std::memory_order_relaxed);
  }
  const bool edns = a.query.has_edns;
  if (a.fits && edns) {
    a.fits = a.w.AppendOpt(max_udp_payload_, a.rcode, a.edns_flags);
  }
  if (!a.fits) {
    // Does not fit: header + question (+ OPT), TC (RFC 2181 section 9).
    stats_.truncated.fetch_add(1, std::memory_order_relaxed);
    a.w.TruncateToQuestion();
    a.w.SetFlags(static_cast<uint16_t>(a.base_flags | kFlagAA | kFlagTC |
                                       (a.rcode & 0xf)));
    if (edns) a.w.AppendOpt(max_udp_payload_, a.rcode, a.edns_flags);
  }
  return a.w.size();
}

}  // namespace lufd::dns
