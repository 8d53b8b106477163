// The one TSIG key that DNS unit tests sign with, and the key lookup that
// knows it, so that the server and TSIG tests agree on its identity.
#ifndef LUFD_TESTS_UNIT_TESTING_TSIG_KEYS_H_
#define LUFD_TESTS_UNIT_TESTING_TSIG_KEYS_H_

#include <optional>
#include <string_view>

#include "server/dns/tsig.h"
#include "server/dns/wire.h"

namespace lufd::testing {

inline constexpr char kPeerKeySecret[] = "0123456789abcdef0123456789abcdef";

// Knows only "peer-key." (any case: lookups come lowercased), a peer
// credential of org iana-en:111; every other name is an unknown key.
inline dns::TsigKeyLookup PeerKeyLookup() {
  return [](std::string_view name) -> std::optional<dns::TsigKey> {
    if (name != *dns::NameFromText("peer-key.")) return std::nullopt;
    dns::TsigKey key;
    key.secret = kPeerKeySecret;
    key.identity.org_id = "iana-en:111";
    key.identity.credential_id = "cred-peer";
    key.identity.role = lufd::v1::ROLE_PEER;
    return key;
  };
}

}  // namespace lufd::testing

#endif  // LUFD_TESTS_UNIT_TESTING_TSIG_KEYS_H_
