"""INVITE-to-180 times read off the loopback wire, for bench/sip.py.

sipp times its calls with its own clock, which moves in its event loop's steps (4 ms apart at
500 calls/s here), so its p99 cannot tell 1 ms from 3 ms. This process watches the packets
to and from one UDP port (the calling sipp's) on `lo` with a packet socket and takes the
kernel's receive time of each: the first INVITE of a Call-ID towards the PBX and the first
`180` back. That is the PBX's own time to ring a phone, free of the caller's event loop.

Run as `python -m bench.wire_timing PORT`: it prints `ready` once it listens, and on SIGTERM
or SIGINT prints one JSON line: `calls` (INVITEs seen), `rung` (of them with a 180),
`p50_us`, `p99_us`, `max_us`. Needs CAP_NET_RAW (root here).
"""

from __future__ import annotations

import ctypes
import json
import select
import signal
import socket
import struct
import sys
from types import FrameType

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
SO_TIMESTAMPNS = 35
PACKET_HOST = 0
ETHERNET_HEADER = 14  # `lo` frames carry a zeroed Ethernet header


def udp_port_filter(port: int) -> list[tuple[int, int, int, int]]:
    """A classic BPF program: IPv4 UDP packets from or to `port`, unfragmented, each once
    (the receiving side's copy; `lo` shows every packet also as outgoing)."""
    return [
        (0x20, 0, 0, 0xFFFFF004),  # A = packet type (SKF_AD_OFF + SKF_AD_PKTTYPE)
        (0x15, 0, 12, PACKET_HOST),  # not received: drop
        (0x28, 0, 0, 12),  # A = ethertype
        (0x15, 0, 10, 0x0800),  # not IPv4: drop
        (0x30, 0, 0, 23),  # A = IP protocol
        (0x15, 0, 8, 17),  # not UDP: drop
        (0x28, 0, 0, 20),  # A = flags and fragment offset
        (0x45, 6, 0, 0x1FFF),  # a later fragment: drop
        (0xB1, 0, 0, ETHERNET_HEADER),  # X = IP header length
        (0x48, 0, 0, ETHERNET_HEADER),  # A = source port
        (0x15, 2, 0, port),  # ours: accept
        (0x48, 0, 0, ETHERNET_HEADER + 2),  # A = destination port
        (0x15, 0, 1, port),  # ours: accept, else drop
        (0x06, 0, 0, 0x40000),  # accept
        (0x06, 0, 0, 0),  # drop
    ]


def attach_filter(sock: socket.socket, program: list[tuple[int, int, int, int]]) -> None:
    code = b"".join(struct.pack("HBBI", *op) for op in program)
    buffer = ctypes.create_string_buffer(code)
    fprog = struct.pack("HL", len(program), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def call_id(sip: bytes) -> bytes | None:
    for line in sip.split(b"\r\n", 30)[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"call-id", b"i"):
            return value.strip()
    return None


class Timings:
    """First INVITE sent from the port and first 180 answered to it, per Call-ID."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.invites: dict[bytes, int] = {}
        self.ringing: dict[bytes, int] = {}

    def packet(self, frame: bytes, stamp_ns: int) -> None:
        ip = frame[ETHERNET_HEADER:]
        ihl = (ip[0] & 0x0F) * 4
        source, destination = struct.unpack_from("!HH", ip, ihl)
        sip = ip[ihl + 8 :]
        if source == self.port and sip.startswith(b"INVITE "):
            key = call_id(sip)
            if key is not None:
                self.invites.setdefault(key, stamp_ns)
        elif destination == self.port and sip.startswith(b"SIP/2.0 180"):
            key = call_id(sip)
            if key is not None:
                self.ringing.setdefault(key, stamp_ns)

    def summary(self) -> dict[str, int | None]:
        rung = self.ringing
        times = sorted((rung[k] - sent) // 1000 for k, sent in self.invites.items() if k in rung)

        def at(q: float) -> int | None:
            return times[min(len(times) - 1, int(q * len(times)))] if times else None

        return {
            "calls": len(self.invites),
            "rung": len(times),
            "p50_us": at(0.5),
            "p99_us": at(0.99),
            "max_us": times[-1] if times else None,
        }


def capture(port: int) -> dict[str, int | None]:
    """Watch `port` until SIGTERM/SIGINT; the summary of what was seen."""
    stop = False

    def ask_stop(_signal: int, _frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, ask_stop)
    signal.signal(signal.SIGINT, ask_stop)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    attach_filter(sock, udp_port_filter(port))
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(("lo", 0))
    sock.setblocking(False)
    timings = Timings(port)
    print("ready", flush=True)
    while not stop:
        try:
            readable, _, _ = select.select([sock], [], [], 0.2)
        except InterruptedError:
            continue
        while readable:
            try:
                frame, ancillary, _flags, _address = sock.recvmsg(65536, 64)
            except BlockingIOError:
                break
            stamp = next((data for level, kind, data in ancillary if kind == SO_TIMESTAMPNS), None)
            if stamp is None:
                continue
            seconds, nanos = struct.unpack("qq", stamp[:16])
            timings.packet(frame, seconds * 1_000_000_000 + nanos)
    sock.close()
    return timings.summary()


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m bench.wire_timing UDP_PORT", file=sys.stderr)
        return 2
    print(json.dumps(capture(int(argv[0]))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
