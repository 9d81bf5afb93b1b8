"""Real SIP phones and trunks for the tests and bench/sip.py: sipp scenarios written per use.

`Phone` is a sipp UAS on a free port that registers (one-shot REGISTER scenario, because sipp as
UAS cannot register itself) and then answers, rings out or says busy; it keeps every message it
received (sipp's -message_file), so a test reads the headers it was rung with. `call()` places
one call as a phone (digest authentication) or as a trunk (from the trunk's address) and returns
the final status code it got.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from runtime.sip.kamailio import DOMAIN, free_udp_port

SIPP = shutil.which("sipp") or "/usr/bin/sipp"

_HEAD = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="{name}">\n'

_SDP = """Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP4 [local_ip]
s=-
c=IN IP4 [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
"""


def register_scenario(user: str, password: str | None, contact_port: int, expect: int) -> str:
    """One REGISTER (answered 401, then sent with credentials when a password is given)."""
    head = f"""REGISTER sip:{DOMAIN} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{user}@{DOMAIN}>;tag=[pid]reg[call_number]
To: <sip:{user}@{DOMAIN}>
Call-ID: [call_id]
Contact: <sip:{user}@127.0.0.1:{contact_port}>
Expires: 600
Max-Forwards: 70
"""
    xml = _HEAD.format(name="register")
    if password is None:
        xml += f"""<send retrans="500"><![CDATA[
{head}CSeq: 1 REGISTER
Content-Length: 0

]]></send>
<recv response="{expect}"/>
"""
    else:
        xml += f"""<send retrans="500"><![CDATA[
{head}CSeq: 1 REGISTER
Content-Length: 0

]]></send>
<recv response="401" auth="true"/>
<send retrans="500"><![CDATA[
{head}CSeq: 2 REGISTER
[authentication username={user} password={password}]
Content-Length: 0

]]></send>
<recv response="{expect}"/>
"""
    return xml + "</scenario>\n"


def uas_scenario(behaviour: str, answer_after_ms: int = 100) -> str:
    """A phone that is rung once: "answer" (180, 200, then waits for BYE), "ringout" (180,
    until CANCEL), "busy" (486)."""
    xml = _HEAD.format(name=f"phone-{behaviour}")
    xml += '<recv request="INVITE" rrs="true"/>\n'
    if behaviour == "busy":
        xml += """<send><![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]ph[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
<recv request="ACK"/>
"""
    else:
        xml += """<send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_Record-Route:]
[last_From:]
[last_To:];tag=[pid]ph[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:phone@[local_ip]:[local_port]>
Content-Length: 0

]]></send>
"""
        if behaviour == "answer":
            xml += f"""<pause milliseconds="{answer_after_ms}"/>
<send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_Record-Route:]
[last_From:]
[last_To:];tag=[pid]ph[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:phone@[local_ip]:[local_port]>
{_SDP}
]]></send>
<recv request="ACK"/>
<recv request="BYE"/>
<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
"""
        else:  # ringout: Kamailio cancels when its timer runs out
            xml += """<recv request="CANCEL"/>
<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
<send><![CDATA[
SIP/2.0 487 Request Terminated
[last_Via:]
[last_From:];tag=[pid]ph[call_number]
[last_To:]
[last_Call-ID:]
CSeq: [cseq] INVITE
Content-Length: 0

]]></send>
<recv request="ACK"/>
"""
    return xml + "</scenario>\n"


def uac_scenario(
    caller: str,
    called: str,
    expect: int,
    *,
    password: str | None,
    hold_ms: int = 200,
    extra_headers: str = "",
) -> str:
    """One call from `caller` to `called`: as a phone (407, then with credentials) when a
    password is given, else as a trunk; ends with `expect` (200: ACK, hold, BYE)."""

    def invite(cseq: int, auth: str) -> str:
        return f"""<send retrans="500"><![CDATA[
INVITE sip:{called}@{DOMAIN} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{caller}@{DOMAIN}>;tag=[pid]uac[call_number]
To: <sip:{called}@{DOMAIN}>
Call-ID: [call_id]
CSeq: {cseq} INVITE
Contact: <sip:{caller}@[local_ip]:[local_port]>
Max-Forwards: 70
{extra_headers}{auth}{_SDP}
]]></send>
"""

    def ack(cseq: int) -> str:
        # An ACK for an error answer belongs to the INVITE's transaction: its Via (branch).
        return f"""<send><![CDATA[
ACK sip:{called}@{DOMAIN} SIP/2.0
[last_Via:]
From: <sip:{caller}@{DOMAIN}>;tag=[pid]uac[call_number]
To: <sip:{called}@{DOMAIN}>[peer_tag_param]
Call-ID: [call_id]
CSeq: {cseq} ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
"""

    xml = _HEAD.format(name="call")
    cseq = 1
    if password is not None:
        xml += invite(1, "")
        xml += '<recv response="100" optional="true"/>\n<recv response="407" auth="true"/>\n'
        xml += ack(1)
        cseq = 2
        xml += invite(2, f"[authentication username={caller} password={password}]\n")
    else:
        xml += invite(1, "")
    xml += '<recv response="100" optional="true"/>\n'
    xml += '<recv response="180" optional="true" rtd="true"/>\n'
    xml += '<recv response="183" optional="true"/>\n'
    if expect == 200:
        xml += '<recv response="200" rrs="true"/>\n'
        xml += f"""<send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
From: <sip:{caller}@{DOMAIN}>;tag=[pid]uac[call_number]
To: <sip:{called}@{DOMAIN}>[peer_tag_param]
Call-ID: [call_id]
CSeq: {cseq} ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
<pause milliseconds="{hold_ms}"/>
<send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
From: <sip:{caller}@{DOMAIN}>;tag=[pid]uac[call_number]
To: <sip:{called}@{DOMAIN}>[peer_tag_param]
Call-ID: [call_id]
CSeq: {cseq + 1} BYE
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="200"/>
"""
    else:
        xml += f'<recv response="{expect}"/>\n'
        xml += ack(cseq)
    return xml + "</scenario>\n"


@dataclass
class SipTarget:
    """Where Kamailio listens."""

    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _run_sipp(
    folder: Path,
    name: str,
    xml: str,
    target: SipTarget,
    port: int,
    timeout_s: float = 20,
    extra: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.xml"
    path.write_text(xml, encoding="utf-8")
    done = subprocess.run(
        [
            SIPP,
            target.address,
            "-sf",
            str(path),
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-m",
            "1",
            "-timeout",
            f"{int(timeout_s)}s",
            "-timeout_error",
            "-nostdin",
            "-max_recv_loops",
            "1000",
            "-trace_msg",
            "-message_file",
            str(folder / f"{name}-messages.log"),
            *extra,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=timeout_s + 10,
    )
    (folder / f"{name}-output.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
    return done


def register(
    folder: Path,
    target: SipTarget,
    user: str,
    password: str | None,
    contact_port: int,
    expect: int = 200,
) -> bool:
    """REGISTER `user` with `contact_port` as its contact; True when `expect` came back."""
    xml = register_scenario(user, password, contact_port, expect)
    done = _run_sipp(folder, f"register-{user}-{contact_port}", xml, target, free_udp_port())
    return done.returncode == 0


@dataclass
class Phone:
    """A registered phone (sipp UAS) that takes one call with `behaviour`."""

    folder: Path
    target: SipTarget
    user: str
    password: str | None
    behaviour: str = "answer"
    calls: int = 1
    port: int = field(default_factory=free_udp_port)
    proc: subprocess.Popen[str] | None = None

    @property
    def messages_path(self) -> Path:
        return self.folder / f"phone-{self.user}-{self.port}-messages.log"

    def start(self, register_it: bool = True, timeout_s: int = 40) -> Phone:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"phone-{self.user}-{self.port}.xml"
        path.write_text(uas_scenario(self.behaviour), encoding="utf-8")
        self.proc = subprocess.Popen(
            [
                SIPP,
                "-sf",
                str(path),
                "-i",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-m",
                str(self.calls),
                "-timeout",
                f"{timeout_s}s",
                "-timeout_error",
                "-nostdin",
                "-trace_msg",
                "-message_file",
                str(self.messages_path),
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.2)
        if register_it:
            assert register(self.folder, self.target, self.user, self.password, self.port), (
                f"phone {self.user} could not register"
            )
        return self

    def was_rung(self) -> bool:
        return "INVITE sip:" in self.messages()

    def messages(self) -> str:
        try:
            return self.messages_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def header(self, name: str) -> str | None:
        """The first `name:` header of the INVITE it received (None if none)."""
        m = re.search(rf"^{re.escape(name)}:\s*(.*?)\r?$", self.messages(), re.M | re.I)
        return None if m is None else m.group(1)

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for the phone's one call to end; its sipp exit code (0: the scenario ran)."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            return -1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def call(
    folder: Path,
    target: SipTarget,
    caller: str,
    called: str,
    expect: int,
    *,
    password: str | None = None,
    from_port: int | None = None,
    extra_headers: str = "",
    timeout_s: float = 30,
    hold_ms: int = 200,
) -> bool:
    """Place one call; True when it ended with `expect` (the scenario ran through)."""
    xml = uac_scenario(
        caller, called, expect, password=password, extra_headers=extra_headers, hold_ms=hold_ms
    )
    port = from_port if from_port is not None else free_udp_port()
    done = _run_sipp(
        folder, f"call-{caller}-{called}-{expect}", xml, target, port, timeout_s=timeout_s
    )
    return done.returncode == 0
