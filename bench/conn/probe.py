#!/usr/bin/env python3
"""probe.py: the legitimate DNS client of bench/conn/run.sh.

At --rate queries a second (open loop, --duration_s), each on a NEW
connection from --source: plain TCP (RFC 7766) or, with --tls, DNS over
TLS with a client certificate (--cert/--key; the server is verified
against --ca). One query (SOA of --zone) per connection; it counts as
answered when a response with the query's id arrives within --timeout_ms
of its scheduled time, and latency is measured from that scheduled time
(connect + handshake + answer). Prints a `RESULT key=value ...` line with
the answered share and p50/p99/max latency. Traffic to 127.0.0.0/8 only.
"""
import argparse
import concurrent.futures
import socket
import ssl
import struct
import sys
import time


def query(qid, zone):
    labels = [l.encode() for l in zone.strip(".").split(".") if l]
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l for l in labels) + b"\0"
    q += struct.pack(">HH", 6, 1)  # SOA IN
    return struct.pack(">H", len(q)) + q


def read_exactly(s, n):
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            raise OSError("closed")
        got += chunk
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--source", default="127.0.199.1")
    ap.add_argument("--zone", default="e164.arpa.")
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--duration_s", type=float, default=20)
    ap.add_argument("--timeout_ms", type=int, default=2000)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--ca")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    a = ap.parse_args()
    if not (0 < a.duration_s <= 600) or not (0 < a.rate <= 1000):
        sys.exit("probe.py: 0 < --duration_s <= 600, 0 < --rate <= 1000")
    ctx = None
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(a.ca)
        ctx.check_hostname = False
        if a.cert:
            ctx.load_cert_chain(a.cert, a.key)
    timeout = a.timeout_ms / 1000.0

    def one(qid, scheduled):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((a.source, 0))
            s.settimeout(max(0.05, scheduled + timeout - time.time()))
            s.connect(("127.0.0.1", a.port))
            if ctx is not None:
                s = ctx.wrap_socket(s)
            s.sendall(query(qid, a.zone))
            (n,) = struct.unpack(">H", read_exactly(s, 2))
            msg = read_exactly(s, n)
            done = time.time()
            if struct.unpack(">H", msg[:2])[0] != qid:
                return None
            if done - scheduled > timeout:
                return None
            return done - scheduled
        except (OSError, ssl.SSLError):
            return None
        finally:
            s.close()

    start = time.time() + 0.1
    total = int(a.rate * a.duration_s)
    futures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        for k in range(total):
            scheduled = start + k / a.rate
            time.sleep(max(0.0, scheduled - time.time()))
            futures.append(pool.submit(one, k & 0xffff, scheduled))
        lat = [f.result() for f in futures]
    ok = sorted(x for x in lat if x is not None)

    def pct(p):
        return ok[min(len(ok) - 1, int(p * len(ok)))] * 1e3 if ok else 0.0
    print("RESULT sent=%d answered=%d answered_pct=%.2f p50_ms=%.2f "
          "p99_ms=%.2f max_ms=%.2f transport=%s rate=%.0f duration_s=%.1f" %
          (total, len(ok), 100.0 * len(ok) / max(1, total), pct(0.5),
           pct(0.99), ok[-1] * 1e3 if ok else 0.0,
           "dot" if a.tls else "tcp", a.rate, a.duration_s), flush=True)


if __name__ == "__main__":
    main()
