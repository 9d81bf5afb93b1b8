"""`sfm serve`: the PBX host with the admin's web page, the JSON API and the routing core."""

from __future__ import annotations

import argparse
import socket
from typing import Any

from runtime.errors import Refused


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `serve` subcommand."""
    serve = sub.add_parser(
        "serve",
        parents=[common],
        help="run the PBX host: web page, HTTP API (/api/), routing core",
        description=(
            "Run the PBX host on the data folder: the admin's web page (login needed), the "
            "module manager's JSON API under /api/, and the routing core. On the first start it "
            "prints a one-time link to set the admin password."
        ),
    )
    serve.add_argument(
        "--port", type=int, default=8080, help="TCP port (default 8080; 0 picks a free one)"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only)",
    )
    serve.add_argument(
        "--sip",
        metavar="HOST:PORT",
        default=None,
        help="also take SIP calls there (UDP), with Kamailio as the host's supervised SIP front",
    )
    serve.add_argument(
        "--no-realtime",
        dest="realtime",
        action="store_false",
        help=(
            "with --sip: decide calls at normal priority (default: the decision threads and "
            "the modules' call threads run at real-time priority on one CPU where the kernel "
            "allows it; see docs/USING.md)"
        ),
    )
    serve.add_argument(
        "--no-idle-polling",
        dest="idle_polling",
        action="store_false",
        help=(
            "with --sip: let idle CPUs sleep as the kernel chooses (default: they poll while "
            "the host takes calls, where the kernel allows it, so a woken thread runs at once; "
            "see docs/USING.md)"
        ),
    )
    serve.add_argument(
        "--trusted-proxy",
        dest="trusted_proxies",
        action="append",
        default=[],
        metavar="ADDRESS",
        help=(
            "a reverse proxy's address whose X-Forwarded-For is believed (repeatable; default "
            "none: the login throttle counts the connecting address)"
        ),
    )
    serve.set_defaults(func=run)


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is printed, so the URL we print works."""
    if not 0 <= port <= 65535:
        raise Refused(f"--port {port}: a port is a number from 0 to 65535.")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Refused(f"--host {host!r}: not an address of this machine ({exc}).") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise Refused(
            f"--host {host} --port {port}: cannot listen there ({exc.strerror})."
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted. Prints the URL, and the setup link while no password is set."""
    import uvicorn

    from runtime.licensing.trial_keeper import TrialKeeper
    from runtime.web.app import create_app, setup_link

    sip_address = None
    if args.sip:
        from runtime.sip.kamailio import parse_sip_address

        sip_address = parse_sip_address(args.sip)
    sock = _bind(args.host, args.port)
    port = sock.getsockname()[1]
    shown_host = args.host if args.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    url = f"http://{shown_host}:{port}/"
    front, idle = (
        _start_sip(
            args.data, sip_address, realtime=args.realtime, idle_polling=args.idle_polling
        )
        if sip_address is not None
        else (None, None)
    )
    app = create_app(
        args.data,
        host=None if front is None else front.host,
        trusted_proxies=frozenset(args.trusted_proxies),
    )
    link = setup_link(args.data, url)
    print(f"sfm serve: data folder {args.data.resolve()}", flush=True)
    if link is not None:
        print("sfm serve: no admin password yet; set it once with this link:", flush=True)
        print(f"  {link}", flush=True)
    print(f"sfm serve: the PBX host runs on {url}", flush=True)
    # proxy_headers off: uvicorn would believe X-Forwarded-For from 127.0.0.1 by default, and a
    # client could then pick a fresh address per password guess. The app itself believes it
    # only from --trusted-proxy addresses (runtime.web.login.client_address).
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", proxy_headers=False
    )
    server = uvicorn.Server(config)
    keeper = TrialKeeper(args.data).start()  # trial checkpoints, off the call path
    try:
        if front is not None:
            print(f"sfm serve: SIP on udp:{front.address.host}:{front.address.port}", flush=True)
        server.run(sockets=[sock])
    finally:
        if front is not None:
            front.stop()
            front.host.close()  # the host it runs on is ours, not the web app's
        if idle is not None:
            idle.release()
        keeper.stop()
        sock.close()
    return 0


def _start_sip(
    data: Any, address: Any, *, realtime: bool, idle_polling: bool
) -> tuple[Any, Any]:
    """The routing host, Kamailio and the decision service (the web page then uses this host),
    and the request that keeps idle CPUs polling or None. With `realtime`, the call path at
    real-time priority, with `idle_polling` idle CPUs polling, each where the kernel allows it
    (log lines say which). Refused (nothing started) when no PBX directory is loaded."""
    import logging

    from runtime.cpu_latency import request_polling_idle
    from runtime.host import open_host
    from runtime.realtime import choose
    from runtime.sip.front import SipFront

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("sfm serve: %(message)s"))
    sip_log = logging.getLogger("sfm.sip")
    sip_log.addHandler(handler)
    sip_log.setLevel(logging.INFO)
    placement, placement_line = (
        choose()
        if realtime
        else (None, "the call path runs at normal priority (--no-realtime)")
    )
    sip_log.info("sip: %s", placement_line)
    host = open_host(data, realtime=placement)
    front = SipFront(host, data, address)
    try:
        front.start()
    except BaseException:
        host.close()
        raise
    # Asked once the front runs: a start that is refused leaves the CPUs as they were.
    idle, idle_line = (
        request_polling_idle()
        if idle_polling
        else (None, "idle CPUs sleep as the kernel chooses (--no-idle-polling)")
    )
    sip_log.info("sip: %s", idle_line)
    return front, idle
