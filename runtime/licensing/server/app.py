"""The licence service's HTTP API (Starlette), served by `sfm licence-server` with uvicorn.

POST /api/v1/verify  {module_id, hardware_id, email} -> 202 {request_id, expires_in, message}
    Mails a one-time code if `email` bought `module_id`; answers exactly the same otherwise,
    so nobody can probe who bought. Rate-limited per e-mail address and per PBX (429).
POST /api/v1/confirm {request_id, code} -> 200 {licence}  (the signed licence file as text)
    400 wrong code (tries left), 410 expired or used, 423 locked after 5 wrong codes.
POST /api/v1/trial {module_id, hardware_id} -> 200 {started_at, now, first, message}
    Registers the trial of a module on a PBX. Only the first registration starts one: later
    ones (a new data folder, a deleted database row on the same machine) get the first start
    back with first = false, and the PBX counts its trial from it by the service's clock.
    New registrations are rate-limited per client address (429); known trials never are.
GET  /api/v1/health -> 200 {ok: true}
Every refusal is a JSON object {"error": "..."} naming the field or the reason.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from runtime.errors import Refused
from runtime.json_request import json_object
from runtime.licensing.email_address import normalise_email
from runtime.licensing.hardware_id import HARDWARE_ID_PATTERN
from runtime.licensing.licence import issue_licence
from runtime.licensing.server import codes, mailer, store

log = logging.getLogger("licence-service")

REQUESTS_PER_EMAIL_PER_HOUR = 5
REQUESTS_PER_PBX_PER_HOUR = 10
# New trials one client address may register per hour. A PBX registers one per module, and asking
# again about a known trial is never limited; the limit stops one address from filling the
# service with trials for made-up hardware ids.
NEW_TRIALS_PER_ADDRESS_PER_HOUR = 20
MODULE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
SENT_ANSWER = (
    "Falls diese E-Mail-Adresse das Modul gekauft hat, wurde ein Bestätigungscode an sie "
    "gesendet. / If this e-mail address has bought the module, a verification code has been "
    "sent to it."
)


@dataclass(frozen=True)
class ServiceConfig:
    """What the service needs: where its data lives, how it mails, what it signs with."""

    db_dir: Path
    smtp_host: str
    smtp_port: int
    signing_key: Ed25519PrivateKey
    sender: str = mailer.DEFAULT_SENDER
    module_names: tuple[tuple[str, str], ...] = ()  # (module id, name) for the mail text
    clock: Callable[[], float] = time.time


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _text_field(body: dict[str, Any], name: str, pattern: re.Pattern[str], what: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not pattern.match(value):
        raise Refused(f"field '{name}': {what} expected")
    return value


def _module_and_hardware(body: dict[str, Any]) -> tuple[str, str]:
    """The fields every request about one PBX's module carries; Refused naming a bad one."""
    module_id = _text_field(body, "module_id", MODULE_ID_PATTERN, "a module id")
    hardware_id = _text_field(body, "hardware_id", HARDWARE_ID_PATTERN, "32 lowercase hex digits")
    return module_id, hardware_id


def create_app(config: ServiceConfig) -> Starlette:
    """The licence service as an ASGI app (one SQLite connection, serialised by a lock)."""
    conn = store.open_store(config.db_dir)
    lock = threading.Lock()
    names = dict(config.module_names)

    def send_code(email: str, code: str, module_id: str) -> None:
        # Runs after the answer went out, so a known address answers as fast as an unknown one.
        try:
            message = mailer.verification_message(
                email, code, names.get(module_id, module_id), config.sender
            )
            mailer.send(message, config.smtp_host, config.smtp_port)
        except (OSError, Refused) as exc:
            log.error("could not mail the verification code to %s: %s", email, exc)

    async def verify(request: Request) -> JSONResponse:
        try:
            body = await json_object(request)
            module_id, hardware_id = _module_and_hardware(body)
            email = normalise_email(body.get("email"), "field 'email'")
        except Refused as exc:
            return _error(400, str(exc))
        now = int(config.clock())
        with lock, store.immediate(conn):
            since = now - 3600
            if (
                store.recent_requests(conn, "email", email, since) >= REQUESTS_PER_EMAIL_PER_HOUR
                or store.recent_requests(conn, "hardware_id", hardware_id, since)
                >= REQUESTS_PER_PBX_PER_HOUR
            ):
                return _error(
                    429,
                    "too many verification requests for this e-mail address or this PBX; "
                    "try again in an hour",
                    {"Retry-After": "3600"},
                )
            bought = store.entitlement(conn, email, module_id) is not None
            request_id = codes.new_request_id()
            code = codes.new_code()
            store.insert_request(
                conn,
                store.VerificationRequest(
                    id=request_id,
                    email=email,
                    module_id=module_id,
                    hardware_id=hardware_id,
                    code_hash=codes.code_hash(request_id, code) if bought else None,
                    created_at=now,
                    expires_at=now + codes.CODE_TTL_SECONDS,
                    wrong_tries=0,
                    state="open",
                ),
            )
        task = BackgroundTask(send_code, email, code, module_id) if bought else None
        return JSONResponse(
            {
                "request_id": request_id,
                "expires_in": codes.CODE_TTL_SECONDS,
                "message": SENT_ANSWER,
            },
            status_code=202,
            background=task,
        )

    async def confirm(request: Request) -> JSONResponse:
        try:
            body = await json_object(request)
            request_id = body.get("request_id")
            if not isinstance(request_id, str) or not 0 < len(request_id) <= 64:
                raise Refused("field 'request_id': the id from the verify answer expected")
            code = _text_field(body, "code", codes.CODE_PATTERN, "a 6-digit code")
        except Refused as exc:
            return _error(400, str(exc))
        now = int(config.clock())
        with lock, store.immediate(conn):
            pending = store.get_request(conn, request_id)
            if pending is None:
                return _error(404, "no such verification request; ask for a new code")
            if pending.state == "used":
                return _error(410, "this code was already used; ask for a new code")
            if pending.state == "locked":
                return _error(
                    423,
                    f"{codes.MAX_WRONG_TRIES} wrong codes: this request is locked; "
                    "ask for a new code",
                )
            if now >= pending.expires_at:
                return _error(
                    410,
                    f"the code has expired ({codes.CODE_TTL_SECONDS // 60} minutes); "
                    "ask for a new code",
                )
            if not codes.code_matches(request_id, code, pending.code_hash):
                tries = pending.wrong_tries + 1
                locked = tries >= codes.MAX_WRONG_TRIES
                store.set_request_outcome(conn, request_id, tries, "locked" if locked else "open")
                if locked:
                    return _error(
                        423,
                        f"wrong code, {codes.MAX_WRONG_TRIES} times: this request is locked; "
                        "ask for a new code",
                    )
                left = codes.MAX_WRONG_TRIES - tries
                return _error(400, f"field 'code': wrong code ({left} tries left)")
            max_build = store.entitlement(conn, pending.email, pending.module_id)
            if max_build is None:  # the purchase was removed meanwhile
                return _error(400, "field 'code': wrong code")
            store.set_request_outcome(conn, request_id, pending.wrong_tries, "used")
        document = issue_licence(
            config.signing_key,
            module_id=pending.module_id,
            hardware_id=pending.hardware_id,
            email=pending.email,
            max_build=max_build,
            issued=datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
        )
        return JSONResponse({"licence": document})

    async def trial(request: Request) -> JSONResponse:
        try:
            body = await json_object(request)
            module_id, hardware_id = _module_and_hardware(body)
        except Refused as exc:
            return _error(400, str(exc))
        now = int(config.clock())
        address = request.client.host if request.client else ""
        with lock, store.immediate(conn):
            if (
                store.trial_start(conn, module_id, hardware_id) is None
                and store.recent_trials_from(conn, address, now - 3600)
                >= NEW_TRIALS_PER_ADDRESS_PER_HOUR
            ):
                return _error(
                    429,
                    f"too many new trials from {address} "
                    f"({NEW_TRIALS_PER_ADDRESS_PER_HOUR} an hour); try again in an hour",
                    {"Retry-After": "3600"},
                )
            started, first = store.register_trial(conn, module_id, hardware_id, now, address)
        when = datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds")
        message = (
            "trial started"
            if first
            else f"this PBX started its trial of the module on {when}; no second trial"
        )
        return JSONResponse({"started_at": started, "now": now, "first": first, "message": message})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        conn.close()

    app = Starlette(
        routes=[
            Route("/api/v1/verify", verify, methods=["POST"]),
            Route("/api/v1/confirm", confirm, methods=["POST"]),
            Route("/api/v1/trial", trial, methods=["POST"]),
            Route("/api/v1/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    return app


def add_purchase(db_dir: Path, email: str, module_id: str, max_build: int, now: int) -> str:
    """Record a purchase (the `add-purchase` command); returns the normalised e-mail."""
    address = normalise_email(email, "--email")
    if not MODULE_ID_PATTERN.match(module_id):
        raise Refused(f"--module: {module_id!r} is not a module id")
    if max_build < 1:
        raise Refused(f"--max-build: {max_build} is not a build number (1 or more)")
    conn: sqlite3.Connection = store.open_store(db_dir)
    try:
        store.add_purchase(conn, address, module_id, max_build, now)
    finally:
        conn.close()
    return address
