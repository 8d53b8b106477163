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
reject_transport() {  # WHO DESC [REGEX]
  local who="$1" desc="$2" re="${3:-$TRANSPORT_RE}"
  run_ctl "$who" lookup "$TN"
  expect_fail_with "$re" "$desc: lookup rejected"
  grep -qF "ssp2.example.com" <<<"$out" && fail "$desc: leaked SED"
  run_ctl "$who" info
  expect_fail_with "$re" "$desc: admin info rejected"
}
# lufctl refuses to connect without a certificate, so the no-certificate
# case is a raw TLS client: the server must abort the handshake (TLS 1.3:
# "alert certificate required"; 1.2: handshake failure).
set +e
out="$(printf 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' |
  timeout 10 openssl s_client -connect "127.0.0.1:$LUFD_PORT" -CAfile "$PKI/ca.pem" \
    -alpn h2 -ign_eof 2>&1)"
rc=$?
set -e
if ! grep -qiE 'alert|handshake failure' <<<"$out" && ((rc == 0)); then
  echo "$out" >&2
  fail "no client certificate: TLS handshake was not rejected"
fi
pass "no client certificate: handshake rejected"

# TLS 1.3 only: a valid client certificate over TLS 1.2 must not get a
# handshake (gRPC 1.51 would allow 1.2; lufd excludes it process-wide).
tls_handshake() {  # version-flag: prints the negotiated protocol, or nothing
  printf '' | timeout 10 openssl s_client -connect "127.0.0.1:$LUFD_PORT" \
    -CAfile "$PKI/ca.pem" -cert "$PKI/peer-ssp1.pem" -key "$PKI/peer-ssp1.key" \
    -alpn h2 "$1" 2>/dev/null | sed -n 's/^New, \([^,]*\), Cipher is .*/\1/p' |
    grep -v NONE | head -n 1
}
proto12="$(tls_handshake -tls1_2 || true)"
[[ -z "$proto12" ]] ||
  fail "TLS 1.2 handshake with a valid client certificate succeeded ($proto12)"
pass "TLS 1.2 refused"
proto13="$(tls_handshake -tls1_3 || true)"
[[ "$proto13" == "TLSv1.3" ]] || fail "TLS 1.3 handshake failed ('$proto13')"
pass "TLS 1.3 accepted"
run_ctl none lookup "$TN"
expect_fail_with 'cert' "lufctl without a certificate refuses to connect"
reject_transport foreign "certificate from an unrelated CA"
reject_transport expired "expired certificate"
# The chain of a revoked certificate is fine, so the handshake succeeds and
# the per-call CRL check refuses it.
reject_transport revoked "revoked certificate (CRL)" 'UNAUTHENTICATED: certificate revoked'


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
# (so the rejection above came from the CRL).
stop_lufd
LUFD_CRL_FILE="$PKI/crl-empty.pem"
start_lufd "sqlite:$T/registry.db"
run_ctl revoked lookup "$TN"
expect_ok "revoked cert accepted when the CRL does not list it"
stop_lufd

# A CRL file with no CRL of our CA in it (garbage, or only the unrelated
# CA's CRL): lufd must not serve without revocation. It may refuse to start,
# or start and deny every call; it must never let the revoked or a good
# certificate through.
openssl ca -batch -config "$PKI/foreign-ca-state/ca.cnf" -cert "$PKI/foreign-ca.pem" \
  -keyfile "$PKI/foreign-ca.key" -gencrl -out "$T/foreign-crl.pem" 2>/dev/null
echo "not a crl" >"$T/garbage-crl.pem"
for bad in garbage-crl foreign-crl; do
  LUFD_CRL_FILE="$T/$bad.pem"
  write_config "$T/$bad.yaml" "sqlite:$T/registry.db" 0
  rm -f "$T/$bad.port"
  "$LUFD_BIN" --config "$T/$bad.yaml" --port-file "$T/$bad.port" \
    >"$T/lufd-$bad.log" 2>&1 &
  LUFD_PID=$!
  _IT_PIDS+=("$LUFD_PID")
  started=0
  for ((i = 0; i < 150; i++)); do  # 15 s
    it_alive "$LUFD_PID" || break
    [[ -s "$T/$bad.port" ]] && { started=1; break; }
    sleep 0.1
  done
  if ((started)); then
    LUFD_PORT="$(tr -dc 0-9 <"$T/$bad.port")"
    for who in peer-ssp1 revoked admin; do
      run_ctl "$who" lookup "$TN"
      expect_fail_with 'UNAUTHENTICATED|UNAVAILABLE' "$bad: $who denied (fail-closed)"
    done
    stop_lufd
  else
    set +e
    wait "$LUFD_PID"
    brc=$?
    set -e
    ((brc != 0)) || fail "$bad: lufd exited 0 without serving"
    pass "$bad: lufd refuses to start (exit $brc)"
  fi
done
LUFD_CRL_FILE=""

it_done
