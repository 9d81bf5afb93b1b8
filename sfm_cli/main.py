"""The `sfm` command: global options, subcommand dispatch, and the exit codes of INTERFACES.md.

Each area registers its own subcommands from a module in `sfm_cli.commands`; this file only
wires them together. Exit 0: done. Exit 2: input refused (message on stderr, nothing changed).
Exit 1: our own fault.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

USER_DESCRIPTION = """\
The sfm PBX host and module tools. --data DIR picks the PBX host's state folder
(default: $SFM_HOME, else ./var); --json prints one JSON document (errors too, on stderr).
Exit 0: done. Exit 2: the input was refused (the reason on stderr; nothing was changed).
Exit 1: a bug in sfm. docs/USING.md describes the files, the commands and the JSON API."""

# Commands that read no data folder: their help does not offer --data.
WITHOUT_DATA = ("sfm_cli.commands.build", "sfm_cli.commands.inspect", "sfm_cli.commands.rules")

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


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as a refusal (exit 2), in JSON when asked."""

    def error(self, message: str) -> NoReturn:
        if _wants_json(sys.argv[1:]):
            named = re.search(r"(?:argument|required:) (--[\w-]+)", message)
            field = named.group(1).lstrip("-") if named else None
            _print_error(f"{self.prog}: {message}", field)
            raise SystemExit(2)
        super().error(message)


def _wants_json(argv: Sequence[str]) -> bool:
    return "--json" in argv


def _field_of(message: str) -> str | None:
    """The option or field a refusal names first ("--code: ..." -> "code"), if any."""
    found = re.match(r"(--[\w-]+|[\w./][\w./\[\]\"' -]*?): ", message)
    if found is None:
        return None
    return found.group(1).lstrip("-")


def _print_error(message: str, field: str | None) -> None:
    print(json.dumps({"error": message, "field": field}, ensure_ascii=False), file=sys.stderr)


def common_options(with_data: bool = True) -> argparse.ArgumentParser:
    """Options every subcommand accepts, before or after its name."""
    common = argparse.ArgumentParser(add_help=False)
    if with_data:
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
    no_data = common_options(with_data=False)
    parser = _Parser(
        prog="sfm",
        parents=[common],
        description=USER_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, no_data if name in WITHOUT_DATA else common)
    return parser


@contextmanager
def _undone_on_refusal(data: Path, refused: list[bool]) -> Iterator[None]:
    """A refused command leaves no trace in the data folder: what it created there (the
    folder itself, or the database next to what was there) is removed again."""
    folder_existed = data.exists()
    database = data / "pbx.sqlite3"
    database_existed = database.exists()
    try:
        yield
    finally:
        if refused and refused[0]:
            if not folder_existed:
                shutil.rmtree(data, ignore_errors=True)
            elif not database_existed:
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(f"{database}{suffix}").unlink(missing_ok=True)


def data_dir(args: argparse.Namespace) -> Path:
    """The state folder chosen by --data, $SFM_HOME, or ./var, as an absolute path (child
    processes such as Kamailio get it and run in other folders)."""
    given = getattr(args, "data", None)
    if given is not None:
        return Path(given).absolute()
    env = os.environ.get("SFM_HOME")
    return (Path(env) if env else Path("var")).absolute()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    given = list(sys.argv[1:] if argv is None else argv)
    if _wants_json(given) and argv is not None:
        sys.argv = [sys.argv[0], *given]  # _Parser.error looks there
    args = parser.parse_args(given)
    if not hasattr(args, "json"):
        args.json = False
    args.data = data_dir(args)
    if getattr(args, "dev", False):
        # The one switch the trust store reads (runtime.licensing.trust_store.development_mode).
        os.environ["SFM_DEV"] = "1"
    refused: list[bool] = []
    with _undone_on_refusal(args.data, refused):
        try:
            code = args.func(args)
        except _refusal_types() as exc:
            refused.append(True)
            message = str(exc)
            if args.json:
                _print_error(message, _field_of(message))
            else:
                print(f"sfm: {message}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130
        except Exception as exc:
            traceback.print_exc()
            bug = "this is a bug in sfm, not a problem with your input"
            if args.json:
                _print_error(f"{bug}: {exc!r}", None)
            else:
                print(f"sfm: {bug}.", file=sys.stderr)
            return 1
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
