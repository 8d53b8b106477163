#!/usr/bin/env bash
# SIGHUP re-reads the DoT certificate at once: with dns.dot.tls.
# reload_interval "1h" (no periodic re-read during the test), a certificate
# rotated on disk (new file, serial 4242, same key) is not served until
# SIGHUP, and is served right after it; the server keeps answering DNS.
IT_NAME=reload_dot
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
LUFD_CONFIG_TAIL="dns:
  listen:
    - \"127.0.0.1:$DNS_PORT\"
  workers: 1
  dot:
    listen: \"127.0.0.1:$DOT_PORT\"
    client_cert: \"optional\"
    tls:
      cert_file: \"$T/dot.pem\"
      key_file: \"$T/dot.key\"
      client_ca_file: \"$PKI/ca.pem\"
      reload_interval: \"1h\"
  zones:
    - name: \"$ZONE\"
  dnssec:
    key_dir: \"$T/keys\""

# served_serial: the serial of the certificate DoT presents ("" on failure).
served_serial() {
  printf '' | timeout 10 openssl s_client -connect "127.0.0.1:$DOT_PORT" \
    -CAfile "$PKI/ca.pem" 2>/dev/null | openssl x509 -noout -serial 2>/dev/null |
    sed 's/^serial=//' || true
}

start_lufd "sqlite:$T/registry.db"
wait_dns "$DNS_PORT" "$ZONE" SOA 30 || { echo "$dout" >&2; fail "no DNS on :$DNS_PORT"; }
before="$(served_serial)"
[[ -n "$before" ]] || fail "no DoT handshake"

# A new certificate for the same key, from the dev CA, serial 4242 (0x1092).
openssl req -new -key "$T/dot.key" -subj "/CN=localhost" -out "$T/new.csr" 2>/dev/null
openssl x509 -req -in "$T/new.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" \
  -set_serial 4242 -days 2 -out "$T/dot.pem.new" \
  -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n') 2>/dev/null ||
  fail "could not issue the rotated certificate"
mv "$T/dot.pem.new" "$T/dot.pem"
sleep 1.5  # Longer than the loop's tick: a periodic check would see it now.
[[ "$(served_serial)" == "$before" ]] || fail "rotated before SIGHUP (reload_interval 1h)"
grep -q "DoT certificates reloaded" "$T/lufd.log" && fail "reloaded before SIGHUP"
pass "rotated file not picked up on its own (serial $before)"

kill -HUP "$LUFD_PID"
for ((i = 0; i < 50; i++)); do
  grep -q "DoT certificates reloaded" "$T/lufd.log" && break
  sleep 0.1
done
grep -q "DoT certificates reloaded" "$T/lufd.log" || fail "SIGHUP did not reload DoT within 5 s"
after="$(served_serial)"
[[ "$after" == 1092 ]] || fail "DoT serves serial '$after' after SIGHUP, want 1092"
wait_dns "$DNS_PORT" "$ZONE" SOA 5 || fail "DNS stopped answering"
pass "SIGHUP: DoT serves the rotated certificate (serial $after)"

it_alive "$LUFD_PID" || fail "lufd died"
it_done
