#!/usr/bin/env bash
# DNS TCP/DoT slots under an anonymous connection flood (issue 10): 40
# anonymous connections from 8 source addresses (127.0.3.1-8, 5 each, the
# per-source cap) hold every slot of a lufd with max_tcp_connections 40 and
# keep them busy with a query a second. With tcp_reserved_for_peers 8 they
# can hold 32 at most: each connection beyond that evicts the anonymous
# connection idle the longest. A DoT peer (client certificate) and then a
# TSIG peer over TCP are still answered with their peer view during the
# flood; the flooder sees 8+ of its connections closed; lufd's counters say
# so at stop. On a lufd without reserved slots, the peers' connections are
# refused (the flood holds all 40).
IT_NAME=dns_tcp_slots
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init

it_need_tools dig kdig python3
ZONE=e164.arpa.
mkdir -m 700 "$T/keys"
DNS_PORT="$(it_free_dns_port)"
DOT_PORT="$(it_free_port)"
LUFD_CONFIG_TAIL="$(lufd_dot_yaml "$DNS_PORT" "$DOT_PORT" "$T/keys" "$ZONE")
  max_tcp_connections: 40
  max_tcp_per_source: 5
  tcp_reserved_for_peers: 8
  tcp_idle_timeout: \"30s\""
start_lufd "sqlite:$T/registry.db"
wait_dns "$DNS_PORT" "$ZONE" SOA 30 || { echo "$dout" >&2; fail "no DNS on :$DNS_PORT"; }
provision_rfc7878
add_tsig_peers
TN_NAME="$(enum_name +12025556666 "$ZONE")"
sees_peer() { grep -q 'ssp2\.example\.com' <<<"$dout"; }
# The TSIG key reaches lufd's view within the follower's poll.
for ((i = 0; i < 50; i++)); do
  dns_dig "$DNS_PORT" +norec -y "hmac-sha256:ssp1-key.:$SECRET1" "$TN_NAME" NAPTR
  sees_peer && break
  sleep 0.1
done
sees_peer || { echo "$dout" >&2; fail "TSIG peer not answered before the flood"; }

# The flooder: 40 connections, one query each at once, then one a second on
# every connection still open, for FLOOD_S seconds; it writes how many it
# opened, how many lufd closed and how many stayed open.
FLOOD_S=12
python3 - "$DNS_PORT" "$FLOOD_S" "$T/flood.out" <<'PY' &
import socket, struct, sys, time
port, seconds, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
def query(qid):
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l for l in [b"e164", b"arpa"]) + b"\0"
    q += struct.pack(">HH", 6, 1)  # SOA IN
    return struct.pack(">H", len(q)) + q
conns = []
for src in range(1, 9):
    for _ in range(5):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.3.%d" % src, 0))
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
            conns.append(s)
        except OSError:
            s.close()
opened, closed, qid = len(conns), 0, 0
end = time.time() + seconds
while time.time() < end and conns:
    alive = []
    for s in conns:
        qid = (qid + 1) & 0xffff
        try:
            s.sendall(query(qid))
            head = s.recv(2)
            if len(head) < 2:
                raise OSError("closed")
            (n,) = struct.unpack(">H", head)
            got = b""
            while len(got) < n:
                chunk = s.recv(n - len(got))
                if not chunk:
                    raise OSError("closed")
                got += chunk
            alive.append(s)
        except OSError:
            closed += 1
            s.close()
    conns = alive
    time.sleep(1)
with open(out, "w") as f:
    f.write("opened=%d closed=%d open=%d\n" % (opened, closed, len(conns)))
for s in conns:
    s.close()
PY
FLOOD_PID=$!
sleep 3

# kdig_tls (lib.sh): DoT as peer SSP1 (its client certificate).
kdig_tls "$DOT_PORT" +tls-certfile="$PKI/peer-ssp1.pem" +tls-keyfile="$PKI/peer-ssp1.key" \
  "$TN_NAME" NAPTR
grep -q 'status: NOERROR' <<<"$dout" && sees_peer ||
  { echo "$dout" >&2; fail "DoT peer not answered during the anonymous flood"; }
pass "DoT peer answered with its view while 40 anonymous connections flood"
dns_dig "$DNS_PORT" +norec +tcp -y "hmac-sha256:ssp1-key.:$SECRET1" "$TN_NAME" NAPTR
sees_peer || { echo "$dout" >&2; fail "TSIG peer over TCP not answered during the flood"; }
pass "TSIG peer over TCP answered during the flood"

wait "$FLOOD_PID" || fail "the flood script failed"
read -r flood <"$T/flood.out"
it_log "flooder: $flood"
closed="$(sed -n 's/.*closed=\([0-9]*\).*/\1/p' <<<"$flood")"
opened="$(sed -n 's/.*opened=\([0-9]*\).*/\1/p' <<<"$flood")"
[[ "$opened" == 40 ]] || fail "flooder opened $opened connections, want 40 (the kernel accepts them all)"
((closed >= 8)) || fail "lufd closed $closed of the flood's connections, want >= 8 (anonymous cap 32)"
pass "the flood lost $closed of its 40 connections to the anonymous cap (32)"
stop_lufd
evicted="$(sed -n 's/.*evicted \([0-9]*\),.*/\1/p' "$T/lufd.log" | tail -n 1)"
((${evicted:-0} >= 8)) || { grep 'dns: stopped' "$T/lufd.log" >&2; fail "lufd reports ${evicted:-no} evictions, want >= 8"; }
pass "lufd's stop line: $evicted anonymous connection(s) evicted"
it_done
