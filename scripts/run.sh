#!/usr/bin/env bash
# The main job: set everything up, build the .sfm files, prepare an embedded SQLite data folder
# (./var, $SFM_HOME, or --data DIR) with a sample PBX directory, install the fresh build there
# (the 14-day trial starts with the first install) and run the PBX host with its web page.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    cat <<'TEXT'
usage: scripts/run.sh [--data DIR] [--check] [SERVE OPTIONS]

Installs what is missing, builds dist/*.sfm, installs the current build into the data folder
and runs the PBX host (web page and JSON API) until Ctrl-C.

  --data DIR     the PBX host's data folder (default: $SFM_HOME, else ./var)
  --check        start, check that the web page answers, stop again
  --port N       the web page's port (default 8080); any other option goes to `sfm serve`
  -h, --help     show this text and do nothing else

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

if [ "$check" = 0 ]; then
    exec "${sfm[@]}" serve "$@"
fi

# --check: serve on a free port, wait until the login page answers, then stop again.
log="$(mktemp)"
"${sfm[@]}" serve --port 0 "$@" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$log"' EXIT
.venv/bin/python - "$log" "$server" <<'PY'
import re, sys, time, urllib.request

log, pid = sys.argv[1], sys.argv[2]
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
