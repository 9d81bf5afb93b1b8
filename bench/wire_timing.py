"""INVITE-to-180 times read off the loopback wire, for bench/sip.py.

sipp times its calls with its own clock, which moves in its event loop's steps (4 ms apart at
500 calls/s here), so its p99 cannot tell 1 ms from 3 ms. This process watches the packets
to and from the calling sipp's UDP port on `lo` with a packet socket and takes the kernel's
receive time of each: the first INVITE of a Call-ID towards the PBX and the first `180` back.
That is the PBX's own time to ring a phone, free of the caller's event loop.

Given the phone's UDP port and the decision service's TCP port too, it also times the steps
between (where a slow call spent its time): the decision query Kamailio sends (its URL names
the Call-ID) and the answer on the same connection, the INVITE relayed to the phone, and the
phone's 180.

Run as `python -m bench.wire_timing CALLER_PORT [PHONE_PORT [DECISION_PORT]]`: it prints
`ready` once it listens, and on SIGTERM or SIGINT prints one JSON line: `calls` (INVITEs seen),
`rung` (of them with a 180), `p50_us`, `p99_us`, `max_us`, and with more ports `steps`: per
step its p50/p99/max and its mean over the slowest 1% of calls; `dropped`: packets the kernel
could not queue for it (their moments are missing). Needs CAP_NET_RAW (root here).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import re
import signal
import socket
import struct
import sys
import time
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, urlsplit

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
SO_TIMESTAMPNS = 35
PACKET_HOST = 0
ETHERNET_HEADER = 14  # `lo` frames carry a zeroed Ethernet header
UDP, TCP = 17, 6
BATCH_SECONDS = 0.01
SOL_PACKET, PACKET_STATISTICS = 263, 6

# A call's moments in the order they happen, and the steps between them.
MOMENTS = ("invite", "query", "decided", "to_phone", "phone_rang", "ringing")
STEPS = {
    "before_query": ("invite", "query"),
    "decision": ("query", "decided"),
    "after_decision": ("decided", "to_phone"),
    "to_phone": ("invite", "to_phone"),
    "phone": ("to_phone", "phone_rang"),
    "relay_180": ("phone_rang", "ringing"),
}

Op = tuple[int, str | int, str | int, int]  # code, jump if true, jump if false, k


def word(text: bytes) -> int:
    """Four bytes as the big-endian word a BPF load reads."""
    return int(struct.unpack("!I", text)[0])


def port_filter(ports: list[int]) -> list[tuple[int, int, int, int]]:
    """A classic BPF program: the IPv4 packets from or to one of `ports` that carry a moment
    (a UDP payload starting `INVITE ` or `SIP/2.0 180`, a TCP payload starting `GET ` or
    `HTTP`), unfragmented, each once (the receiving side's copy; `lo` shows every packet also
    as outgoing). The kernel drops the rest (provisional answers, ACKs, BYEs, bare TCP
    segments), so this process wakes for a few packets per call, not for every one."""
    ops: list[tuple[str | None, Op]] = [
        (None, (0x20, 0, "drop", 0xFFFFF004)),  # A = packet type (SKF_AD_OFF + SKF_AD_PKTTYPE)
        (None, (0x15, 0, "drop", PACKET_HOST)),
        (None, (0x28, 0, 0, 12)),  # A = ethertype
        (None, (0x15, 0, "drop", 0x0800)),
        (None, (0x30, 0, 0, 23)),  # A = IP protocol
        (None, (0x15, "ip", 0, UDP)),
        (None, (0x15, 0, "drop", TCP)),
        ("ip", (0x28, 0, 0, 20)),  # A = flags and fragment offset
        (None, (0x45, "drop", 0, 0x1FFF)),  # a later fragment
        (None, (0xB1, 0, 0, ETHERNET_HEADER)),  # X = IP header length
        (None, (0x48, 0, 0, ETHERNET_HEADER)),  # A = source port
        *[(None, (0x15, "ours", 0, port)) for port in ports],
        (None, (0x48, 0, 0, ETHERNET_HEADER + 2)),  # A = destination port
        *[(None, (0x15, "ours", 0, port)) for port in ports],
        (None, (0x06, 0, 0, 0)),  # drop
        ("ours", (0x30, 0, 0, 23)),  # A = IP protocol
        (None, (0x15, "tcp", 0, TCP)),
        (None, (0x40, 0, 0, ETHERNET_HEADER + 8)),  # A = the UDP payload's first 4 bytes
        (None, (0x15, "accept", 0, word(b"INVI"))),
        (None, (0x15, 0, "drop", word(b"SIP/"))),
        (None, (0x40, 0, 0, ETHERNET_HEADER + 8 + 7)),  # A = " 180" in "SIP/2.0 180"?
        (None, (0x15, "accept", "drop", word(b" 180"))),
        ("tcp", (0x50, 0, 0, ETHERNET_HEADER + 12)),  # A = TCP data offset (high nibble)
        (None, (0x74, 0, 0, 4)),  # A >>= 4
        (None, (0x64, 0, 0, 2)),  # A <<= 2: the TCP header's length
        (None, (0x0C, 0, 0, 0)),  # A += X (the IP header's length)
        (None, (0x07, 0, 0, 0)),  # X = A
        # A = the payload's first 4 bytes; a segment without payload ends the program: dropped
        (None, (0x40, 0, 0, ETHERNET_HEADER)),
        (None, (0x15, "accept", 0, word(b"GET "))),
        (None, (0x15, "accept", "drop", word(b"HTTP"))),
        ("drop", (0x06, 0, 0, 0)),
        ("accept", (0x06, 0, 0, 0x40000)),
    ]
    at = {label: i for i, (label, _) in enumerate(ops) if label is not None}

    def jump(i: int, target: str | int) -> int:
        return target if isinstance(target, int) else at[target] - i - 1

    return [(code, jump(i, jt), jump(i, jf), k) for i, (_, (code, jt, jf, k)) in enumerate(ops)]


def attach_filter(sock: socket.socket, program: list[tuple[int, int, int, int]]) -> None:
    code = b"".join(struct.pack("HBBI", *op) for op in program)
    buffer = ctypes.create_string_buffer(code)
    fprog = struct.pack("HL", len(program), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


CALL_ID = re.compile(rb"\r\n(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r\n", re.IGNORECASE)


def call_id(sip: bytes) -> bytes | None:
    found = CALL_ID.search(sip)
    return None if found is None else found.group(1)


class Timings:
    """Per Call-ID the first time of each of its moments (MOMENTS)."""

    def __init__(self, caller: int, phone: int | None = None, decision: int | None = None):
        self.caller, self.phone, self.decision = caller, phone, decision
        self.calls: dict[bytes, dict[str, int]] = {}
        self._asked: dict[tuple[bytes, int], bytes] = {}  # connection -> Call-ID asked about

    def _moment(self, key: bytes | None, moment: str, stamp_ns: int) -> None:
        if key is None:
            return
        moments = self.calls.get(key)
        if moments is None:
            if moment != "invite":
                return  # a call from before the watch began
            moments = self.calls[key] = {}
        moments.setdefault(moment, stamp_ns)

    def packet(self, frame: bytes, stamp_ns: int) -> None:
        ip = frame[ETHERNET_HEADER:]
        ihl = (ip[0] & 0x0F) * 4
        source, destination = struct.unpack_from("!HH", ip, ihl)
        if ip[9] == TCP:
            payload = ip[ihl + (ip[ihl + 12] >> 4) * 4 :]
            if payload:
                self._http(ip[12:16], ip[16:20], source, destination, payload, stamp_ns)
            return
        sip = ip[ihl + 8 :]
        if sip.startswith(b"INVITE "):
            if source == self.caller:
                self._moment(call_id(sip), "invite", stamp_ns)
            elif destination == self.phone:
                self._moment(call_id(sip), "to_phone", stamp_ns)
        elif sip.startswith(b"SIP/2.0 180"):
            if destination == self.caller:
                self._moment(call_id(sip), "ringing", stamp_ns)
            elif source == self.phone:
                self._moment(call_id(sip), "phone_rang", stamp_ns)

    def _http(
        self, from_ip: bytes, to_ip: bytes, source: int, destination: int, data: bytes, at: int
    ) -> None:
        if destination == self.decision and data.startswith(b"GET "):
            target = data.split(b" ", 2)[1].decode("latin-1")
            [asked] = parse_qs(urlsplit(target).query).get("callid", [""])
            self._asked[(from_ip, source)] = asked.encode("latin-1")
            self._moment(asked.encode("latin-1"), "query", at)
        elif source == self.decision and data.startswith(b"HTTP/"):
            # The answer goes back on the connection of the query; one query at a time on each.
            self._moment(self._asked.pop((to_ip, destination), None), "decided", at)

    def summary(self) -> dict[str, Any]:
        rung = [m for m in self.calls.values() if "ringing" in m]
        rung.sort(key=lambda m: m["ringing"] - m["invite"])
        times = [(m["ringing"] - m["invite"]) // 1000 for m in rung]
        result: dict[str, Any] = {"calls": len(self.calls), "rung": len(times)}
        result.update(_quantiles(times))
        if self.phone is not None:
            slowest = rung[len(rung) - max(1, len(rung) // 100) :] if rung else []
            steps = {}
            for step, (start, end) in STEPS.items():
                spans = sorted(
                    (m[end] - m[start]) // 1000 for m in rung if start in m and end in m
                )
                if not spans:
                    continue
                tail = [(m[end] - m[start]) // 1000 for m in slowest if start in m and end in m]
                steps[step] = {
                    **_quantiles(spans),
                    "slowest_1pct_mean_us": sum(tail) // len(tail) if tail else None,
                }
            result["steps"] = steps
        return result


def _quantiles(ordered: list[int]) -> dict[str, int | None]:
    def at(q: float) -> int | None:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None

    return {"p50_us": at(0.5), "p99_us": at(0.99), "max_us": ordered[-1] if ordered else None}


class _Stop(Exception):
    """SIGTERM or SIGINT: ends the watch."""


def capture(timings: Timings) -> dict[str, Any]:
    """Watch the ports of `timings` until SIGTERM/SIGINT; the summary of what was seen."""

    def ask_stop(_signal: int, _frame: FrameType | None) -> None:
        raise _Stop

    ports = [p for p in (timings.caller, timings.phone, timings.decision) if p is not None]
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    attach_filter(sock, port_filter(ports))
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(("lo", 0))
    # Read what came, then sleep: this process shares the machine it measures, and a packet's
    # time is the kernel's, taken when it arrived, so waking 100 times a second (instead of
    # once per packet) changes no figure.
    sock.setblocking(False)
    signal.signal(signal.SIGTERM, ask_stop)
    signal.signal(signal.SIGINT, ask_stop)
    print("ready", flush=True)

    def read_waiting() -> None:
        while True:
            frame, ancillary, _flags, _address = sock.recvmsg(65536, 64)
            stamp = next((data for _, kind, data in ancillary if kind == SO_TIMESTAMPNS), None)
            if stamp is not None:
                seconds, nanos = struct.unpack("qq", stamp[:16])
                timings.packet(frame, seconds * 1_000_000_000 + nanos)

    try:
        while True:
            with contextlib.suppress(BlockingIOError):
                read_waiting()
            time.sleep(BATCH_SECONDS)
    except _Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(BlockingIOError):
        read_waiting()  # what came since the last batch
    # struct tpacket_stats: packets kept by the filter, and of them dropped for want of buffer
    _kept, dropped = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    sock.close()
    return {**timings.summary(), "dropped": dropped}


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 3 or not all(a.isdigit() for a in argv):
        print("usage: python -m bench.wire_timing CALLER_PORT [PHONE_PORT [DECISION_PORT]]",
              file=sys.stderr)  # fmt: skip
        return 2
    ports = [int(a) for a in argv]
    try:
        summary = capture(Timings(*ports))
    except PermissionError:
        print("bench.wire_timing needs CAP_NET_RAW (root) to watch packets on lo", file=sys.stderr)
        return 2
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
