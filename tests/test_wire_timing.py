"""bench/wire_timing.py, the SIP benchmark's clock: real packets on loopback, kernel-timed."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bound_udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def test_it_times_the_first_invite_of_a_call_to_its_first_180_and_ignores_the_rest() -> None:
    caller, pbx, stranger = bound_udp(), bound_udp(), bound_udp()
    port = caller.getsockname()[1]
    timing = subprocess.Popen(
        [sys.executable, "-m", "bench.wire_timing", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert timing.stdout is not None and timing.stdout.readline().strip() == "ready"
        to_pbx, to_caller = pbx.getsockname(), caller.getsockname()

        def invite(call: str) -> None:
            caller.sendto(f"INVITE sip:201@pbx SIP/2.0\r\nCall-ID: {call}\r\n\r\n".encode(), to_pbx)

        def answer(status: str, call: str, header: str = "Call-ID") -> None:
            pbx.sendto(f"SIP/2.0 {status}\r\n{header}: {call}\r\n\r\n".encode(), to_caller)

        invite("one")
        answer("100 Trying", "one")
        time.sleep(0.04)
        answer("180 Ringing", "one", header="i")  # the compact form of Call-ID
        answer("180 Ringing", "one")  # a second 180 changes nothing
        invite("two")
        time.sleep(0.02)
        invite("two")  # a retransmission: the call's time runs from the first
        time.sleep(0.03)
        answer("180 Ringing", "two")
        invite("three")  # never rung
        # Another port's traffic is not ours.
        stranger.sendto(b"INVITE sip:201@pbx SIP/2.0\r\nCall-ID: four\r\n\r\n", to_pbx)
        time.sleep(0.2)
    finally:
        timing.terminate()
        out, _ = timing.communicate(timeout=30)
        for sock in (caller, pbx, stranger):
            sock.close()
    summary = json.loads(out)
    assert summary["calls"] == 3 and summary["rung"] == 2 and summary["dropped"] == 0
    # Both rang 40 and 50 ms after their first INVITE; the upper bound leaves room for a busy
    # machine's scheduling, the lower one is the kernel's clock.
    assert 40_000 <= summary["p50_us"] < 400_000
    assert 50_000 <= summary["max_us"] < 400_000


def test_it_splits_a_call_into_its_steps_across_the_decision_query_and_the_phone() -> None:
    caller, pbx, phone = bound_udp(), bound_udp(), bound_udp()
    decision = socket.socket()
    decision.bind(("127.0.0.1", 0))
    decision.listen(1)
    ports = [s.getsockname()[1] for s in (caller, phone, decision)]
    timing = subprocess.Popen(
        [sys.executable, "-m", "bench.wire_timing", *map(str, ports)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    kamailio = socket.create_connection(decision.getsockname())  # the PBX's query connection
    service, _ = decision.accept()
    try:
        assert timing.stdout is not None and timing.stdout.readline().strip() == "ready"

        def sip(sender: socket.socket, receiver: socket.socket, first_line: str) -> None:
            message = f"{first_line}\r\nCall-ID: one@pbx\r\n\r\n".encode()
            sender.sendto(message, receiver.getsockname())

        sip(caller, pbx, "INVITE sip:201@pbx SIP/2.0")
        time.sleep(0.01)
        # Kamailio escapes the Call-ID in the query's URL.
        kamailio.sendall(b"GET /decide?caller=205&called=201&callid=one%40pbx HTTP/1.1\r\n\r\n")
        assert service.recv(4096).startswith(b"GET ")
        time.sleep(0.02)
        service.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nact=ring")
        assert kamailio.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(0.03)
        sip(pbx, phone, "INVITE sip:201@phone SIP/2.0")
        sip(phone, pbx, "SIP/2.0 100 Trying")
        time.sleep(0.04)
        sip(phone, pbx, "SIP/2.0 180 Ringing")
        time.sleep(0.05)
        sip(pbx, caller, "SIP/2.0 180 Ringing")
        sip(caller, pbx, "BYE sip:201@pbx SIP/2.0")  # not a moment
        # No pause: what came just before the stop counts too (loopback queues a packet
        # before sendto returns).
    finally:
        timing.terminate()
        out, _ = timing.communicate(timeout=30)
        for sock in (caller, pbx, phone, decision, kamailio, service):
            sock.close()
    summary = json.loads(out)
    assert (summary["calls"], summary["rung"], summary["dropped"]) == (1, 1, 0)
    steps = {name: step["p50_us"] for name, step in summary["steps"].items()}
    # Each step lasted at least its sleep (the kernel's clock); the upper bound leaves room for
    # a busy machine's scheduling.
    least = {
        "before_query": 10_000,
        "decision": 20_000,
        "after_decision": 30_000,
        "to_phone": 60_000,
        "phone": 40_000,
        "relay_180": 50_000,
    }
    assert steps.keys() == least.keys()
    for name, low in least.items():
        assert low <= steps[name] < low + 300_000, (name, steps[name])
    assert 150_000 <= summary["p50_us"] < 450_000
