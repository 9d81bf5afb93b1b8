"""`sfm licence-server` as the vendor runs it: a real process, purchases added with
`add-purchase`, and a PBX verifying through `sfm licence verify/confirm` (also processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_licence_harness import MODULE, Inbox, code_from, free_port, running_inbox

REPO = Path(__file__).resolve().parents[1]


def sfm(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sfm_cli.main", *map(str, argv)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'module_src'}"},
    )


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with running_inbox() as box:
        yield box


def test_licence_server_command_end_to_end(tmp_path: Path, inbox: Inbox) -> None:
    db = tmp_path / "service"
    data = tmp_path / "pbx"
    port = free_port()
    added = sfm(
        "licence-server",
        "add-purchase",
        "--db",
        db,
        "--email",
        "Chef@Example.com",
        "--module",
        MODULE,
        "--json",
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {
        "email": "chef@example.com",
        "module": MODULE,
        "max_build": 261,
    }
    refused = sfm(
        "licence-server",
        "add-purchase",
        "--db",
        db,
        "--email",
        "a@b.de\r\nBcc: c@d.de",
        "--module",
        MODULE,
    )
    assert refused.returncode == 2 and "--email" in refused.stderr

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sfm_cli.main",
            "licence-server",
            "--db",
            str(db),
            "--smtp",
            f"127.0.0.1:{inbox.port}",
            "--port",
            str(port),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'module_src'}"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                if httpx.get(f"{url}/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the licence server did not come up"
            time.sleep(0.1)

        install = sfm("--data", data, "licence", "status")
        assert install.returncode == 2  # nothing installed yet: refused, not a crash
        from runtime.db import connect
        from runtime.licensing.trial import record_install

        conn = connect(data)
        record_install(conn, MODULE)
        conn.close()

        asked = sfm(
            "licence", "verify", "--data", data, "--email", "chef@example.com", "--server", url
        )
        assert asked.returncode == 0, asked.stderr
        (mail,) = inbox.wait_for(1)
        confirmed = sfm("licence", "confirm", "--data", data, "--code", code_from(mail), "--json")
        assert confirmed.returncode == 0, confirmed.stderr
        assert json.loads(confirmed.stdout) == {
            "state": "licensed",
            "days_left": None,
            "email": "chef@example.com",
            "expires": None,
        }
    finally:
        server.terminate()
        _, err = server.communicate(timeout=20)
    assert "DEVELOPMENT key" in err  # no --signing-key: it says so


def test_licence_server_refuses_bad_options(tmp_path: Path) -> None:
    bad_smtp = sfm("licence-server", "--db", tmp_path, "--smtp", "nohostport")
    assert bad_smtp.returncode == 2 and "--smtp" in bad_smtp.stderr
    key = tmp_path / "not-a-key.pem"
    key.write_text("hello")
    bad_key = sfm("licence-server", "--db", tmp_path, "--signing-key", key)
    assert bad_key.returncode == 2 and "not-a-key.pem" in bad_key.stderr
