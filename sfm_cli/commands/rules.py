"""`sfm rules check`: one rule decision of one instance configuration, explained.

A simulation: it reads the instance file (and optionally a PBX directory for its number plan)
and touches no data folder and no licence.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from breakthrough.config import load_instance_file, read_toml_file
from breakthrough.number_forms import DEFAULT_PLAN, NumberPlan
from breakthrough.rules import compile_instance, decide
from sfm_cli.output import emit

DEFAULT_PLAN_TEXT = (
    f"country code {DEFAULT_PLAN.country_code}, area code {DEFAULT_PLAN.area_code}, "
    f"international prefix {DEFAULT_PLAN.international_prefix}, "
    f"national prefix {DEFAULT_PLAN.national_prefix}"
)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `rules check`."""
    rules = sub.add_parser(
        "rules",
        parents=[common],
        help="try an instance's rule on one call",
        description="Try an instance's rule on one call, without a PBX host.",
    )
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")
    check = rules_sub.add_parser(
        "check",
        parents=[common],
        help="decide one call with one instance configuration and explain the decision",
        description=(
            "Decide whether the instance's rule matches a call from CALLER to CALLED, which "
            "effects it switches on, and which list and pattern decided. A simulation: no data "
            "folder, no licence. Exit 0 whether or not the rule matches; exit 2 for a bad "
            "configuration, PBX file or number."
        ),
    )
    check.add_argument(
        "--config",
        type=Path,
        required=True,
        metavar="INSTANCE.toml",
        help="the instance configuration (the TOML that `sfm instance export` writes)",
    )
    check.add_argument(
        "--pbx",
        type=Path,
        metavar="DIR.toml",
        help=(
            "a PBX directory whose [pbx] table gives the number plan (country_code, area_code, "
            "international_prefix, national_prefix); without it: "
            f"{DEFAULT_PLAN_TEXT}"
        ),
    )
    check.add_argument("--called", required=True, metavar="N", help="the called number")
    check.add_argument(
        "--caller",
        required=True,
        metavar="N",
        help='the caller number; "anonymous" (or "") is a withheld number',
    )
    check.set_defaults(func=run_check)


def load_plan(path: Path) -> NumberPlan:
    """The number plan in the `[pbx]` table of the PBX directory `path` (nothing else is read)."""
    return NumberPlan.from_mapping(read_toml_file(path).get("pbx"), str(path))


def run_check(args: argparse.Namespace) -> int:
    """Decide and print one call; refusals raise ConfigError (exit 2)."""
    config = load_instance_file(args.config)
    plan = load_plan(args.pbx) if args.pbx is not None else DEFAULT_PLAN
    decision = decide(compile_instance(config, plan), args.called, args.caller)
    document = {
        "match": decision.match,
        "effects": list(decision.effects),
        "explanation": decision.explanation,
    }
    plan_note = (
        f"number plan of {args.pbx}"
        if args.pbx is not None
        else f"no --pbx given, so the number plan {DEFAULT_PLAN_TEXT}"
    )
    text = "\n".join(
        [
            f"instance {config.name!r} ({plan_note})",
            f"match:       {'yes' if decision.match else 'no'}",
            f"effects:     {', '.join(decision.effects) if decision.effects else '-'}",
            f"explanation: {decision.explanation}",
        ]
    )
    emit(args, document, text)
    return 0
