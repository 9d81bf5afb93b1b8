#!/usr/bin/env bash
# The main job: set everything up, build the .sfm files, prepare an embedded SQLite data folder
# (default ./var, or $SFM_HOME) with a sample PBX directory, install the fresh build there (the
# 14-day trial starts with the first install) and run the PBX host with its web page.
#
#   scripts/run.sh                 serve on http://127.0.0.1:8080/, SIP on 127.0.0.1:5060, until Ctrl-C
#   scripts/run.sh --port 9000     any further options go to `sfm serve` (--sip HOST:PORT too)
#   scripts/run.sh --check         start, check that the page and SIP answer, stop (for CI; free
#                                  ports, so it passes while 8080 or 5060 are taken)
#
# On the first start `sfm serve` prints a one-time link to set the admin password.
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
if [ "${1:-}" = "--check" ]; then
    check=1
    shift
fi

scripts/setup.sh
.venv/bin/python build.py

data="${SFM_HOME:-var}"
# --dev: the build above is signed with the development key, which the host trusts only in
# development mode (a release build is signed with SFM_SIGNING_KEY and needs no --dev).
sfm=(.venv/bin/python -m sfm_cli.main --data "$data" --dev)
if [ ! -f "$data/pbx.toml" ]; then
    # Only the first time: a directory the admin loaded later stays.
    "${sfm[@]}" pbx load runtime/web/sample_pbx.toml
fi
current=(dist/*-current.sfm)
"${sfm[@]}" module install "${current[0]}"

sip=(--sip 127.0.0.1:5060)
case " $* " in *" --sip "*|*" --sip="*) sip=() ;; esac

if [ "$check" = 0 ]; then
    exec "${sfm[@]}" serve "${sip[@]}" "$@"
fi

# --check: serve on free ports, wait until the login page and SIP answer, then stop again.
if [ "${#sip[@]}" -gt 0 ]; then
    sip_port="$(.venv/bin/python -c 'from runtime.sip.kamailio import free_udp_port; print(free_udp_port())')"
    sip=(--sip "127.0.0.1:$sip_port")
fi
log="$(mktemp)"
"${sfm[@]}" serve --port 0 "${sip[@]}" "$@" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$log"' EXIT
.venv/bin/python - "$log" "$server" <<'PY'
import re, socket, sys, time, urllib.request

log, pid = sys.argv[1], sys.argv[2]


def options_answered(host, port):
    """One SIP OPTIONS to Kamailio: True when it answers 200."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        me = s.getsockname()[1]
        s.sendto((
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKruncheck\r\n"
            "From: <sip:check@127.0.0.1>;tag=runcheck\r\nTo: <sip:check@127.0.0.1>\r\n"
            "Call-ID: run-check\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode(), (host, port))
        try:
            return s.recv(4096).startswith(b"SIP/2.0 200")
        except OSError:
            return False

deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    text = open(log, encoding="utf-8").read()
    found = re.findall(r"the PBX host runs on (http://\S+/)", text)
    if found:
        try:
            with urllib.request.urlopen(found[-1] + "login", timeout=5) as answer:
                if answer.status == 200:
                    print(text, end="")
                    print(f"run.sh --check: the PBX host answered on {found[-1]}")
                    sip = re.findall(r"SIP on udp:(\S+):(\d+)", text)
                    if sip and not options_answered(sip[-1][0], int(sip[-1][1])):
                        sys.exit("run.sh --check: Kamailio did not answer SIP OPTIONS")
                    if sip:
                        print(f"run.sh --check: SIP answered on {sip[-1][0]}:{sip[-1][1]}")
                    sys.exit(0)
        except OSError:
            pass
    try:
        import os
        os.kill(int(pid), 0)
    except OSError:
        print(text, end="")
        sys.exit("run.sh --check: sfm serve ended early")
    time.sleep(0.5)
print(open(log, encoding="utf-8").read(), end="")
sys.exit("run.sh --check: sfm serve did not answer within 120 s")
PY
