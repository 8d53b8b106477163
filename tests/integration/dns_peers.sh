#!/usr/bin/env bash
# Peer identity on DNS, against a real lufd provisioned with lufctl: SSP2
# offers SED group sg-ssp2 (not public; NAPTR to ssp2.example.com) to SSP1,
# which accepts; sg-public (NAPTR to public.example.com) is public. Zones:
# e164.arpa. (anonymous sees public groups) and priv.enum. (private:
# anonymous is REFUSED).
#   TSIG (dig -y hmac-sha256:NAME:SECRET), keys made with `lufctl credential
#   add --tsig-name --tsig-secret`:
#     SSP1's key  -> SSP1's view (ssp2.example.com), signed response;
#     SSP3's key  -> SSP3's view (public only: nothing is offered to SSP3);
#     SSP1's name with a wrong secret -> NOTAUTH/BADSIG, no answer;
#     an unknown key name -> NOTAUTH/BADKEY, no answer;
#     a disabled credential -> BADKEY;
#   DoT (kdig +tls, client_cert optional, CRL configured):
#     SSP1's client certificate -> SSP1's view; no certificate -> public
#     view; a certificate from an unrelated CA -> handshake refused (kdig
#     does not even offer it: public view); a revoked certificate -> no
#     answer;
#   anonymous UDP -> public view only; the private zone refuses anonymous
#   queries and answers TSIG-identified ones.
IT_NAME=dns_peers
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

it_need_tools dig kdig
ZONE=e164.arpa.
PRIV=priv.enum.

mkdir -m 700 "$T/keys"
DNS_PORT="$(it_free_dns_port)"
DOT_PORT="$(it_free_port)"
LUFD_CONFIG_TAIL="$(lufd_dot_yaml "$DNS_PORT" "$DOT_PORT" "$T/keys" "$ZONE" "$PRIV:private")"
start_lufd "sqlite:$T/registry.db"
wait_dns "$DNS_PORT" "$ZONE" SOA 30 || {
  echo "$dout" >&2
  fail "lufd does not answer DNS on 127.0.0.1:$DNS_PORT"
}
pass "lufd serves DNS on :$DNS_PORT and DoT on :$DOT_PORT"

provision_rfc7878
run_ctl registrar-ssp2 record add rec-public --registrant iana-en:222 --ttl 3600 \
  --naptr '10 100 "u" "E2U+web:http" "!^.*$!http://public.example.com/!" ""'
expect_ok "public record"
run_ctl registrar-ssp2 sedgroup add sg-public --registrant iana-en:222 \
  --dg dg-ssp2 --record rec-public --public --in-service
expect_ok "public SED group"

add_tsig_peers
WRONG="$(head -c 32 /dev/urandom | base64 -w0)"

TN_NAME="$(enum_name +12025556666 "$ZONE")"
TN_PRIV="$(enum_name +12025556666 "$PRIV")"

# ask DESC ARGS...: dig at lufd (UDP); $dout, $drc.
ask() { dns_dig "$DNS_PORT" +norec "$@"; }
sees_peer() { grep -q 'ssp2\.example\.com' <<<"$dout"; }
sees_public() { grep -q 'public\.example\.com' <<<"$dout"; }
want_status() {  # RCODE DESC
  [[ "$(dig_status)" == "$1" ]] || { echo "$dout" >&2; fail "$2: status $(dig_status), want $1"; }
}

# --- anonymous -------------------------------------------------------------------
ask "$TN_NAME" NAPTR
want_status NOERROR "anonymous"
sees_public && ! sees_peer || { echo "$dout" >&2; fail "anonymous: want the public view only"; }
pass "anonymous UDP: public view only"
ask "$TN_PRIV" NAPTR
want_status REFUSED "anonymous in the private zone"
pass "private zone refuses anonymous queries"

# --- TSIG ------------------------------------------------------------------------
# The view change reaches lufd's view within the follower's poll; retry
# briefly for the first signed query.
for ((i = 0; i < 50; i++)); do
  ask -y "hmac-sha256:ssp1-key.:$SECRET1" "$TN_NAME" NAPTR
  sees_peer && break
  sleep 0.1
done
want_status NOERROR "TSIG SSP1"
sees_peer || { echo "$dout" >&2; fail "TSIG SSP1 does not see the offered group"; }
# dig checks the response's TSIG itself and says so when it fails.
grep -qiE "couldn't verify|verify failure|tsig validation" <<<"$dout" &&
  { echo "$dout" >&2; fail "TSIG SSP1: dig could not verify the signed response"; }
grep -qE '^ssp1-key\.[[:space:]].*TSIG[[:space:]]+hmac-sha256\.' <<<"$dout" ||
  { echo "$dout" >&2; fail "TSIG SSP1: response not signed"; }
pass "TSIG SSP1: peer view, signed response"

ask -y "hmac-sha256:ssp3-key.:$SECRET3" "$TN_NAME" NAPTR
want_status NOERROR "TSIG SSP3"
sees_public && ! sees_peer || { echo "$dout" >&2; fail "TSIG SSP3: want the public view only"; }
pass "TSIG SSP3: its own view (nothing offered to it)"

ask -y "hmac-sha256:ssp1-key.:$SECRET1" "$TN_PRIV" NAPTR
want_status NOERROR "TSIG SSP1 in the private zone"
sees_peer || { echo "$dout" >&2; fail "TSIG SSP1: private zone answer lacks the peer view"; }
pass "private zone answers a TSIG-identified peer"

ask -y "hmac-sha256:ssp1-key.:$WRONG" "$TN_NAME" NAPTR
want_status NOTAUTH "wrong secret"
grep -q 'BADSIG' <<<"$dout" || { echo "$dout" >&2; fail "wrong secret: no BADSIG"; }
sees_peer || sees_public && { echo "$dout" >&2; fail "wrong secret: answer leaked"; }
pass "wrong secret: NOTAUTH/BADSIG, no answer"

ask -y "hmac-sha256:nobody-key.:$SECRET1" "$TN_NAME" NAPTR
want_status NOTAUTH "unknown key"
grep -q 'BADKEY' <<<"$dout" || { echo "$dout" >&2; fail "unknown key: no BADKEY"; }
sees_peer || sees_public && { echo "$dout" >&2; fail "unknown key: answer leaked"; }
pass "unknown key: NOTAUTH/BADKEY, no answer"

# --- DoT -------------------------------------------------------------------------
# kdig_tls (lib.sh) to this lufd's DoT port; $dout, $drc.
kdig_dot() { kdig_tls "$DOT_PORT" "$@"; }
kdig_status() { sed -n 's/.*status: \([A-Z0-9]*\);.*/\1/p' <<<"$dout" | head -n 1; }

kdig_dot +tls-certfile="$PKI/peer-ssp1.pem" +tls-keyfile="$PKI/peer-ssp1.key" "$TN_NAME" NAPTR
[[ "$(kdig_status)" == NOERROR ]] || { echo "$dout" >&2; fail "DoT SSP1: no NOERROR answer"; }
sees_peer || { echo "$dout" >&2; fail "DoT SSP1 does not see the offered group"; }
pass "DoT with SSP1's client certificate: peer view"

kdig_dot "$TN_NAME" NAPTR
[[ "$(kdig_status)" == NOERROR ]] || { echo "$dout" >&2; fail "DoT anonymous: no answer"; }
sees_public && ! sees_peer || { echo "$dout" >&2; fail "DoT without a certificate: want the public view only"; }
pass "DoT without a client certificate: public view"

kdig_dot +tls-certfile="$PKI/peer-ssp1.pem" +tls-keyfile="$PKI/peer-ssp1.key" "$TN_PRIV" NAPTR
[[ "$(kdig_status)" == NOERROR ]] && sees_peer ||
  { echo "$dout" >&2; fail "DoT SSP1 in the private zone"; }
kdig_dot "$TN_PRIV" NAPTR
[[ "$(kdig_status)" == REFUSED ]] || { echo "$dout" >&2; fail "DoT anonymous in the private zone: want REFUSED"; }
pass "private zone over DoT: peer answered, anonymous refused"

# kdig (GnuTLS) offers no certificate that the server's CA list does not
# name, so with client_cert optional it is simply anonymous...
kdig_dot +tls-certfile="$PKI/foreign.pem" +tls-keyfile="$PKI/foreign.key" "$TN_NAME" NAPTR
! sees_peer || { echo "$dout" >&2; fail "DoT with a foreign-CA certificate got the peer view"; }
# ...while a client that sends it anyway (openssl s_client) is refused by
# the handshake.
set +e
out="$(printf '' | timeout 10 openssl s_client -connect "127.0.0.1:$DOT_PORT" \
  -CAfile "$PKI/ca.pem" -cert "$PKI/foreign.pem" -key "$PKI/foreign.key" -ign_eof 2>&1)"
set -e
grep -qiE 'alert (unknown ca|bad certificate|certificate unknown)|alert number 4[28]' <<<"$out" ||
  { echo "$out" >&2; fail "DoT: a foreign-CA client certificate was not refused by the handshake"; }
pass "DoT with a certificate from an unrelated CA: never the peer view; handshake refused"

kdig_dot +tls-certfile="$PKI/revoked.pem" +tls-keyfile="$PKI/revoked.key" "$TN_NAME" NAPTR
[[ -z "$(kdig_status)" ]] && ! sees_peer && ! sees_public ||
  { echo "$dout" >&2; fail "DoT with a revoked certificate got an answer"; }
pass "DoT with a revoked certificate (CRL): no answer"

# --- a disabled TSIG credential stops working at once --------------------------
run_ctl admin credential disable cred-tsig-ssp1
if ((rc == 0)); then
  for ((i = 0; i < 50; i++)); do
    ask -y "hmac-sha256:ssp1-key.:$SECRET1" "$TN_NAME" NAPTR
    [[ "$(dig_status)" == NOTAUTH ]] && break
    sleep 0.1
  done
  want_status NOTAUTH "disabled credential"
  grep -q 'BADKEY' <<<"$dout" || { echo "$dout" >&2; fail "disabled credential: no BADKEY"; }
  pass "disabled TSIG credential: BADKEY"
else
  it_log "lufctl has no 'credential disable' ($out); skipped that check"
fi

it_alive "$LUFD_PID" || fail "lufd died"
it_done
