#!/usr/bin/env bash
# Installs what Breakthrough needs on a fresh Debian 12 machine with Python 3.11:
# a JDK (javac builds the module and the host), the log API jars modules use, a virtualenv in .venv with the project,
# and with "--test" the test tools and Debian's chromium for the browser tests.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

apt_missing=()
# The host's Java core is compiled for Java 17 (runtime/jvm.py, JAVA_RELEASE).
javac_major=$(javac -version 2>&1 | sed -n 's/^javac \([0-9]*\).*/\1/p' || true)
[ "${javac_major:-0}" -ge 17 ] 2>/dev/null || apt_missing+=(openjdk-17-jdk-headless)
# The log APIs that STARFACE modules call (runtime/jvm_src/flavors/log_apis.toml).
[ -f /usr/share/java/commons-logging.jar ] || apt_missing+=(libcommons-logging-java)
[ -f /usr/share/java/log4j-api.jar ] || apt_missing+=(liblog4j2-java)
if [ "$want_test" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
    apt_missing+=(chromium fonts-dejavu-core)
fi
# faketime: the licensing tests run real processes under a stepped wall clock.
if [ "$want_test" = 1 ] && ! command -v faketime >/dev/null 2>&1; then
    apt_missing+=(faketime)
fi
# Kamailio is the SIP front of `sfm serve --sip` (scripts/run.sh uses it); its HTTP client
# (http_client) is in the utils modules.
command -v kamailio >/dev/null 2>&1 || apt_missing+=(kamailio)
[ -n "$(find /usr/lib -name http_client.so -path '*kamailio*' 2>/dev/null | head -1)" ] \
    || apt_missing+=(kamailio-utils-modules kamailio-extra-modules)
if [ "$want_test" = 1 ]; then
    command -v sipp >/dev/null 2>&1 || apt_missing+=(sip-tester)
    command -v baresip >/dev/null 2>&1 || apt_missing+=(baresip-core)
fi
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_missing+=(python3-venv)
fi
if [ "${#apt_missing[@]}" -gt 0 ]; then
    echo "setup: installing Debian packages: ${apt_missing[*]}"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# The test extras include everything the base install has, so a fresh test stamp does for both.
extras=""
[ "$want_test" = 1 ] && extras="[test]"
fresh() { [ -f "$1" ] && [ ! pyproject.toml -nt "$1" ]; }
if ! fresh ".venv/.installed${extras}" && ! fresh ".venv/.installed[test]"; then
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e ".${extras}"
    touch ".venv/.installed${extras}"
fi
