#!/usr/bin/env bash
# gRPC connections without streams are closed after grpc.idle_timeout
# (issue 10: "an idle timeout for connections without streams"). A client
# that completes mutual TLS (peer-ssp1's certificate, ALPN h2) and the
# HTTP/2 preface, then opens no stream, gets a GOAWAY and the connection is
# closed within the timeout plus slack; with the timeout at 2 s that is
# long before the default (5 m). A lufd with the connection idle timeout
# not applied keeps it open: this fails.
IT_NAME=grpc_idle
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init
it_need_tools python3

start_lufd "sqlite:$T/registry.db" '  idle_timeout: "2s"'
out="$(timeout 30 python3 - "$LUFD_PORT" "$PKI" <<'PY'
import socket, ssl, struct, sys, time
port, pki = int(sys.argv[1]), sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(pki + "/ca.pem")
ctx.load_cert_chain(pki + "/peer-ssp1.pem", pki + "/peer-ssp1.key")
ctx.check_hostname = False
ctx.set_alpn_protocols(["h2"])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20))
if s.selected_alpn_protocol() != "h2":
    print("no-h2"); sys.exit(0)
start = time.time()
# The client preface and an empty SETTINGS frame; then nothing.
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + struct.pack(">I", 0)[1:] +
          bytes([4, 0]) + struct.pack(">I", 0))
goaway = None
buf = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            if buf[3] == 7 and goaway is None:
                goaway = time.time() - start
            buf = buf[9 + n:]
except (OSError, ssl.SSLError):
    pass
print("goaway=%s closed=%.2f" % ("%.2f" % goaway if goaway else "none",
                                 time.time() - start))
PY
)"
it_log "idle client: $out"
[[ "$out" != no-h2 ]] || fail "lufd did not negotiate h2"
closed="$(sed -n 's/.*closed=\([0-9.]*\).*/\1/p' <<<"$out")"
goaway="$(sed -n 's/.*goaway=\([0-9.a-z]*\).*/\1/p' <<<"$out")"
[[ "$goaway" != none ]] || fail "no GOAWAY before the close ($out)"
awk -v c="$closed" 'BEGIN{exit !(c >= 1.5 && c <= 12)}' ||
  fail "idle connection closed after ${closed} s, want about grpc.idle_timeout (2 s)"
pass "a connection without streams got GOAWAY at ${goaway} s and was closed at ${closed} s (idle_timeout 2s)"
run_ctl admin health
expect_ok "lufctl served afterwards"
stop_lufd
it_done
