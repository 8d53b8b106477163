#!/usr/bin/env bash
# mTLS and authorization matrix against a real lufd with a CRL configured.
# Every rejected identity is checked against a control: the same request
# with a good certificate succeeds, so a rejection is the certificate's
# doing, not a broken setup.
#   transport (no RPC reaches a handler): no client cert, a cert from an
#     unrelated CA, an expired cert, a revoked cert (crl.pem);
#   authorization (PERMISSION_DENIED): a peer calling the admin API, SSP1's
#     registrar touching SSP2's number.
IT_NAME=mtls_matrix
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

LUFD_CRL_FILE="$PKI/crl.pem"
start_lufd "sqlite:$T/registry.db"
"$SOURCE_DIR/tools/rfc7878-scenario.sh" --lufctl "$LUFCTL_BIN" \
  --server "127.0.0.1:$LUFD_PORT" --pki "$PKI" \
  >"$T/provision.log" 2>&1 || { cat "$T/provision.log" >&2; fail "provisioning failed"; }

TN=+12025556666
# Control: the good peer certificate works with the CRL in place.
run_ctl peer-ssp1 lookup "$TN"
expect_ok "control: peer-ssp1 lookup"
expect_contains "ssp2.example.com" "control: peer-ssp1 sees the NAPTR"

# Transport rejections. gRPC 1.51 reports a failed handshake to the client
# as UNAVAILABLE (the server closes the socket), so accept either code; what
# matters is that the call fails and discloses nothing.
TRANSPORT_RE='UNAVAILABLE|UNAUTHENTICATED|handshake|[Cc]ertificate|[Ss]ocket closed|connect'
reject_transport() {
  local who="$1" desc="$2"
  run_ctl "$who" lookup "$TN"
  expect_fail_with "$TRANSPORT_RE" "$desc: lookup rejected"
  grep -qF "ssp2.example.com" <<<"$out" && fail "$desc: leaked SED"
  run_ctl "$who" info
  expect_fail_with "$TRANSPORT_RE" "$desc: admin info rejected"
}
reject_transport none "no client certificate"
reject_transport foreign "certificate from an unrelated CA"
reject_transport expired "expired certificate"
reject_transport revoked "revoked certificate (CRL)"

# The server is still fine after all those failed handshakes.
run_ctl peer-ssp1 lookup "$TN"
expect_ok "control after rejections"

# Authorization: a peer may only look up.
run_ctl peer-ssp1 org list
expect_fail_with PERMISSION_DENIED "peer listing orgs"
run_ctl peer-ssp1 number add +12025557777 --registrant iana-en:111 --dg dg-ssp2
expect_fail_with PERMISSION_DENIED "peer adding a number"
run_ctl peer-ssp1 offer accept sg-ssp2 iana-en:111
expect_fail_with PERMISSION_DENIED "peer accepting an offer"

# A registrar only within its own registrants: SSP1's registrar may not
# touch SSP2's number, in any way.
run_ctl registrar-ssp1 number add "$TN" --registrant iana-en:222 --dg dg-ssp2
expect_fail_with PERMISSION_DENIED "registrar-ssp1 overwriting ssp2's TN"
run_ctl registrar-ssp1 number del "$TN"
expect_fail_with 'PERMISSION_DENIED|NOT_FOUND' "registrar-ssp1 deleting ssp2's TN"
run_ctl registrar-ssp1 credential add cred-evil --org iana-en:222 --role admin \
  --san-uri urn:lufd:registrar:ssp1
expect_fail_with PERMISSION_DENIED "registrar-ssp1 minting a credential"
# ...and the TN is untouched.
run_ctl peer-ssp1 lookup "$TN"
expect_ok "TN still served after denied writes"
expect_contains "ssp2.example.com" "TN still has its NAPTR"

# Control for the registrar: SSP2's registrar may write its own TN.
run_ctl registrar-ssp2 number add "$TN" --registrant iana-en:222 --dg dg-ssp2
expect_ok "registrar-ssp2 updating its own TN"

# Fail-closed CRL: with the empty CRL the revoked certificate is accepted
# (proves the rejection above came from the CRL), and with a CRL file that
# is not a CRL lufd refuses to start rather than run without revocation.
stop_lufd
LUFD_CRL_FILE="$PKI/crl-empty.pem"
start_lufd "sqlite:$T/registry.db"
run_ctl revoked lookup "$TN"
expect_ok "revoked cert accepted when the CRL does not list it"
stop_lufd

echo "not a crl" >"$T/bad-crl.pem"
port="$(free_port)"
LUFD_CRL_FILE="$T/bad-crl.pem"
write_config "$T/bad.yaml" "sqlite:$T/registry.db" "$port"
set +e
timeout 20 "$LUFD_BIN" --config "$T/bad.yaml" >"$T/lufd-badcrl.log" 2>&1
brc=$?
set -e
((brc != 0 && brc != 124)) || {
  cat "$T/lufd-badcrl.log" >&2
  fail "lufd with an unreadable CRL: expected a start-up error, got exit $brc"
}
pass "unreadable CRL: lufd refuses to start (exit $brc)"

it_done
