// QueryProcessor: the one interface between the DNS listeners and whatever
// answers a query. DnsServer (server.h) receives a message on some
// transport, parses it, checks its TSIG, and hands it to a QueryProcessor;
// the processor writes the response. In lufd that is the Responder
// (responder.h), the authoritative answer path; the listener tests use a
// fake. The stages of the whole path, and which side runs each:
//
//   DnsServer::Process   parse (ParseQuery), classify TSIG (tsig.h), the
//                        response size limit (ResponseLimit, below)
//   QueryProcessor       classify (opcode, class, EDNS) -> zone -> guard
//                        (server/guard: charge the identity; refuse, slip
//                        or drop) -> apex | number -> denial -> finish
//                        (EDNS, truncation) -> settle (report to the guard)
//   DnsServer::Process   finish TSIG (sign the response), send
//
// Thread-safety: Respond is called concurrently from every listener thread
// and must be thread-safe. The processor is borrowed by DnsServer and must
// outlive it.
#ifndef LUFD_SERVER_DNS_PROCESSOR_H_
#define LUFD_SERVER_DNS_PROCESSOR_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/core/identity.h"
#include "server/dns/wire.h"

namespace lufd::dns {

enum class Transport { kUdp, kTcp, kTls };

// The client's address as raw bytes (4 for IPv4, 16 for IPv6; an
// IPv4-mapped IPv6 address is stored as IPv4), so the guard can charge an
// anonymous client to its source prefix. size 0 = unknown (tests, fakes).
struct ClientAddress {
  uint8_t bytes[16] = {};
  uint8_t size = 0;

  absl::string_view raw() const {
    return absl::string_view(reinterpret_cast<const char*>(bytes), size);
  }
  // From a sockaddr_in / sockaddr_in6; unknown for any other family.
  static ClientAddress From(const sockaddr* address);
  static ClientAddress From(const sockaddr_storage& address) {
    return From(reinterpret_cast<const sockaddr*>(&address));
  }
};

inline ClientAddress ClientAddress::From(const sockaddr* address) {
  ClientAddress c;
  if (address == nullptr) return c;
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    std::memcpy(c.bytes, &in->sin_addr, 4);
    c.size = 4;
  } else if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      std::memcpy(c.bytes, in6->sin6_addr.s6_addr + 12, 4);
      c.size = 4;
    } else {
      std::memcpy(c.bytes, &in6->sin6_addr, 16);
      c.size = 16;
    }
  }
  return c;
}

// The largest response this query may get: `capacity` (the transport's own
// limit: the configured max_udp_payload for UDP, 65535 for TCP and DoT),
// and for UDP also the client's EDNS payload size, or 512 without EDNS
// (RFC 6891 section 6.2.5; a smaller advertised size counts as 512).
// Computed once per query, by DnsServer::Process; everything after it
// (TSIG reserve, the processor's TC decision) works within this number.
inline size_t ResponseLimit(const ParsedQuery& query, Transport transport,
                            size_t capacity) {
  if (capacity > 65535) capacity = 65535;
  if (transport != Transport::kUdp) return capacity;
  size_t client = kMaxUdpNoEdns;
  if (query.has_edns && query.udp_payload > kMaxUdpNoEdns) {
    client = query.udp_payload;
  }
  return capacity < client ? capacity : client;
}

class QueryProcessor {
 public:
  virtual ~QueryProcessor() = default;

  // Writes the response to `query` into out[0..limit) and returns its
  // size; 0 = send nothing. `parsed` is ParseQuery's verdict (never kDrop
  // from DnsServer; a processor answers FORMERR / NOTIMP itself). `limit`
  // is ResponseLimit() (less the TSIG reserve when the query was signed):
  // an answer that does not fit is truncated to the question with TC set.
  // `viewer` is anonymous unless TSIG or a DoT client certificate
  // identified the peer. `transport` and `client` are for the guard (it
  // charges anonymous clients to their source prefix, and treats UDP,
  // whose source is unproven, differently); the size decision is already
  // in `limit`.
  virtual size_t Respond(const ParsedQuery& query, ParseResult parsed,
                         const Identity& viewer, Transport transport,
                         const ClientAddress& client, uint8_t* out,
                         size_t limit) = 0;
  // A UDP datagram from `client` that DnsServer answers without Respond (a
  // TSIG error: BADKEY, BADSIG, BADTIME): true = send nothing, because the
  // guard has blocked the source (the Responder asks its SourceBlocks).
  // Without it a flooder in a blocked prefix could add a bogus TSIG record
  // to every query and have each one answered. Default: never.
  virtual bool DropUnansweredUdp(const ClientAddress& client) {
    (void)client;
    return false;
  }
};

// Zone transfers out (AXFR / IXFR, RFC 5936 / RFC 1995) over TCP and DoT:
// DnsServer hands a transfer query that parsed and whose TSIG (if any)
// verified here instead of to the QueryProcessor, and sends the messages
// it returns in order on the connection, each TSIG-signed when the query
// was (TsigStreamSigner). Over UDP transfer queries go to the
// QueryProcessor as before (REFUSED). In lufd this is the XfrService
// (xfr.h). Thread-safety: called from the TCP loop's thread only, but
// must be safe against its own background work.
class XfrProcessor {
 public:
  virtual ~XfrProcessor() = default;
  // The response messages (unsigned, each at most `limit` bytes, at least
  // one) to `query` (qtype AXFR or IXFR, ParseResult::kOk). `tsig_key` is
  // the lowercase wire name of the TSIG key that verified on the query
  // (empty: unsigned); `viewer` is who that key or the DoT client
  // certificate identified (anonymous otherwise).
  virtual std::vector<std::string> Transfer(const ParsedQuery& query,
                                            const Identity& viewer,
                                            std::string_view tsig_key,
                                            Transport transport,
                                            size_t limit) = 0;
};

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_PROCESSOR_H_
