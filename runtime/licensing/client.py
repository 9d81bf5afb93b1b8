"""The PBX's side of the e-mail verification: asking the licence service, then confirming.

The service is needed only to obtain a licence. When it cannot be reached, the command is
refused with a message saying so, nothing is stored, and the module's state stays as it was.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from runtime.errors import Refused
from runtime.licensing.email_address import normalise_email
from runtime.licensing.hardware_id import hardware_id as this_hardware_id
from runtime.licensing.installed import installed_module, licence_public_key
from runtime.licensing.licence import Licence
from runtime.licensing.licence_store import (
    PendingRequest,
    pending_request,
    save_request,
    store_licence,
)
from runtime.licensing.server.codes import CODE_PATTERN
from runtime.licensing.trial import epoch_of

DEFAULT_SERVER = "http://127.0.0.1:8471"
TIMEOUT_SECONDS = 15.0


def post_json(
    server: str, path: str, body: dict[str, Any], timeout: float = TIMEOUT_SECONDS
) -> dict[str, Any]:
    """POST JSON to the service; the answer's JSON, or Refused with the service's reason."""
    if not server.startswith(("http://", "https://")):
        raise Refused(f"--server: {server!r} is not an http:// or https:// address")
    url = server.rstrip("/") + path
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read()).get("error") or exc.reason
        except (ValueError, AttributeError, OSError):
            reason = exc.reason
        raise Refused(f"the licence service at {server} refused: {reason}") from None
    except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, resets
        why = getattr(exc, "reason", exc)
        raise Refused(
            f"the licence service at {server} cannot be reached ({why}); nothing was changed "
            "and the module keeps its current licence state"
        ) from None
    except json.JSONDecodeError:
        raise Refused(f"the licence service at {server} did not answer with JSON") from None
    if not isinstance(answer, dict):
        raise Refused(f"the licence service at {server} did not answer with a JSON object")
    return answer


def request_verification(
    conn: sqlite3.Connection,
    data_dir: Path,
    module_id: str,
    email: str,
    server: str = DEFAULT_SERVER,
    *,
    hardware_id: str | None = None,
) -> PendingRequest:
    """Ask the service to mail a code to `email` for `module_id`; remember the request.

    Refused (nothing stored) for an invalid address or when the service cannot be reached or
    refuses. The service answers the same whether or not the address bought the module.
    """
    address = normalise_email(email, "--email")
    hw = this_hardware_id(data_dir, hardware_id)
    answer = post_json(
        server, "/api/v1/verify", {"module_id": module_id, "hardware_id": hw, "email": address}
    )
    request_id = answer.get("request_id")
    if not isinstance(request_id, str) or not request_id:
        raise Refused(f"the licence service at {server} answered without a request id")
    pending = PendingRequest(module_id, address, server, request_id, epoch_of(None))
    save_request(conn, pending)
    return pending


def confirm_code(
    conn: sqlite3.Connection,
    data_dir: Path,
    module_id: str,
    code: str,
    server: str | None = None,
    *,
    hardware_id: str | None = None,
    public_key_pem: bytes | None = None,
) -> Licence:
    """Send the mailed code; check the licence the service returns offline and store it.

    Refused (nothing stored) when no verification is pending, the code is malformed or wrong,
    the service cannot be reached, or the licence does not fit this PBX and module.
    """
    code = code.strip()
    if not CODE_PATTERN.match(code):
        raise Refused(f"--code: {code!r} is not the 6-digit code from the e-mail")
    pending = pending_request(conn, module_id)
    if pending is None:
        raise Refused(
            f"no verification is pending for module {module_id}: "
            "run `sfm licence verify --email ADDRESS` first"
        )
    service = server or pending.server
    answer = post_json(service, "/api/v1/confirm", {"request_id": pending.request_id, "code": code})
    document = answer.get("licence")
    if not isinstance(document, str):
        raise Refused(f"the licence service at {service} answered without a licence")
    return _store_for_this_pbx(
        conn,
        data_dir,
        module_id,
        document,
        f"the licence from {service}",
        hardware_id=hardware_id,
        public_key_pem=public_key_pem,
    )


def import_licence_file(
    conn: sqlite3.Connection,
    data_dir: Path,
    module_id: str,
    path: Path,
    *,
    hardware_id: str | None = None,
    public_key_pem: bytes | None = None,
) -> Licence:
    """Import an offline licence file for `module_id`; refused naming the file and why."""
    try:
        document = path.read_bytes()
    except OSError as exc:
        raise Refused(f"{path}: cannot read the licence file ({exc.strerror})") from None
    return _store_for_this_pbx(
        conn,
        data_dir,
        module_id,
        document,
        str(path),
        hardware_id=hardware_id,
        public_key_pem=public_key_pem,
    )


def _store_for_this_pbx(
    conn: sqlite3.Connection,
    data_dir: Path,
    module_id: str,
    document: str | bytes,
    source: str,
    *,
    hardware_id: str | None,
    public_key_pem: bytes | None,
) -> Licence:
    """Check `document` against this PBX, the installed build and the vendor key; store it."""
    installed = installed_module(conn, module_id)
    return store_licence(
        conn,
        document,
        module_id=module_id,
        hardware_id=this_hardware_id(data_dir, hardware_id),
        build=installed.build_number if installed else None,
        public_key_pem=public_key_pem or licence_public_key(conn, data_dir, module_id),
        source=source,
        now_epoch=epoch_of(None),
    )
