"""The `sfm` command: global options, subcommand dispatch, and the exit codes of INTERFACES.md.

Each area registers its own subcommands from a module in `sfm_cli.commands`; this file only
wires them together. Exit 0: done. Exit 2: input refused (message on stderr, nothing changed).
Exit 1: our own fault.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

# One module per area; each has `register(subparsers, common)`.
COMMAND_MODULES = (
    "sfm_cli.commands.build",
    "sfm_cli.commands.inspect",
    "sfm_cli.commands.rules",
    "sfm_cli.commands.pbx",
    "sfm_cli.commands.call",
    "sfm_cli.commands.module",
    "sfm_cli.commands.instance",
    "sfm_cli.commands.licence",
    "sfm_cli.commands.serve",
    "sfm_cli.commands.admin",
)


def _refusal_types() -> tuple[type[BaseException], ...]:
    """The exception types that mean "input refused" (exit 2), one per part."""
    from breakthrough.errors import ConfigError
    from runtime.errors import Refused
    from sfm_build.errors import BuildError

    return (ConfigError, BuildError, Refused)


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand accepts, before or after its name."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data",
        type=Path,
        default=argparse.SUPPRESS,
        help="the PBX host's state folder (default: $SFM_HOME, else ./var)",
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document"
    )
    common.add_argument(
        "--dev",
        action="store_true",
        default=argparse.SUPPRESS,
        help="development mode: trust the development signing key (same as SFM_DEV=1)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(prog="sfm", parents=[common], description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    return parser


def data_dir(args: argparse.Namespace) -> Path:
    """The state folder chosen by --data, $SFM_HOME, or ./var."""
    given = getattr(args, "data", None)
    if given is not None:
        return Path(given)
    env = os.environ.get("SFM_HOME")
    return Path(env) if env else Path("var")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "json"):
        args.json = False
    args.data = data_dir(args)
    if getattr(args, "dev", False):
        # The one switch the trust store reads (runtime.licensing.trust_store.development_mode).
        os.environ["SFM_DEV"] = "1"
    try:
        code = args.func(args)
    except _refusal_types() as exc:
        print(f"sfm: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception:
        traceback.print_exc()
        print("sfm: this is a bug in sfm, not a problem with your input.", file=sys.stderr)
        return 1
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
