// The authoritative answer logic: one parsed query + who asks -> one
// response, written into a caller buffer. Transport-agnostic (UDP, TCP and
// DoT workers all call it) and thread-safe; the per-query path reads the
// current RegistryView, the KeyRing snapshot and the signature caches
// without locks other than the caches' shard reader locks.
//
// Cases (each has a wire test in tests/unit/dns/responder_test.cc):
//   apex SOA/NS/DNSKEY; NAPTR (and URI) for a number from the view (TN,
//   narrowest range, longest prefix: synthesized, never unrolled); other
//   types at a number -> NODATA; empty non-terminal -> NODATA; no such
//   number (or not visible to this viewer) -> NXDOMAIN; names outside every
//   apex -> REFUSED; ANY -> RFC 8482 (one RRset, or an HINFO-less minimal
//   answer); opcode != QUERY -> NOTIMP; malformed -> FORMERR; EDNS version
//   > 0 -> BADVERS; class != IN -> REFUSED; AXFR/IXFR -> REFUSED (later
//   issue); qtype NXNAME -> FORMERR (RFC 9824).
// DNSSEC (DO bit): positive RRsets carry RRSIGs from the SignatureCache or
// signed on demand into the SignatureLru; denials use compact denial (RFC
// 9824): NOERROR + SOA + an NSEC at the query name whose next name is its
// immediate successor and whose bitmap has NXNAME for non-existent names;
// NXDOMAIN is restored when the query set the CO flag. Negative TTL =
// min(SOA TTL, SOA minimum).
#ifndef LUFD_SERVER_DNS_RESPONDER_H_
#define LUFD_SERVER_DNS_RESPONDER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "lufd/v1/config.pb.h"
#include "server/core/identity.h"
#include "server/core/view.h"
#include "server/dns/keyring.h"
#include "server/dns/sigcache.h"
#include "server/dns/signer.h"
#include "server/dns/wire.h"

namespace lufd::dns {

enum class Transport { kUdp, kTcp, kTls };

struct ResponderStats {
  std::atomic<uint64_t> queries{0}, answers{0}, nodata{0}, nxdomain{0},
      refused{0}, formerr{0}, notimp{0}, truncated{0}, signed_on_demand{0},
      sig_store_hits{0}, sig_lru_hits{0};
};

class Responder {
 public:
  // Validates and fills defaults of the zones (INVALID_ARGUMENT naming the
  // field on a bad apex/SOA/NS).
  static absl::StatusOr<std::unique_ptr<Responder>> Create(
      const lufd::v1::DnsConfig& config, const ViewHolder* views,
      const KeyRing* keys, SignatureCache* stored, SignatureLru* lru);
  ~Responder();

  // Writes the response to `query` (already parsed from `packet`) into
  // out[0..capacity) and returns its size; 0 = send nothing. `capacity` is
  // the transport's limit (65535 for TCP); for UDP the responder itself
  // applies min(capacity, the client's EDNS payload or 512) and sets TC.
  // `viewer` is anonymous unless TSIG/DoT identified the peer.
  size_t Respond(const ParsedQuery& query, ParseResult parsed,
                 const Identity& viewer, Transport transport, uint8_t* out,
                 size_t capacity);

  const ResponderStats& stats() const { return stats_; }
  // The zones as configured (lowercase wire apexes), in config order.
  std::vector<std::string> zone_names() const;

 private:
  struct Zone;
  struct ZoneState;
  Responder() = default;
  // The apex RRsets of `zone` for a view at `serial` (rebuilt on a newer
  // serial, a KeyRing generation change, or before its signatures age).
  std::shared_ptr<const ZoneState> StateFor(Zone& zone, uint64_t serial,
                                            uint32_t now);
  // RRSIGs over an RRset owned by the qname, one per zone-signing key:
  // SignatureCache (when try_store), then SignatureLru, else signed now
  // into the LRU. False when the writer ran out of room.
  bool AppendRrsetSigs(ResponseWriter* w, ResponseWriter::Section section,
                       const Zone& zone, const ZoneState& state,
                       std::string_view owner_lower, uint16_t type,
                       uint32_t ttl, absl::Span<const std::string> rdatas,
                       bool try_store, uint32_t now);
  DnssecTiming timing_;
  std::vector<std::unique_ptr<Zone>> zones_;
  const ViewHolder* views_ = nullptr;
  const KeyRing* keys_ = nullptr;
  SignatureCache* stored_ = nullptr;
  SignatureLru* lru_ = nullptr;
  ResponderStats stats_;
  uint16_t max_udp_payload_ = 1232;
};

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_RESPONDER_H_
