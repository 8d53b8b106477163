#!/usr/bin/env python3
"""hold_conns.py: opens idle TCP connections to 127.0.0.1:PORT and holds them.

An attacker's view of a front door, for the integration tests (bounded:
--max-seconds, at most a few thousand sockets, loopback only):

  hold_conns.py --port P --sources 127.0.2.1-10 --per-source 20 \
      [--partial-tls] --status FILE [--stop-file FILE] [--max-seconds S]

Each source address (a 127/8 address the socket is bound to, so the server
sees distinct clients) opens --per-source connections. --partial-tls sends
the first 100 bytes of a 512-byte TLS record (a ClientHello that never
completes), otherwise nothing is sent. Every 0.25 s FILE is rewritten
(atomically) with one JSON object:
  {"t": seconds since the connections were made, "attempted": N,
   "connected": N, "failed": N, "open": N, "closed_at": [...]}
where "open" counts connections the server has neither closed nor reset,
and "closed_at" the times (s) at which the others were seen closed. Exits
when the stop file exists or after --max-seconds, closing everything.
"""
import argparse
import errno
import ipaddress
import json
import os
import resource
import select
import socket
import sys
import time


def sources(spec):
    out = []
    for part in spec.split(","):
        if "-" in part:
            first, last = part.split("-")
            base = ipaddress.IPv4Address(first)
            n = int(last) - int(first.rsplit(".", 1)[1]) + 1
            out.extend(str(base + i) for i in range(n))
        else:
            out.append(part)
    return out


def write_status(path, status):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(status, f)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sources", required=True)
    ap.add_argument("--per-source", type=int, default=1)
    ap.add_argument("--partial-tls", action="store_true")
    ap.add_argument("--status", required=True)
    ap.add_argument("--stop-file")
    ap.add_argument("--max-seconds", type=float, default=60)
    args = ap.parse_args()

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    srcs = sources(args.sources)
    total = len(srcs) * args.per_source
    if total > 5000 or total + 64 > hard:
        sys.exit(f"hold_conns: {total} connections is too many (limit {hard})")
    # A ClientHello record header announcing 512 bytes, then only part of it.
    partial = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC,
                     0x03, 0x03]) + b"\x00" * 89

    conns = []
    failed = 0
    for src in srcs:
        for _ in range(args.per_source):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((src, 0))
                s.settimeout(0.3)
                s.connect(("127.0.0.1", args.port))
                if args.partial_tls:
                    s.send(partial)
                s.setblocking(False)
                conns.append(s)
            except OSError:
                failed += 1
                s.close()
    start = time.monotonic()
    open_socks = set(conns)
    closed_at = []
    deadline = start + args.max_seconds
    while True:
        now = time.monotonic()
        # A readable idle socket: EOF, reset, or data (a TLS alert) before
        # the close; only EOF/reset count as closed.
        # poll, not select: descriptor numbers go past FD_SETSIZE here.
        poller = select.poll()
        by_fd = {}
        for s in open_socks:
            poller.register(s, select.POLLIN)
            by_fd[s.fileno()] = s
        ready = [by_fd[fd] for fd, _ in poller.poll(0)]
        for s in ready:
            try:
                data = s.recv(4096)
                gone = not data
            except OSError as e:
                gone = e.errno != errno.EAGAIN
            if gone:
                open_socks.discard(s)
                closed_at.append(round(now - start, 3))
                s.close()
        write_status(args.status, {
            "t": round(now - start, 3), "attempted": total,
            "connected": len(conns), "failed": failed,
            "open": len(open_socks), "closed_at": closed_at})
        if args.stop_file and os.path.exists(args.stop_file):
            break
        if now >= deadline:
            break
        time.sleep(0.25)
    for s in open_socks:
        s.close()


if __name__ == "__main__":
    main()
