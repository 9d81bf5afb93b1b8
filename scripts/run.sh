#!/usr/bin/env bash
# The main job: set everything up, build the .sfm files, prepare an embedded SQLite data folder
# (./var, $SFM_HOME, or --data DIR) with a sample PBX directory, install the fresh build there
# (the 14-day trial starts with the first install) and run the PBX host with its web page and
# its SIP front.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    cat <<'TEXT'
usage: scripts/run.sh [--data DIR] [--check] [SERVE OPTIONS]

Installs what is missing, builds dist/*.sfm, installs the current build into the data folder
and runs the PBX host (web page, JSON API, SIP on 127.0.0.1:5060) until Ctrl-C.

  --data DIR       the PBX host's data folder (default: $SFM_HOME, else ./var)
  --check          start on free ports, check that the web page and SIP answer, stop again
  --port N         the web page's port (default 8080)
  --sip HOST:PORT  where SIP listens; any other option goes to `sfm serve` too
  -h, --help       show this text and do nothing else

On the first start the host prints a one-time link to set the admin password.
TEXT
}

check=0
data="${SFM_HOME:-var}"
serve_args=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --check) check=1 ;;
        --data)
            [ "$#" -ge 2 ] || { echo "run.sh: --data needs a folder" >&2; exit 2; }
            data="$2"; shift ;;
        --data=*) data="${1#--data=}" ;;
        *) serve_args+=("$1") ;;
    esac
    shift
done
set -- ${serve_args[@]+"${serve_args[@]}"}
# An absolute path: Kamailio (a child of `sfm serve`) does not run in this folder.
data="$(realpath -m -- "$data")"

scripts/setup.sh
.venv/bin/python build.py

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
