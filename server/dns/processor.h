// QueryProcessor: the one interface between the DNS listeners and whatever
// answers a query. DnsServer (server.h) receives a message on some
// transport, parses it, checks its TSIG, and hands it to a QueryProcessor;
// the processor writes the response. In lufd that is the Responder
// (responder.h), the authoritative answer path; the listener tests use a
// fake. The stages of the whole path, and which side runs each:
//
//   DnsServer::Process   parse (ParseQuery), classify TSIG (tsig.h), the
//                        response size limit (ResponseLimit, below)
//   QueryProcessor       classify (opcode, class, EDNS) -> [guard] -> zone
//                        -> apex | number -> denial -> finish (EDNS,
//                        truncation)
//   DnsServer::Process   finish TSIG (sign the response), send
//
// Thread-safety: Respond is called concurrently from every listener thread
// and must be thread-safe. The processor is borrowed by DnsServer and must
// outlive it.
#ifndef LUFD_SERVER_DNS_PROCESSOR_H_
#define LUFD_SERVER_DNS_PROCESSOR_H_

#include <cstddef>
#include <cstdint>

#include "server/core/identity.h"
#include "server/dns/wire.h"

namespace lufd::dns {

enum class Transport { kUdp, kTcp, kTls };

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
  // identified the peer. `transport` is informational (a rate limiter
  // treats UDP differently); the size decision is already in `limit`.
  virtual size_t Respond(const ParsedQuery& query, ParseResult parsed,
                         const Identity& viewer, Transport transport,
                         uint8_t* out, size_t limit) = 0;
};

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_PROCESSOR_H_
