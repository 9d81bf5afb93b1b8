"""`sfm inspect FILE.sfm [--json]`: what an .sfm says about itself, and its integrity checks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from runtime.sfm_file import SfmInfo, read_sfm
from sfm_cli.output import emit


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the `inspect` subcommand."""
    parser = sub.add_parser(
        "inspect",
        parents=[common],
        help="read any .sfm (ours or a real STARFACE export) and check its integrity",
        description="Read an .sfm module file and run the integrity checks of a module import.",
    )
    parser.add_argument("file", type=Path, metavar="FILE.sfm", help="the module file to read")
    parser.set_defaults(func=run)


def describe(info: SfmInfo) -> str:
    """The human text of `sfm inspect` for one file."""

    def mark(ok: bool) -> str:
        return "ok" if ok else "FAILED"

    lines = [
        f"{info.path}",
        f"  module       {info.name} ({info.id})",
        f"  vendor       {info.vendor}",
        f"  version      {info.version}"
        + (f" ({info.display_version})" if info.display_version else ""),
        f"  spec version {info.spec_version}",
        f"  variant      {info.variant or '-'}",
        f"  fits PBX     {('>= ' + info.min_pbx_version) if info.min_pbx_version else '-'}",
        "  entry points",
    ]
    if not info.entry_points:
        lines.append("    (none)")
    for entry in info.entry_points:
        stage = f" at {entry.stage}" if entry.stage else ""
        name = f" {entry.name!r}" if entry.name else ""
        lines.append(f"    {entry.kind}{name}{stage}")
    integrity = info.integrity
    lines += [
        "  integrity",
        f"    manifest matches descriptor  {mark(integrity.manifest_matches_descriptor)}",
        f"    noLicenseId valid            {mark(integrity.no_license_id_valid)}",
        f"    resources complete           {mark(integrity.resources_complete)}",
        f"  files ({len(info.files)})",
        *(f"    {name}" for name in info.files),
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the file's description; exit 0 even when an integrity check fails (it is shown)."""
    info = read_sfm(args.file)
    emit(args, info.to_json(), describe(info))
    return 0
