#!/usr/bin/env python3
"""hold.py: the connection-holding attacker of bench/conn/run.sh.

Opens --idle plain TCP connections that never send a byte and --half_open
TLS connections that send a ClientHello and then nothing (the server has
done its first TLS step and waits), spread round robin over --sources
source addresses 127.0.<k>.<j> (loopback accepts any 127/8 source). Every
second it counts how many are still open (a poll for EOF/RST), and
re-opens up to --reopen_per_s of those the server closed, as an attacker
keeping the pressure on would. Bounded by --duration_s.
Prints one line per second and a final `RESULT key=value ...` line.
Traffic to 127.0.0.0/8 only.
"""
import argparse
import resource
import select
import socket
import ssl
import sys
import time


def source_address(k):
    return "127.0.%d.%d" % (200 + k // 250, 1 + k % 250)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--idle", type=int, default=0)
    ap.add_argument("--half_open", type=int, default=0)
    ap.add_argument("--tls_port", type=int, default=0,
                    help="port for the half-open TLS connections "
                         "(default --port)")
    ap.add_argument("--sources", type=int, default=32)
    ap.add_argument("--duration_s", type=float, default=20)
    ap.add_argument("--reopen_per_s", type=int, default=500)
    a = ap.parse_args()
    if not a.port or not (0 < a.duration_s <= 600):
        sys.exit("hold.py: --port and 0 < --duration_s <= 600 required")
    want = a.idle + a.half_open
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (min(hard, want + 100), hard))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    tls_port = a.tls_port or a.port
    slots = ["idle"] * a.idle + ["tls"] * a.half_open
    conns = {}  # slot index -> socket
    counts = {"opened": 0, "open_failed": 0, "closed_by_server": 0}
    nsrc = [0]

    def open_slot(i):
        kind = slots[i]
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((source_address(nsrc[0] % a.sources), 0))
            nsrc[0] += 1
            s.settimeout(1)
            s.connect(("127.0.0.1", tls_port if kind == "tls" else a.port))
            if kind == "tls":
                t = ctx.wrap_socket(s, do_handshake_on_connect=False)
                t.setblocking(False)
                try:
                    t.do_handshake()  # Sends the ClientHello; never finished.
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
                s = t
            conns[i] = s
            counts["opened"] += 1
        except OSError:
            counts["open_failed"] += 1
            s.close()

    for i in range(len(slots)):
        open_slot(i)
    start = time.time()
    end = start + a.duration_s
    second = 0
    min_open = len(conns)
    while time.time() < end:
        time.sleep(max(0.0, start + second + 1 - time.time()))
        second += 1
        # Closed by the server: readable with EOF (or an error).
        socks = {s.fileno(): i for i, s in conns.items()}
        poller = select.poll()
        for fd in socks:
            poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        gone = []
        for fd, ev in poller.poll(0):
            i = socks[fd]
            s = conns[i]
            try:
                if isinstance(s, ssl.SSLSocket):
                    data = s.recv(1) if not (ev & (select.POLLHUP |
                                                   select.POLLERR)) else b""
                else:
                    data = s.recv(1, socket.MSG_PEEK) if not (
                        ev & (select.POLLHUP | select.POLLERR)) else b""
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue
            except OSError:
                data = b""
            if not data:
                gone.append(i)
        for i in gone:
            conns.pop(i).close()
            counts["closed_by_server"] += 1
        open_now = len(conns)
        if second >= 2:
            min_open = min(min_open, open_now)
        print("second %d: open %d (closed by the server so far %d, open "
              "failures %d)" % (second, open_now, counts["closed_by_server"],
                                counts["open_failed"]), flush=True)
        reopen = [i for i in range(len(slots)) if i not in conns]
        for i in reopen[:a.reopen_per_s]:
            open_slot(i)
    print("RESULT wanted=%d opened=%d open_failed=%d closed_by_server=%d "
          "open_at_end=%d min_open_from_s2=%d duration_s=%.1f" %
          (want, counts["opened"], counts["open_failed"],
           counts["closed_by_server"], len(conns), min_open,
           time.time() - start), flush=True)
    for s in conns.values():
        s.close()


if __name__ == "__main__":
    main()
