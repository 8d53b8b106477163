#!/usr/bin/env bash
# dev-pki.sh: creates a throw-away development/test PKI for lufd with the
# openssl CLI only.
#
# Usage: tools/dev-pki.sh [--force] [--quiet] OUTDIR
#
# Creates in OUTDIR (keys are 0600, everything else 0644):
#   ca.pem / ca.key               dev CA (EC P-256, 10 years)
#   server.pem / server.key       SAN DNS:localhost, IP:127.0.0.1, IP:::1
#   admin.pem                     SAN URI urn:lufd:admin:admin1
#   peer-ssp1.pem, peer-ssp2.pem  SAN URI urn:lufd:peer:ssp1 / ssp2
#   peer-ssp3.pem                 SAN URI urn:lufd:peer:ssp3 (an unrelated
#                                 third peer for visibility tests)
#   registrar-ssp1.pem, registrar-ssp2.pem
#                                 SAN URI urn:lufd:registrar:ssp1 / ssp2
#   foreign-ca.pem, foreign.pem   a second, unrelated CA and a client cert
#                                 from it (SAN URI urn:lufd:admin:admin1, so
#                                 only the chain is wrong)
#   expired.pem                   dev-CA client cert valid 2020-01-01..02
#                                 (SAN URI urn:lufd:peer:ssp1)
#   revoked.pem                   dev-CA client cert (SAN URI
#                                 urn:lufd:peer:ssp1) revoked in crl.pem
#   crl.pem                       dev-CA CRL revoking revoked.pem
#   crl-empty.pem                 dev-CA CRL revoking nothing
#   <name>.key                    the key of every <name>.pem
#   <name>.spki                   lowercase hex SHA-256 of the DER SPKI
#                                 (what a Credential's spki_sha256 holds)
#   ca-state/                     openssl ca database (serials, index)
#
# Idempotent: if OUTDIR/ca.pem exists nothing is done unless --force (which
# wipes the files this script owns and starts over).
set -euo pipefail

force=0
quiet=0
outdir=""
while (($#)); do
  case "$1" in
    --force) force=1 ;;
    --quiet | -q) quiet=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*) echo "dev-pki.sh: unknown option $1" >&2; exit 2 ;;
    *)
      [[ -z "$outdir" ]] || { echo "dev-pki.sh: one OUTDIR only" >&2; exit 2; }
      outdir="$1"
      ;;
  esac
  shift
done
[[ -n "$outdir" ]] || { echo "usage: dev-pki.sh [--force] OUTDIR" >&2; exit 2; }
command -v openssl >/dev/null || { echo "dev-pki.sh: openssl not found" >&2; exit 1; }

say() { ((quiet)) || echo "$@"; }

mkdir -p "$outdir"
outdir="$(cd "$outdir" && pwd)"

summary() {
  ((quiet)) && return 0
  echo "dev PKI in $outdir:"
  local f
  for f in "$outdir"/*.pem; do
    local name subj san dates
    name="$(basename "$f")"
    if [[ "$name" == crl*.pem ]]; then
      local n
      n="$(openssl crl -in "$f" -noout -text | grep -c 'Serial Number' || true)"
      printf '  %-20s CRL, %s revoked\n' "$name" "$n"
      continue
    fi
    subj="$(openssl x509 -in "$f" -noout -subject -nameopt oneline | sed 's/^subject= *//')"
    san="$(openssl x509 -in "$f" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ' || true)"
    dates="$(openssl x509 -in "$f" -noout -enddate | sed 's/notAfter=//')"
    printf '  %-20s %s %s (until %s)\n' "$name" "$subj" "${san:+[$san]}" "$dates"
  done
}

if [[ -e "$outdir/ca.pem" && $force -eq 0 ]]; then
  say "dev-pki.sh: $outdir/ca.pem exists; keeping the existing PKI (--force to redo)"
  summary
  exit 0
fi

if ((force)); then
  rm -rf "$outdir/ca-state" "$outdir/foreign-ca-state"
  rm -f "$outdir"/*.pem "$outdir"/*.key "$outdir"/*.spki "$outdir"/*.csr
fi

umask 077
tmp="$(mktemp -d)"
final="$outdir"
# Build in a staging directory and move the files into place at the end, so
# an interrupted run never leaves a half PKI that looks complete (ca.pem).
staging="$final/.staging.$$"
outdir="$staging"
rm -rf "$staging"
mkdir -p "$staging"
trap 'rm -rf "$tmp" "$staging"' EXIT

# A minimal `openssl ca` setup per CA. `openssl ca` (rather than x509 -req)
# is used because it can set arbitrary past validity dates (the expired cert)
# and keeps the index that CRLs are generated from.
make_ca_state() {  # dir
  local d="$1"
  mkdir -p "$d/newcerts"
  : >"$d/index.txt"
  echo 1000 >"$d/serial"
  echo 1000 >"$d/crlnumber"
  cat >"$d/ca.cnf" <<EOF
[ ca ]
default_ca = dev_ca
[ dev_ca ]
dir              = $d
database         = \$dir/index.txt
new_certs_dir    = \$dir/newcerts
serial           = \$dir/serial
crlnumber        = \$dir/crlnumber
default_md       = sha256
default_days     = 825
default_crl_days = 3650
policy           = policy_any
unique_subject   = no
copy_extensions  = none
email_in_dn      = no
[ policy_any ]
commonName       = supplied
organizationName = optional
[ crl_ext ]
authorityKeyIdentifier = keyid
EOF
}

new_key() {  # path
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  chmod 600 "$1"
}

make_root() {  # name cn
  local name="$1" cn="$2"
  new_key "$outdir/$name.key"
  openssl req -new -x509 -key "$outdir/$name.key" -out "$outdir/$name.pem" \
    -days 3650 -sha256 -subj "/O=lufd dev/CN=$cn" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
}

# issue CA_NAME STATE_DIR NAME CN EXT SAN [extra openssl ca args...]
issue() {
  local ca="$1" state="$2" name="$3" cn="$4" ext="$5" san="$6"
  shift 6
  new_key "$outdir/$name.key"
  openssl req -new -key "$outdir/$name.key" -out "$tmp/$name.csr" \
    -subj "/O=lufd dev/CN=$cn" 2>/dev/null
  # Per-certificate extension file: keeps ca.cnf free of per-cert state so
  # it can be reused later (e.g. `openssl ca -config ca-state/ca.cnf -revoke`).
  local eku=clientAuth
  [[ "$ext" == server ]] && eku=serverAuth
  printf '%s\n' \
    "basicConstraints = critical, CA:FALSE" \
    "keyUsage = critical, digitalSignature" \
    "extendedKeyUsage = $eku" \
    "subjectKeyIdentifier = hash" \
    "authorityKeyIdentifier = keyid" \
    "subjectAltName = $san" >"$tmp/$name.ext"
  openssl ca -batch -notext \
    -config "$state/ca.cnf" -cert "$outdir/$ca.pem" -keyfile "$outdir/$ca.key" \
    -extfile "$tmp/$name.ext" -in "$tmp/$name.csr" -out "$outdir/$name.pem" "$@" \
    2>"$tmp/$name.err" || { cat "$tmp/$name.err" >&2; return 1; }
  openssl pkey -in "$outdir/$name.key" -pubout -outform DER 2>/dev/null |
    openssl dgst -sha256 -r | cut -d' ' -f1 >"$outdir/$name.spki"
}

state="$outdir/ca-state"
fstate="$outdir/foreign-ca-state"
make_ca_state "$state"
make_ca_state "$fstate"

make_root ca "lufd dev CA"
make_root foreign-ca "unrelated CA"

issue ca "$state" server localhost server "DNS:localhost, IP:127.0.0.1, IP:::1" -days 825
issue ca "$state" admin admin1 client "URI:urn:lufd:admin:admin1" -days 825
issue ca "$state" peer-ssp1 peer-ssp1 client "URI:urn:lufd:peer:ssp1" -days 825
issue ca "$state" peer-ssp2 peer-ssp2 client "URI:urn:lufd:peer:ssp2" -days 825
issue ca "$state" peer-ssp3 peer-ssp3 client "URI:urn:lufd:peer:ssp3" -days 825
issue ca "$state" registrar-ssp1 registrar-ssp1 client "URI:urn:lufd:registrar:ssp1" -days 825
issue ca "$state" registrar-ssp2 registrar-ssp2 client "URI:urn:lufd:registrar:ssp2" -days 825
issue ca "$state" expired expired client "URI:urn:lufd:peer:ssp1" \
  -startdate 20200101000000Z -enddate 20200102000000Z
issue ca "$state" revoked revoked client "URI:urn:lufd:peer:ssp1" -days 825
issue foreign-ca "$fstate" foreign foreign client "URI:urn:lufd:admin:admin1" -days 825

# The empty CRL first (nothing revoked yet), then revoke and issue crl.pem.
openssl ca -batch -config "$state/ca.cnf" -cert "$outdir/ca.pem" -keyfile "$outdir/ca.key" \
  -gencrl -crlexts crl_ext -out "$outdir/crl-empty.pem" 2>/dev/null
openssl ca -batch -config "$state/ca.cnf" -cert "$outdir/ca.pem" -keyfile "$outdir/ca.key" \
  -revoke "$outdir/revoked.pem" -crl_reason keyCompromise 2>/dev/null
openssl ca -batch -config "$state/ca.cnf" -cert "$outdir/ca.pem" -keyfile "$outdir/ca.key" \
  -gencrl -crlexts crl_ext -out "$outdir/crl.pem" 2>/dev/null

chmod 644 "$outdir"/*.pem "$outdir"/*.spki
chmod 600 "$outdir"/*.key

# Self-check: what the server will be asked to accept and reject.
openssl verify -CAfile "$outdir/ca.pem" "$outdir/server.pem" "$outdir/admin.pem" >/dev/null
if openssl verify -CAfile "$outdir/ca.pem" "$outdir/foreign.pem" >/dev/null 2>&1; then
  echo "dev-pki.sh: self-check failed: foreign.pem verifies against ca.pem" >&2; exit 1
fi
if openssl verify -CAfile "$outdir/ca.pem" "$outdir/expired.pem" >/dev/null 2>&1; then
  echo "dev-pki.sh: self-check failed: expired.pem is not expired" >&2; exit 1
fi
if openssl verify -crl_check -CAfile "$outdir/ca.pem" -CRLfile "$outdir/crl.pem" \
  "$outdir/revoked.pem" >/dev/null 2>&1; then
  echo "dev-pki.sh: self-check failed: revoked.pem not revoked by crl.pem" >&2; exit 1
fi
openssl verify -crl_check -CAfile "$outdir/ca.pem" -CRLfile "$outdir/crl-empty.pem" \
  "$outdir/revoked.pem" >/dev/null

for d in ca-state foreign-ca-state; do
  sed -i "s|^dir *= .*|dir              = $final/$d|" "$outdir/$d/ca.cnf"
done
# ca.pem last: its presence marks a complete PKI.
mv -f "$outdir"/*.key "$outdir"/*.spki "$final"/
rm -rf "$final/ca-state" "$final/foreign-ca-state"
mv "$outdir/ca-state" "$outdir/foreign-ca-state" "$final"/
for f in "$outdir"/*.pem; do
  [[ "$f" == */ca.pem ]] || mv -f "$f" "$final"/
done
mv -f "$outdir/ca.pem" "$final/ca.pem"
outdir="$final"
summary
