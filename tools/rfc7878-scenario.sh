#!/usr/bin/env bash
# rfc7878-scenario.sh: provisions the RFC 7878 section 10 example registry
# into a running lufd through lufctl over mTLS. Used by tools/quickstart.sh
# and by the integration tests, so the lufctl command lines live in one place.
#
# Usage: tools/rfc7878-scenario.sh --lufctl BIN --server HOST:PORT --pki DIR
#                                  [--stage all|provision|accept]
#
#   provision  orgs, credentials, destination group, identifiers, record,
#              SED group and the offer to SSP1 (pending)
#   accept     SSP1's registrar accepts the offer
#   all        both (default)
#
# The registry it builds (keys as in server/core/keys.h):
#   org iana-en:111 "SSP1"  roles peer, registrar
#   org iana-en:222 "SSP2"  roles registrant, registrar, peer (a registrar
#                           provisions its own org's data; no org may name
#                           itself as registrar_id)
#   org iana-en:333 "SSP3"  role peer (unrelated: nothing is offered to it)
#   credentials: cred-registrar-ssp1/-ssp2 (role registrar), cred-peer-ssp1,
#                cred-peer-ssp2, cred-peer-ssp3 (role peer), bound by SAN URI
#                only (not SPKI) to the certificates tools/dev-pki.sh issues:
#                the test PKI's expired/revoked certificates carry
#                urn:lufd:peer:ssp1 too, so when they are refused it is the
#                expiry/CRL check that refused them, not a missing credential
#   dest group dg-ssp2; TN +12025556666, range +12026660000..+12026669999,
#   prefix +1202777, all on dg-ssp2, registrant iana-en:222
#   SED record rec-ssp2-sip: NAPTR 10 100 "u" "E2U+sip"
#                            "!^(.*)$!sip:\1@ssp2.example.com!" ""
#   SED group sg-ssp2 (in service) on dg-ssp2 with rec-ssp2-sip,
#   offered to iana-en:111
#
# Who does what shows the roles: the admin creates orgs and credentials,
# SSP2's registrar provisions SSP2's data and the offer, SSP1's registrar
# accepts it. Re-running is safe: every add is an upsert (the offer is
# re-created pending, then accepted again by the accept stage).
set -euo pipefail

lufctl=""
server=""
pki=""
stage=all
while (($#)); do
  case "$1" in
    --lufctl) lufctl="$2"; shift ;;
    --server) server="$2"; shift ;;
    --pki) pki="$2"; shift ;;
    --stage) stage="$2"; shift ;;
    *) echo "rfc7878-scenario.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[[ -n "$lufctl" && -n "$server" && -n "$pki" ]] || {
  echo "usage: rfc7878-scenario.sh --lufctl BIN --server HOST:PORT --pki DIR [--stage all|provision|accept]" >&2
  exit 2
}
case "$stage" in all | provision | accept) ;; *) echo "bad --stage $stage" >&2; exit 2 ;; esac

# as WHO lufctl-args...: runs lufctl with WHO's certificate from the PKI.
as() {
  local who="$1"
  shift
  echo "+ lufctl [$who] $*" >&2
  "$lufctl" --server "$server" --ca "$pki/ca.pem" \
    --cert "$pki/$who.pem" --key "$pki/$who.key" "$@"
}

NAPTR_REGEXP='!^(.*)$!sip:\1@ssp2.example.com!'

provision() {
  # Organizations and credentials: admin only.
  as admin org add iana-en:111 --name SSP1 --role peer --role registrar
  as admin org add iana-en:222 --name SSP2 --role registrant --role registrar \
    --role peer
  as admin org add iana-en:333 --name SSP3 --role peer
  as admin credential add cred-registrar-ssp1 --org iana-en:111 --role registrar \
    --san-uri urn:lufd:registrar:ssp1
  as admin credential add cred-registrar-ssp2 --org iana-en:222 --role registrar \
    --san-uri urn:lufd:registrar:ssp2
  as admin credential add cred-peer-ssp1 --org iana-en:111 --role peer \
    --san-uri urn:lufd:peer:ssp1
  as admin credential add cred-peer-ssp2 --org iana-en:222 --role peer \
    --san-uri urn:lufd:peer:ssp2
  as admin credential add cred-peer-ssp3 --org iana-en:333 --role peer \
    --san-uri urn:lufd:peer:ssp3

  # The number space is allocated by the registry (holdings): a registrar
  # provisions numbers only inside its registrants' blocks. SSP2 holds the
  # blocks of the RFC 7878 example (+12025556666 within +1202555*) and
  # +1303* (the integration tests' bulk numbers).
  as admin holding add '+1202555*' --registrant iana-en:222
  as admin holding add +12026660000..+12026669999 --registrant iana-en:222
  as admin holding add '+1202777*' --registrant iana-en:222
  as admin holding add '+1303*' --registrant iana-en:222

  # SSP2's data, provisioned by SSP2's registrar.
  as registrar-ssp2 dg add dg-ssp2 --registrant iana-en:222
  as registrar-ssp2 number add +12025556666 --registrant iana-en:222 --dg dg-ssp2
  as registrar-ssp2 range add +12026660000 +12026669999 --registrant iana-en:222 \
    --dg dg-ssp2
  as registrar-ssp2 prefix add +1202777 --registrant iana-en:222 --dg dg-ssp2
  as registrar-ssp2 record add rec-ssp2-sip --registrant iana-en:222 --ttl 3600 \
    --naptr "10 100 \"u\" \"E2U+sip\" \"$NAPTR_REGEXP\" \"\""
  as registrar-ssp2 sedgroup add sg-ssp2 --registrant iana-en:222 --dg dg-ssp2 \
    --record rec-ssp2-sip --in-service
  as registrar-ssp2 offer add sg-ssp2 iana-en:111
}

accept() {
  as registrar-ssp1 offer accept sg-ssp2 iana-en:111
}

case "$stage" in
  all) provision; accept ;;
  provision) provision ;;
  accept) accept ;;
esac
echo "rfc7878-scenario.sh: stage '$stage' done" >&2
