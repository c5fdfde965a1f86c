#!/usr/bin/env python3
"""A simulated WAN between network namespaces, in user space (the kernel here has no netem).

Creates one TUN device in each namespace given, then forwards IPv4 packets between them with a
one-way latency and a bandwidth limit per direction: each packet waits behind the ones before it
on its link (serialisation at the given rate), then for the latency. Packets to an address no
namespace owns are dropped silently, as the internet does.

    wan-link.py --latency-ms 50 --rate-kbit 20000 NS=ADDR [NS=ADDR ...]

Each NS gets a device `wan0` with ADDR/32 and a route to every other ADDR through it. Prints
"ready" once every device is up; runs until SIGTERM. Root only.
"""
import argparse
import ctypes
import fcntl
import heapq
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL("libc.so.6", use_errno=True)


def enter(ns_path):
    fd = os.open(ns_path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {ns_path}")
    finally:
        os.close(fd)


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--rate-kbit", type=float, default=20_000.0)
    ap.add_argument("sites", nargs="+", help="NAMESPACE=ADDRESS")
    args = ap.parse_args()
    sites = [s.split("=", 1) for s in args.sites]
    home = "/proc/self/ns/net"
    home_fd = os.open(home, os.O_RDONLY)
    tuns = {}  # address -> fd
    for ns, addr in sites:
        enter(f"/var/run/netns/{ns}")
        tuns[addr] = open_tun("wan0")
        libc.setns(home_fd, CLONE_NEWNET)
    for ns, addr in sites:
        cmds = [f"ip addr add {addr}/32 dev wan0", "ip link set wan0 up"]
        cmds += [f"ip route add {other}/32 dev wan0" for _, other in sites if other != addr]
        subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", " && ".join(cmds)], check=True)

    latency = args.latency_ms / 1000.0
    byte_time = 8.0 / (args.rate_kbit * 1000.0)
    link_free = {}  # (src, dst) -> time the link is free again
    pending = []  # (deliver_at, seq, fd, packet)
    seq = 0
    sel = selectors.DefaultSelector()
    for addr, fd in tuns.items():
        sel.register(fd, selectors.EVENT_READ, addr)
    running = True

    def stop(*_):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("ready", flush=True)
    while running:
        timeout = None if not pending else max(0.0, pending[0][0] - time.monotonic())
        for key, _ in sel.select(timeout):
            src = key.data
            while True:
                try:
                    pkt = os.read(key.fd, 65535)
                except BlockingIOError:
                    break
                if len(pkt) < 20 or pkt[0] >> 4 != 4:
                    continue  # IPv4 only
                dst = socket.inet_ntoa(pkt[16:20])
                out = tuns.get(dst)
                if out is None:
                    continue  # nobody there: dropped without a word
                now = time.monotonic()
                start = max(now, link_free.get((src, dst), now))
                link_free[(src, dst)] = start + len(pkt) * byte_time
                seq += 1
                heapq.heappush(pending, (link_free[(src, dst)] + latency, seq, out, pkt))
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, fd, pkt = heapq.heappop(pending)
            try:
                os.write(fd, pkt)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
