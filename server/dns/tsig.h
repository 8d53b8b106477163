// TSIG (RFC 8945) for the DNS front door: verifies a signed query, signs
// the response to it, and writes the error responses a bad signature gets.
// Only HMAC-SHA256 is accepted; the time fudge is the sender's, capped at
// kTsigMaxFudge (300 s). Implemented with OpenSSL's HMAC directly over the
// wire bytes (no ldns packet round trip), because the digest inputs are
// just the message without its TSIG record plus a few TSIG fields.
//
// Outcomes of VerifyQueryTsig (RFC 8945 section 5.2):
//   kNone     no TSIG: the query is anonymous (or DoT-identified);
//   kOk       good MAC in time: `identity` is the key's credential; sign the
//             response with SignResponse;
//   kBadKey   unknown key or algorithm: NOTAUTH, TSIG error BADKEY, unsigned;
//   kBadSig   MAC wrong (or truncated): NOTAUTH, BADSIG, unsigned;
//   kBadTime  MAC right but time outside the fudge: NOTAUTH, BADTIME, signed,
//             with the server's time in Other Data;
//   kFormErr  TSIG record malformed: FORMERR, unsigned.
// A failed check never yields an identity; the caller must not answer the
// question (WriteTsigErrorResponse writes the whole response).
//
// Stateless functions; thread-safe as long as the key lookup is.
#ifndef LUFD_SERVER_DNS_TSIG_H_
#define LUFD_SERVER_DNS_TSIG_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/types/span.h"
#include "server/core/identity.h"
#include "server/core/view.h"
#include "server/dns/wire.h"

namespace lufd::dns {

inline constexpr uint16_t kTsigMaxFudge = 300;
inline constexpr size_t kTsigMacSize = 32;  // HMAC-SHA256.

// A TSIG key as the registry knows it (Credential.tsig_*).
struct TsigKey {
  std::string secret;  // Raw HMAC key.
  Identity identity;   // The credential's org and role.
};

// Looks a key up by its lowercase wire-form name; nullopt when unknown,
// disabled, or not hmac-sha256.
using TsigKeyLookup =
    std::function<std::optional<TsigKey>(std::string_view key_name_wire)>;

// The lookup lufd uses: RegistryView::FindTsigCredential on the current
// view (so disabling a credential takes effect on the next query). The key
// name is tried as "name." and "name". `views` must outlive the function.
TsigKeyLookup TsigLookupFromViews(const ViewHolder* views);

enum class TsigStatus { kNone, kOk, kBadKey, kBadSig, kBadTime, kFormErr };

// What verification learned; needed again to sign or reject the response.
struct TsigState {
  TsigStatus status = TsigStatus::kNone;
  Identity identity;         // Set only for kOk.
  std::string key_name;      // Lowercase wire form, as in the query.
  std::string algorithm;     // Lowercase wire form, as in the query.
  std::string secret;        // Set for kOk and kBadTime.
  std::string request_mac;   // The query's MAC (for the response digest).
  uint64_t time_signed = 0;  // The query's.
  uint16_t fudge = 0;        // The query's.
  uint16_t original_id = 0;  // The query's.
};

// Verifies the TSIG of `packet` (ParseQuery found it: query.has_tsig).
// `now` is Unix seconds.
TsigState VerifyQueryTsig(absl::Span<const uint8_t> packet,
                          const ParsedQuery& query, const TsigKeyLookup& keys,
                          uint64_t now);

// Bytes SignResponse needs at the end of the buffer for `state`.
size_t TsigReserve(const TsigState& state);

// Appends a TSIG record signing the response in buf[0..size) (for kOk and
// kBadTime states) and bumps ARCOUNT. Returns the new size, or 0 when it
// does not fit `capacity`.
size_t SignResponse(const TsigState& state, uint8_t* buf, size_t size,
                    size_t capacity, uint64_t now);

// Signs the messages of a multi-message response (AXFR/IXFR over TCP,
// RFC 8945 section 5.3.1), every one of them: the first like SignResponse
// (request MAC + message + all TSIG variables), each later one over the
// previous message's MAC + the message + the timers only (Time Signed,
// Fudge), so a client can check the stream as it arrives and notice a
// message dropped or reordered. One signer per response stream.
class TsigStreamSigner {
 public:
  // `state` is a kOk verification of the query; it must outlive the signer.
  explicit TsigStreamSigner(const TsigState& state) : state_(state) {}
  // Appends the TSIG record to buf[0..size) and bumps ARCOUNT. Returns the
  // new size, or 0 when it does not fit `capacity` (the stream is then
  // broken: stop sending).
  size_t Sign(uint8_t* buf, size_t size, size_t capacity, uint64_t now);

 private:
  const TsigState& state_;
  std::string prior_mac_;
  bool first_ = true;
};

// The complete response for a failed check (kBadKey, kBadSig, kBadTime,
// kFormErr): question echoed, NOTAUTH (FORMERR for kFormErr), a TSIG record
// carrying the error (signed only for kBadTime). Returns its size (0 when
// it does not fit, which only a tiny capacity can cause).
size_t WriteTsigErrorResponse(const ParsedQuery& query, const TsigState& state,
                              uint8_t* out, size_t capacity, uint64_t now);

// Signs a query (client side; tests and tools): appends a TSIG record with
// `key_name_wire`, `secret`, time `now`, fudge 300 to packet[0..size).
// Returns the new size or 0 when it does not fit. On success *mac receives
// the MAC (to verify the response with VerifyResponseTsig).
size_t SignQuery(uint8_t* packet, size_t size, size_t capacity,
                 std::string_view key_name_wire, std::string_view secret,
                 uint64_t now, std::string* mac);

// Client side: checks the TSIG of a response to a query whose MAC was
// `request_mac`. Returns the TSIG error field (0 = NOERROR) through
// *tsig_error and whether the MAC verified (false when unsigned).
bool VerifyResponseTsig(absl::Span<const uint8_t> response,
                        std::string_view secret, std::string_view request_mac,
                        uint16_t* tsig_error);

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_TSIG_H_
