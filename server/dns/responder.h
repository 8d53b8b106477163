// The Responder: lufd's QueryProcessor (processor.h), the authoritative
// answer path. One parsed query + who asks -> one response, written into a
// caller buffer. Transport-agnostic (UDP, TCP and DoT workers all call it)
// and thread-safe; the per-query path reads the current RegistryView, the
// KeyRing snapshot and the signature caches without locks other than the
// caches' shard reader locks.
//
// Respond is a fixed sequence of named stages (in the spirit of Knot's
// query processing), each a private member function with its contract
// below: Classify -> FindZone -> Admit (the guard) -> AnswerApex |
// AnswerNumber -> Deny -> Finish -> Settle (the guard again). They share
// one Answer (the per-query state: the writer, flags, zone, view, what kind
// of answer it is). The stages before and
// after (parse, TSIG) run in DnsServer::Process. RRSIGs are appended by
// the stage that writes the RRset they cover, right after it.
//
// Cases (each has a wire test in tests/unit/dns/responder_test.cc):
//   apex SOA/NS/DNSKEY; NAPTR (and URI) for a number from the view (TN,
//   narrowest range, longest prefix: synthesized, never unrolled); other
//   types at a number -> NODATA; empty non-terminal -> NODATA; no such
//   number (or not visible to this viewer) -> NXDOMAIN; names outside every
//   apex -> REFUSED; ANY -> RFC 8482 (one RRset, or an HINFO-less minimal
//   answer); opcode != QUERY -> NOTIMP; malformed -> FORMERR; EDNS version
//   > 0 -> BADVERS; class != IN -> REFUSED; AXFR/IXFR -> REFUSED (these
//   reach the responder only over UDP or without dns.xfr; over TCP/DoT
//   DnsServer hands them to the XfrService, xfr.h); qtype NXNAME -> FORMERR
//   (RFC 9824).
// DNSSEC (DO bit): positive RRsets carry RRSIGs from the SignatureCache or
// signed on demand into the SignatureLru. Denials (dns.dnssec.denial):
//  - "covering" (default): a nonexistent name gets NXDOMAIN + SOA + two NSECs
//    (each followed by its RRSIG): one covering the whole empty subtree C.E
//    below the closest existing ancestor E (in the viewer's view), one
//    covering *.E. Their owner/next names are a fixed function of (E, C)
//    (covering.h has the table), so they reveal nothing an NXDOMAIN for C.E
//    does not, and their signatures are reused from the SignatureLru: it is
//    keyed by the NSEC's owner, rdata hash and key tag, i.e. by (zone, E, C)
//    plus the types, so a flood of names under one subtree costs two
//    signatures per key (the wildcard NSEC is shared by every C under E),
//    and no invalidation is needed: when the subtree changes, E or C change
//    and so do the names; an entry whose names are still computed is still
//    true. (As with any online signature, an NSEC signed before a number
//    was added stays cryptographically valid until it expires.) Validating
//    resolvers with aggressive NSEC caching (RFC 8198) then answer the rest of
//    a flood under C.E themselves, and RFC 8020 resolvers stop at the NXDOMAIN.
//    Labels the table has no data-independent answer for (e.g. "\000", "5\000";
//    names near 255 octets; a zone with another configured zone below E) fall
//    back to compact denial. NODATA and empty non-terminals are answered as in
//    compact mode (the name exists: NOERROR + an NSEC at the qname with its
//    types, next = immediate successor).
//  - "compact" (RFC 9824): NOERROR + SOA + an NSEC at the query name whose
//    next name is its immediate successor and whose bitmap has NXNAME for
//    non-existent names; NXDOMAIN is restored when the query set the CO flag.
//    One signature per distinct query name.
// The default is covering: measured (tests/integration/covering_denial.sh,
// bench/dns/denial_flood.sh), an unbound with aggressive-nsec sent lufd 0 of
// 200 random names under a denied subtree (compact: 800), and lufd answered
// a fresh random-miss flood at 4.5x compact's rate with 86 signatures in
// all instead of one per miss. Negative TTL = min(SOA TTL, SOA minimum): how
// long resolvers keep absorbing a flood with a cached covering NSEC.
#ifndef LUFD_SERVER_DNS_RESPONDER_H_
#define LUFD_SERVER_DNS_RESPONDER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "lufd/v1/config.pb.h"
#include "server/core/denial_audit.h"
#include "server/core/identity.h"
#include "server/core/view.h"
#include "server/dns/covering.h"
#include "server/dns/keyring.h"
#include "server/dns/processor.h"
#include "server/dns/sigcache.h"
#include "server/dns/signer.h"
#include "server/dns/source_blocks.h"
#include "server/dns/wire.h"
#include "server/guard/guard.h"
#include "server/guard/guard_policy.h"
#include "server/ops/request_counters.h"

namespace lufd::dns {

struct ResponderStats {
  std::atomic<uint64_t> queries{0}, answers{0}, nodata{0}, nxdomain{0},
      refused{0}, formerr{0}, notimp{0}, truncated{0}, signed_on_demand{0},
      sig_store_hits{0}, sig_lru_hits{0},
      // NXDOMAINs answered with covering NSECs (the rest of `nxdomain` fell
      // back to compact denial, or were unsigned).
      covering_denials{0};
  // The guard stage: refused with REFUSED (+ EDE), answered with TC=1
  // (slip), dropped (anonymous UDP over a limit), and answers withheld
  // because the identity's signing budget was spent.
  std::atomic<uint64_t> guard_refused{0}, guard_slipped{0}, guard_dropped{0},
      guard_signing_denied{0};
  // Anonymous UDP queries from a blocked prefix dropped before any other
  // work (source_blocks.h); not counted in guard_dropped.
  std::atomic<uint64_t> guard_blocked_dropped{0};
};

class Responder final : public QueryProcessor {
 public:
  // Validates and fills defaults of the zones (INVALID_ARGUMENT naming the
  // field on a bad apex/SOA/NS).
  static absl::StatusOr<std::unique_ptr<Responder>> Create(
      const lufd::v1::DnsConfig& config, const ViewHolder* views,
      const KeyRing* keys, SignatureCache* stored, SignatureLru* lru);
  ~Responder() override;

  // QueryProcessor (processor.h): runs the stages below over one query.
  // `limit` is ResponseLimit() as DnsServer computed it; `viewer` is
  // anonymous unless TSIG/DoT identified the peer.
  size_t Respond(const ParsedQuery& query, ParseResult parsed,
                 const Identity& viewer, Transport transport,
                 const ClientAddress& client, uint8_t* out,
                 size_t limit) override;
  // A blocked anonymous UDP source's TSIG error goes unanswered (but for
  // one datagram in SourceBlocks::kPassEvery).
  bool DropUnansweredUdp(const ClientAddress& client) override;

  // Enables the guard stage (call before serving; `guard` and `denials`,
  // which may be null, must outlive the responder). `config` has defaults
  // applied (server/ops/config.h).
  void set_guard(lufd::Guard* guard, const lufd::v1::GuardConfig& config,
                 DenialRecorder* denials);
  // New class defaults while serving (config reload: guard.peer,
  // guard.anonymous, guard.slip); the next query uses them. The prefixes
  // (v4_prefix, v6_prefix) stay as set_guard set them. Does nothing before
  // set_guard().
  void UpdateGuardLimits(const lufd::v1::GuardConfig& config);

  // Where lookups (names below a zone's apex: hit = answered with SED) and
  // the guard stage's refusals are counted for the metrics (may be null;
  // must outlive the responder). Call before serving.
  void set_counters(RequestCounters* counters) { counters_ = counters; }

  const ResponderStats& stats() const { return stats_; }
  // The zones as configured (lowercase wire apexes), in config order.
  std::vector<std::string> zone_names() const;
  // The UDP payload size we advertise in OPT (dns.max_udp_payload, at
  // least 512): the UDP `capacity` a caller passes to ResponseLimit().
  uint16_t max_udp_payload() const { return max_udp_payload_; }

 private:
  struct Zone;
  struct ZoneState;
  struct Answer;
  // What a stage tells Respond: go on to the next stage, or the response
  // is complete (Answer::size holds its length; 0 = send nothing).
  enum class Step { kContinue, kDone };

  Responder() = default;

  // The stages, in the order Respond runs them. Each reads the query and
  // what the earlier stages left in the Answer, writes its part, and
  // returns kDone when the response is complete (an error answer, or no
  // room even for header + question: size 0), else kContinue. A record
  // that does not fit only clears Answer::fits; Finish then truncates.
  //
  // Classify: the parse verdict (FORMERR, NOTIMP), EDNS version (BADVERS),
  // class (REFUSED). Writes the response flags and the DO bit into the
  // Answer; on an error writes the whole (error) response and is done.
  Step Classify(Answer& a);
  // Zone: the longest configured apex that holds the qname (none, or a
  // private zone asked anonymously: REFUSED); per-zone qtype refusals
  // (NXNAME: FORMERR, AXFR/IXFR: REFUSED). Writes the zone, the view, the
  // zone's apex state and the label count below the apex.
  Step FindZone(Answer& a);
  // Admit, the guard stage (when set_guard gave one a guard; admins pass
  // untouched; names outside every zone were refused already): charges the
  // query to its identity before any registry work (Guard::Admit with the
  // number the qname spells; apex queries are charged to the rate only).
  // Identified peers (TSIG, DoT) are charged to their org with its Quota
  // over guard.peer; anonymous clients to their source prefix over UDP
  // (guard.v4_prefix / v6_prefix) and to their address over TCP and DoT
  // (which prove it), with guard.anonymous. Over a limit: Refuse().
  Step Admit(Answer& a);
  // True (counted as guard_blocked_dropped): `client`'s prefix is blocked
  // and this datagram is one SourceBlocks drops unanswered.
  bool DroppedAsBlocked(const ClientAddress& client);
  // The answer of a query the guard refused (by `rule`): anonymous UDP
  // gets the slip (every guard.slip-th refusal header + question with TC=1,
  // the rest nothing); everyone else REFUSED with an Extended DNS Error
  // (RFC 8914: Blocked for a block, else Prohibited) when the query had
  // EDNS. Recorded in the denial audit.
  Step Refuse(Answer& a, GuardRule rule, const absl::Status& why);
  // After the answer: reports it to the guard (answered with SED or not),
  // and replaces it by Refuse() when the signing budget withheld a
  // signature.
  size_t Settle(Answer& a, size_t size);
  // Apex: SOA, NS, DNSKEY (with their RRSIGs under DO); ANY answers the SOA
  // (RFC 8482): starts the response and writes the RRset. Any other type:
  // sets kind NODATA and the types present (for the denial's NSEC
  // bitmap), writes nothing.
  Step AnswerApex(Answer& a);
  // Number: the E.164 number the qname spells, resolved in the viewer's
  // view (TN, narrowest range, longest prefix); starts the response and
  // writes NAPTR or URI with RRSIGs (SignatureCache, SignatureLru, or signed
  // now). Otherwise sets kind NODATA (the name exists, or is an empty
  // non-terminal, with the types present) or NXDOMAIN, and writes nothing.
  Step AnswerNumber(Answer& a);
  // Denial (kind NODATA / NXDOMAIN only): sets the rcode (NXDOMAIN, or
  // NOERROR under compact denial unless the query set CO; CO echoed),
  // starts the response with it, writes the negative SOA (+ RRSIGs) and, when
  // the zone can sign, the compact-denial NSEC at the qname (+ its RRSIG,
  // signed on demand).
  Step Deny(Answer& a);
  // Finish: OPT when the query had EDNS; if anything did not fit, the
  // response becomes header + question (+ OPT) with TC. Returns the size.
  size_t Finish(Answer& a);
  // A header-only (+ question, + OPT) response with `rcode`: ends a stage.
  Step Error(Answer& a, uint16_t rcode);

  // The apex RRsets of `zone` for a view at `serial` (rebuilt on a newer
  // serial, a KeyRing generation change, or before its signatures age).
  std::shared_ptr<const ZoneState> StateFor(Zone& zone, uint64_t serial,
                                            uint32_t now);
  // Multi-signer: the RRSIGs over the DNSKEY RRset (`rdatas`) by the
  // published KSKs/CSKs whose private key is not here, from the
  // SignatureCache (the KSK holder stores them, signer.h), into `next`;
  // while none is there, `prev`'s signed DNSKEY RRset if still good, and
  // `next` is rebuilt a second later.
  void StoredDnskeySigs(const Zone& z, const std::vector<std::string>& rdatas,
                        uint32_t now, const ZoneState* prev,
                        ZoneState* next) const;
  // RRSIGs over an RRset owned by the qname, one per zone-signing key:
  // SignatureCache (when try_store), then SignatureLru, else signed now
  // into the LRU. False when the writer ran out of room.
  // Signing on demand is charged to `a`'s identity first (Guard::
  // ChargeSigning); over its budget nothing is signed and a.signing_denied
  // is set (Settle then refuses the query).
  bool AppendRrsetSigs(ResponseWriter* w, ResponseWriter::Section section,
                       const Zone& zone, const ZoneState& state,
                       std::string_view owner_lower, uint16_t type,
                       uint32_t ttl, absl::Span<const std::string> rdatas,
                       bool try_store, uint32_t now, Answer* a,
                       std::string_view owner_wire = {});
  // Covering denial (kind NXDOMAIN, signing zone): the covering NSECs for
  // the qname in the viewer's view, or nullopt to fall back to compact.
  std::optional<CoveringNsecs> CoveringFor(const Answer& a) const;
  // Appends one covering NSEC and its RRSIGs; false when out of room.
  bool AppendCoveringNsec(Answer& a, const std::string& owner,
                          const std::string& next);
  DnssecTiming timing_;
  std::vector<std::unique_ptr<Zone>> zones_;
  const ViewHolder* views_ = nullptr;
  const KeyRing* keys_ = nullptr;
  SignatureCache* stored_ = nullptr;
  SignatureLru* lru_ = nullptr;
  ResponderStats stats_;
  uint16_t max_udp_payload_ = 1232;
  // set_guard.
  lufd::Guard* guard_ = nullptr;
  DenialRecorder* denials_ = nullptr;
  RequestCounters* counters_ = nullptr;
  // guard.peer, guard.anonymous, guard.slip; replaced by
  // UpdateGuardLimits. Its generation keys the per-thread caches.
  std::unique_ptr<GuardPolicyHolder> policy_;
  int v4_prefix_ = 24;
  int v6_prefix_ = 56;
  std::atomic<uint64_t> slip_counter_{0};
  // Anonymous UDP prefixes the guard blocked, dropped before Classify.
  std::unique_ptr<SourceBlocks> blocks_;
  bool covering_ = true;  // dns.dnssec.denial: "covering" (else compact).
};

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_RESPONDER_H_
