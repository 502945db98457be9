#!/usr/bin/env python3
"""Holds COUNT idle TCP connections to HOST:PORT (they send nothing) for
HOLD_S seconds, for benchmarks/serve/wrk.sh. Prints "holding N idle
connections (M refused or closed by the server)" once they are open, then how
many the server closed while they were held. Standard library only."""
import argparse
import resource
import select
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--hold-s", type=float, default=30.0)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, a.count + 256))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    socks, failed = [], 0
    for _ in range(a.count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect((a.host, a.port))
            socks.append(s)
        except OSError:
            failed += 1
            s.close()
    print(f"holding {len(socks)} idle connections ({failed} could not connect)", flush=True)
    deadline = time.monotonic() + a.hold_s
    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLIN | select.POLLHUP | select.POLLERR)
    closed = set()
    while time.monotonic() < deadline:
        for fd, _ in poller.poll(500):  # readable or hung up: the server closed it (or wrote to it)
            closed.add(fd)
            poller.unregister(fd)
    print(f"released {len(socks)} idle connections; the server closed {len(closed)} of them while they were held",
          flush=True)
    for s in socks:
        s.close()


if __name__ == "__main__":
    sys.exit(main())
