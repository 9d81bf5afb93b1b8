"""`sfm call`: route one call through the Java routing core and every active instance.

Without --pbx the call goes through the PBX host built from the data folder (installed
modules, their instances and licence state). With --pbx it is a simulation that uses only the
given files: the directory, and the instance files (--instance, repeatable) run by the
in-tree Breakthrough module code; no data folder is read or written and no licence is needed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from runtime.errors import Refused
from sfm_cli.output import emit

SIMULATION_MODULE_ID = "breakthrough"


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `call`."""
    call = sub.add_parser(
        "call",
        parents=[common],
        help="route one call through the routing core and the module's instances",
        description=(
            "Route one call from --from to --to and print what happened: outcome, who rings, "
            "forwards, the originally called party shown, which instances applied, module "
            "errors. With --pbx: a simulation with only the given files."
        ),
    )
    call.add_argument(
        "--from",
        dest="caller",
        required=True,
        metavar="N",
        help='the caller number as signalled; "anonymous" is a withheld number',
    )
    call.add_argument(
        "--to", dest="called", required=True, metavar="N", help="the called number as signalled"
    )
    call.add_argument(
        "--pbx",
        type=Path,
        metavar="DIR.toml",
        help="simulate with this PBX directory instead of the host in --data",
    )
    call.add_argument(
        "--instance",
        type=Path,
        action="append",
        default=[],
        metavar="INSTANCE.toml",
        help="an instance configuration for the simulation (repeatable; needs --pbx)",
    )
    call.set_defaults(func=run)


def simulate(pbx: Path, instances: list[Path], caller: str, called: str) -> dict[str, Any]:
    """Route one call with only these files: the `sfm call` document. No data folder."""
    from breakthrough.config import load_instance_file
    from breakthrough.hook import BreakthroughHook
    from breakthrough.number_forms import NumberPlan
    from breakthrough.rules import compile_instance
    from runtime.pbx_directory import load_directory
    from runtime.routing_host import RoutingHost

    directory = load_directory(pbx)
    configs = [load_instance_file(path) for path in instances]
    names = [c.name for c in configs]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise Refused(
                f"{instances[i]}: an instance named {name!r} is already given "
                f"({instances[names.index(name)]}); instance names are unique."
            )
    p = directory.plan
    plan = NumberPlan(p.country_code, p.area_code, p.international_prefix, p.national_prefix)
    hook = BreakthroughHook([compile_instance(cfg, plan) for cfg in configs])
    host = RoutingHost()
    try:
        host.load_directory(directory)
        if configs:
            host.register_in_process_hook(SIMULATION_MODULE_ID, hook)
        return host.route(caller, called)
    finally:
        host.close()


def route_installed(data_dir: Path, caller: str, called: str) -> dict[str, Any]:
    """Route one call through the host built from the data folder."""
    try:
        from runtime.host import load_host  # written by the module manager's part
    except ModuleNotFoundError as exc:
        if exc.name != "runtime.host":
            raise  # a real bug inside the host, not a missing part
        raise Refused(
            "sfm call without --pbx needs the PBX host (runtime.host), which is not part of "
            "this installation yet; use --pbx DIR.toml [--instance INSTANCE.toml ...]."
        ) from None
    host = load_host(data_dir)
    try:
        result: dict[str, Any] = host.route(caller, called)
        return result
    finally:
        host.close()


def describe(caller: str, called: str, result: dict[str, Any]) -> str:
    """One or two lines for people."""
    outcome = result["outcome"]
    rings = ", ".join(result["rings"])
    forwards = " -> ".join(result["forwarded_to"])
    if outcome == "ring":
        what = f"rings {rings}"
    elif outcome == "waiting":
        what = f"is offered to {rings} as a waiting call"
    elif outcome == "forward":
        what = f"leaves the PBX for {result['forwarded_to'][-1]}"
    elif outcome == "voicemail":
        what = "goes to voicemail"
    else:
        what = "gets busy"
    line = f"Call from {caller} to {called} {what}"
    if forwards:
        line += f" (forwarded to {forwards}; shown as for {result['originally_called']})"
    lines = [line + "."]
    extra = []
    if result["applied"]:
        extra.append(
            "applied: "
            + "; ".join(
                f"{a['instance']} ({', '.join(a['effects']) or 'no effects'})"
                for a in result["applied"]
            )
        )
    if result["module_errors"]:
        extra.append("module errors: " + "; ".join(result["module_errors"]))
    if extra:
        lines.append(" ".join(extra))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.instance and args.pbx is None:
        raise Refused("--instance is for the simulation and needs --pbx DIR.toml.")
    if args.pbx is not None:
        result = simulate(args.pbx, list(args.instance), args.caller, args.called)
    else:
        result = route_installed(args.data, args.caller, args.called)
    emit(args, result, describe(args.caller, args.called, result))
    return 0
