#!/usr/bin/env bash
# DNS over TLS protocol versions against a real lufd (openssl s_client):
#   default (dns.dot.min_tls_version "1.3"): a TLS 1.2-only client gets no
#     handshake, TLS 1.3 does; the gRPC port refuses TLS 1.2 as well;
#   min_tls_version "1.2": TLS 1.2 is accepted on DoT, also after the DoT
#     certificate is reloaded (the reloaded context is made after the gRPC
#     port's process-wide TLS-1.3-only policy), while the gRPC port still
#     refuses TLS 1.2.
IT_NAME=dot_tls
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

it_need_tools dig openssl
ZONE=e164.arpa.
mkdir -m 700 "$T/keys"
cp "$PKI/server.pem" "$T/dot.pem"
cp "$PKI/server.key" "$T/dot.key"
chmod 600 "$T/dot.key"
DNS_PORT="$(it_free_dns_port)"
DOT_PORT="$(it_free_port)"

dot_yaml() {  # MIN-TLS-VERSION-LINE
  cat <<EOT
dns:
  listen:
    - "127.0.0.1:$DNS_PORT"
  workers: 1
  dot:
    listen: "127.0.0.1:$DOT_PORT"
    client_cert: "optional"
$1
    tls:
      cert_file: "$T/dot.pem"
      key_file: "$T/dot.key"
      client_ca_file: "$PKI/ca.pem"
      reload_interval: "1s"
  zones:
    - name: "$ZONE"
  dnssec:
    key_dir: "$T/keys"
EOT
}

# handshake PORT VERSION-FLAG [ALPN]: the negotiated protocol ("TLSv1.3"), or
# nothing when the handshake failed.
handshake() {
  local port="$1" flag="$2" alpn="${3:-}"
  local -a extra=()
  [[ -n "$alpn" ]] && extra=(-alpn "$alpn" -cert "$PKI/peer-ssp1.pem" -key "$PKI/peer-ssp1.key")
  printf '' | timeout 10 openssl s_client -connect "127.0.0.1:$port" \
    -CAfile "$PKI/ca.pem" "$flag" "${extra[@]}" 2>/dev/null |
    sed -n 's/^New, \([^,]*\), Cipher is .*/\1/p' | grep -v NONE | head -n 1 || true
}

expect_versions() {  # DESC WANT-1.2 (yes|no)
  local p12 p13 g12
  p12="$(handshake "$DOT_PORT" -tls1_2)"
  p13="$(handshake "$DOT_PORT" -tls1_3)"
  g12="$(handshake "$LUFD_PORT" -tls1_2 h2)"
  [[ "$p13" == TLSv1.3 ]] || fail "$1: DoT TLS 1.3 handshake failed ('$p13')"
  if [[ "$2" == yes ]]; then
    [[ "$p12" == TLSv1.2 ]] || fail "$1: DoT TLS 1.2 handshake refused ('$p12')"
  else
    [[ -z "$p12" ]] || fail "$1: DoT accepted a TLS 1.2 handshake ($p12)"
  fi
  [[ -z "$g12" ]] || fail "$1: the gRPC port accepted TLS 1.2 ($g12)"
  pass "$1: DoT TLS 1.3 yes, TLS 1.2 $2; gRPC TLS 1.2 no"
}

# --- default: TLS 1.3 only ---------------------------------------------------
LUFD_CONFIG_TAIL="$(dot_yaml "")"
start_lufd "sqlite:$T/registry.db"
wait_dns "$DNS_PORT" "$ZONE" SOA 30 || { echo "$dout" >&2; fail "no DNS on :$DNS_PORT"; }
expect_versions "default" no
stop_lufd

# --- min_tls_version "1.2": TLS 1.2 allowed on DoT only --------------------------
LUFD_CONFIG_TAIL="$(dot_yaml '    min_tls_version: "1.2"')"
start_lufd "sqlite:$T/registry.db"
wait_dns "$DNS_PORT" "$ZONE" SOA 30 || { echo "$dout" >&2; fail "no DNS on :$DNS_PORT"; }
expect_versions "min_tls_version 1.2" yes

# Rotate the DoT files (new inode): the DoT context is rebuilt.
cp "$T/dot.pem" "$T/dot.pem.new" && mv "$T/dot.pem.new" "$T/dot.pem"
for ((i = 0; i < 100; i++)); do
  grep -q "DoT certificates reloaded" "$T/lufd.log" && break
  sleep 0.1
done
grep -q "DoT certificates reloaded" "$T/lufd.log" || fail "DoT certificates were not reloaded"
expect_versions "min_tls_version 1.2 after a DoT reload" yes

it_alive "$LUFD_PID" || fail "lufd died"
it_done
