"""Issue 11, finding 10: a licence cannot be forged by swapping the vendor key.

The key that checks a licence comes from the host's trust store, chosen by the vendor signature
that the build put into the .sfm and that the upload checked; the development key is trusted
only in development mode (`sfm --dev`, SFM_DEV=1). Swapping `licence-public-key.pem` in the data
folder, re-zipping the .sfm with another key, or deleting the .pem of a release-keyed build
forges nothing, and each attempt says why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from runtime.licensing import trust_store
from runtime.licensing.hardware_id import hardware_id
from runtime.licensing.licence import DEVELOPMENT_SIGNING_KEY, issue_licence, load_private_key
from sfm_build.build import BuildOptions, build
from sfm_format.signature import SIGNATURE_ENTRY, sign_entries
from tests.data.sfm_crafted import (
    BUILD_NUMBER,
    MODULE_ID,
    entries,
    run_sfm,
    tree_digest,
    write_zip,
)
from tests.test_api import _upload, api, data
from tests.vendor_keys import new_vendor_key, signing_with

__all__ = ["api", "data"]  # the HTTP API fixtures, imported to be found by pytest

REPO = Path(__file__).resolve().parents[1]
KEY_FILE = "licence-public-key.pem"


def _build(out: Path) -> Path:
    result = build(
        BuildOptions(
            source=REPO / "module_src", out=out, variants=("current",), report=lambda s: None
        )
    )
    (sfm,) = [a.path for a in result.artifacts if a.path.suffix == ".sfm"]
    return sfm


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The development-signed build, a release build signed with a vendor key, and that key."""
    tmp = tmp_path_factory.mktemp("signed-builds")
    release_key, _ = new_vendor_key(tmp, "release")
    with signing_with(release_key):
        release = _build(tmp / "release")
    yield {
        "dev": _build(tmp / "dev"),
        "release": release,
        "release-key": release_key,
        "release-trust": tmp / "trusted",
    }


def licence_file(
    folder: Path, data: Path, key: Ed25519PrivateKey, email: str = "chef@example.com"
) -> Path:
    path = folder / f"{email}.licence"
    path.write_text(
        issue_licence(
            key,
            module_id=MODULE_ID,
            hardware_id=hardware_id(data),
            email=email,
            max_build=BUILD_NUMBER,
            issued=datetime(2026, 11, 30, tzinfo=UTC).isoformat(),
        )
    )
    return path


def dev_key() -> Ed25519PrivateKey:
    return load_private_key(DEVELOPMENT_SIGNING_KEY.read_bytes(), "dev key")


def status(data: Path) -> dict[str, object]:
    code, out, err = run_sfm("--data", data, "licence", "status", "--json")
    assert code == 0, err
    return dict(json.loads(out))


def installed_folder(data: Path) -> Path:
    (folder,) = (data / "modules" / MODULE_ID).iterdir()
    return folder


def nothing_installed(data: Path) -> bool:
    code, out, _ = run_sfm("--data", data, "module", "list", "--json")
    return code == 0 and json.loads(out) in ([], {"modules": []})


def test_the_development_key_is_trusted_only_in_development_mode(
    tmp_path: Path, builds: dict[str, Path]
) -> None:
    """Real processes: `sfm module install` of a development-signed .sfm is refused, saying
    how to allow it; with `sfm --dev` it installs."""
    env = {k: v for k, v in os.environ.items() if k != "SFM_DEV"}
    data = tmp_path / "pbx"
    sfm = [sys.executable, "-m", "sfm_cli.main", "--data", str(data)]
    refused = subprocess.run(
        [*sfm, "module", "install", str(builds["dev"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert refused.returncode == 2, refused.stderr
    assert "signed with the development key" in refused.stderr
    assert "sfm --dev" in refused.stderr and "nothing was installed" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (data / "modules" / MODULE_ID).exists()
    allowed = subprocess.run(
        [*sfm, "--dev", "module", "install", str(builds["dev"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert allowed.returncode == 0, allowed.stderr
    assert (data / "modules" / MODULE_ID).is_dir()


def test_an_unsigned_module_is_refused_outside_development_mode(
    tmp_path: Path, builds: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    items = entries(builds["dev"])
    del items[SIGNATURE_ENTRY]
    unsigned = write_zip(tmp_path / "unsigned.sfm", items)
    monkeypatch.delenv("SFM_DEV")
    data = tmp_path / "pbx"
    code, _, err = run_sfm("--data", data, "module", "install", unsigned)
    assert code == 2
    assert "unsigned.sfm: the module carries no vendor signature" in err
    assert not (data / "modules" / MODULE_ID).exists()


@pytest.mark.parametrize(
    "how", ["key-file-replaced", "re-signed-by-forger", "forger-names-dev-key"]
)
def test_a_re_zipped_sfm_with_another_key_is_refused(
    tmp_path: Path, builds: dict[str, Path], how: str
) -> None:
    """Even in development mode: a forger's key is in no trust store, and the signature covers
    every file of the .sfm, its licence-public-key.pem included."""
    forger = Ed25519PrivateKey.generate()
    forged_pem = tmp_path / "forger.pem"
    forged_pem.write_bytes(forger.public_key().public_bytes_raw())  # any other bytes will do
    items = entries(builds["dev"])
    items[KEY_FILE] = forged_pem.read_bytes()
    rest = {n: d for n, d in items.items() if n != SIGNATURE_ENTRY}
    if how == "re-signed-by-forger":
        items[SIGNATURE_ENTRY] = sign_entries(rest, MODULE_ID, forger)
    elif how == "forger-names-dev-key":
        document = json.loads(sign_entries(rest, MODULE_ID, forger))
        document["key_id"] = trust_store.development_key().key_id
        items[SIGNATURE_ENTRY] = json.dumps(document).encode()
    forged = write_zip(tmp_path / "forged.sfm", items)
    data = tmp_path / "pbx"
    code, _, err = run_sfm("--data", data, "module", "install", forged)
    assert code == 2, err
    expected = {
        "key-file-replaced": f"the file '{KEY_FILE}' was changed after the vendor signed it",
        "re-signed-by-forger": "which is not in this host's trust store of vendor keys",
        "forger-names-dev-key": "the vendor signature does not match its list of files",
    }[how]
    assert err.startswith("sfm: forged.sfm") and expected in err, err
    assert "nothing was installed" in err
    assert not (data / "modules" / MODULE_ID).exists()


def test_swapping_the_key_file_in_the_data_folder_forges_no_licence(
    tmp_path: Path, builds: dict[str, Path]
) -> None:
    data = tmp_path / "pbx"
    assert run_sfm("--data", data, "module", "install", builds["dev"])[0] == 0
    forger = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization

    (installed_folder(data) / KEY_FILE).write_bytes(
        forger.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    forged = licence_file(tmp_path, data, forger, "forged@evil.example")
    code, out, err = run_sfm("--data", data, "licence", "import", forged)
    assert code == 2 and "not issued by this module's vendor" in err
    assert "forged@evil.example" not in out
    assert status(data)["state"] == "trial"
    # The vendor's own licence still works: the file in the data folder plays no part.
    genuine = licence_file(tmp_path, data, dev_key())
    assert run_sfm("--data", data, "licence", "import", genuine)[0] == 0
    assert status(data)["email"] == "chef@example.com"


@pytest.mark.parametrize("dev_mode", [False, True], ids=["release-host", "dev-mode-host"])
def test_a_release_build_without_its_key_file_does_not_fall_back_to_the_development_key(
    tmp_path: Path, builds: dict[str, Path], monkeypatch: pytest.MonkeyPatch, dev_mode: bool
) -> None:
    """The release key is in the host's trust store (here: the release folder of this host);
    the licence must be signed by it, whatever happens to the .pem in the data folder."""
    monkeypatch.setattr(trust_store, "RELEASE_KEYS_DIR", builds["release-trust"])
    if not dev_mode:
        monkeypatch.delenv("SFM_DEV")
    data = tmp_path / "pbx"
    code, _, err = run_sfm("--data", data, "module", "install", builds["release"])
    assert code == 0, err
    (installed_folder(data) / KEY_FILE).unlink()
    dev_signed = licence_file(tmp_path, data, dev_key(), "forged@evil.example")
    code, _, err = run_sfm("--data", data, "licence", "import", dev_signed)
    assert code == 2 and "not issued by this module's vendor" in err
    assert status(data)["state"] == "trial"
    release = load_private_key(builds["release-key"].read_bytes(), "release key")
    genuine = licence_file(tmp_path, data, release)
    code, _, err = run_sfm("--data", data, "licence", "import", genuine)
    assert code == 0, err
    assert status(data) == {
        "state": "licensed",
        "days_left": None,
        "email": "chef@example.com",
        "expires": None,
    }


def test_a_release_host_refuses_licences_of_a_module_it_does_not_know(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside development mode a licence for a module that is not installed has no key."""
    monkeypatch.delenv("SFM_DEV")
    data = tmp_path / "pbx"
    from runtime.db import connect
    from runtime.licensing.trial import record_install

    conn = connect(data)
    record_install(conn, MODULE_ID)
    conn.close()
    licence = licence_file(tmp_path, data, dev_key())
    code, _, err = run_sfm("--data", data, "licence", "import", licence)
    assert code == 2 and "is not installed on this PBX, so no vendor key" in err


def test_the_http_api_refuses_a_re_signed_upload_with_400_and_changes_nothing(
    api: httpx.Client, data: Path, tmp_path: Path, builds: dict[str, Path]
) -> None:
    """The same check on the web host's upload path: 400 naming the file and why."""
    assert _upload(api, builds["dev"]).status_code == 201
    before = tree_digest(data)
    items = entries(builds["dev"])
    rest = {n: d for n, d in items.items() if n != SIGNATURE_ENTRY}
    items[SIGNATURE_ENTRY] = sign_entries(rest, MODULE_ID, Ed25519PrivateKey.generate())
    forged = write_zip(tmp_path / "forged.sfm", items)
    answer = _upload(api, forged)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert "forged.sfm" in error and "not in this host's trust store" in error
    assert tree_digest(data) == before


def test_a_build_with_a_signing_key_that_is_not_ed25519_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = tmp_path / "rsa.pem"
    key.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv("SFM_SIGNING_KEY", str(key))
    out = tmp_path / "out"
    code, _, err = run_sfm("build", "--out", out, "--variant", "current")
    assert code == 2
    assert f"{key}: the signing key must be an Ed25519 key" in err
    assert not list(out.glob("*.sfm"))
