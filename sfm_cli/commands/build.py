"""`sfm build [--variant current|legacy|all]` (also `python build.py`): writes dist/*.sfm and
dist/index.html. Steps go to stdout as they run (to stderr with --json, which prints the list of
artifacts as one JSON document)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sfm_build.build import BuildOptions, build
from sfm_cli.output import emit


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `build` subcommand."""
    defaults = BuildOptions()
    parser = sub.add_parser(
        "build",
        parents=[common],
        help="build the module's .sfm files (current and legacy) and the download page",
        description="Build dist/*.sfm (byte-identical for the same commit) and dist/index.html.",
    )
    parser.add_argument(
        "--variant",
        default="all",
        metavar="current|legacy|all",
        help="which build to make (default: all variants of module.toml)",
    )
    parser.add_argument(
        "--out", type=Path, default=defaults.out, help=f"output folder (default: {defaults.out})"
    )
    parser.add_argument(
        "--source",
        type=Path,
        default=defaults.source,
        help=f"the module sources with module.toml (default: {defaults.source})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build; exit 0 with every artifact written, else a BuildError (exit 2, nothing written)."""

    def report(line: str) -> None:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    variants = () if args.variant == "all" else (args.variant,)
    result = build(
        BuildOptions(
            source=args.source.resolve(), out=args.out.resolve(), variants=variants, report=report
        )
    )
    if args.json:
        emit(args, result.to_json(), "")
    else:
        print(f"built {len(result.artifacts) - 1} module file(s) and the download page")
    return 0
