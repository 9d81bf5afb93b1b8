#!/usr/bin/env bash
# The main job: set everything up, build the .sfm files, prepare an embedded SQLite data folder
# (default ./var, or $SFM_HOME) with a sample PBX directory, install the fresh build there (the
# 14-day trial starts with the first install) and run the PBX host with its web page.
#
#   scripts/run.sh                 serve on http://127.0.0.1:8080/ until Ctrl-C
#   scripts/run.sh --port 9000     any further options go to `sfm serve`
#   scripts/run.sh --check         start, check that the page answers, stop (for CI)
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
