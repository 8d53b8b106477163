// The registry's records as DNS serves them: the wire RDATA of a NAPTR or
// URI record from the view, and the ENUM owner name of a number. The
// responder (answers) and the sign-ahead signer (signatures made before
// the query) both build what they serve or sign from these, so a signature
// made ahead is found by the answer: same owner, same RDATA bytes, same
// RrsetHash. Pure functions, thread-safe.
#ifndef LUFD_SERVER_DNS_RDATA_H_
#define LUFD_SERVER_DNS_RDATA_H_

#include <string>
#include <string_view>

#include "lufd/v1/lookup.pb.h"

namespace lufd::dns {

// The DNS RDATA of a NAPTR / URI record from the view (the replacement
// name as provisioned, uncompressed). False when the record cannot be
// encoded (bad replacement name); it is then left out of the answer.
// Reuses `out`'s capacity.
bool NaptrRdataFrom(const lufd::v1::NaptrRecord& naptr, std::string* out);
bool UriRdataFrom(const lufd::v1::UriRecord& uri, std::string* out);

// "+12025556666" -> "6.6.6.6.5.5.5.2.0.2.1.<apex>" in lowercase wire form.
std::string EnumOwner(std::string_view e164, std::string_view apex_wire);

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_RDATA_H_
