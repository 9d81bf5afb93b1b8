"""Real calls through the Java core with the real Breakthrough hook and instance files.

Each test writes instance configurations as an admin would (the TOML of INTERFACES.md),
compiles them with the directory's number plan, registers `breakthrough.hook.BreakthroughHook`
through the shim and routes calls. Expected outcomes are DESIGN.md's rules, named per test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from breakthrough.config import load_instance_file
from breakthrough.hook import BreakthroughHook
from breakthrough.number_forms import NumberPlan
from breakthrough.rules import compile_instance
from runtime.pbx_directory import PbxDirectory, load_directory
from runtime.routing_host import RoutingHost

OFFICE = Path(__file__).parent / "data" / "pbx" / "office.toml"
TEAM_LEAD = "00492515906850"  # an outside number of a team lead (Münster)
CUSTOMER = "0049301234567"  # somebody else, Berlin

# Tests that are not about the time budget give hooks plenty, so a loaded CI machine cannot
# turn a slow scheduler into a "hook did not answer" failure.
RELAXED_BUDGET_MS = 5000.0


def instance_file(
    folder: Path,
    name: str,
    *,
    called: tuple[str, ...] = ("*",),
    called_exceptions: tuple[str, ...] = (),
    caller: tuple[str, ...] = ("*",),
    caller_exceptions: tuple[str, ...] = (),
    active: bool = True,
    **settings: bool,
) -> Path:
    def toml_list(items: tuple[str, ...]) -> str:
        return "[" + ", ".join(f'"{i}"' for i in items) + "]"

    lines = [
        f'name = "{name}"',
        f"active = {'true' if active else 'false'}",
        'log_level = "DEBUG"',
        "[numbers.called]",
        f"active = {toml_list(called)}",
        f"exceptions = {toml_list(called_exceptions)}",
        "[numbers.caller]",
        f"active = {toml_list(caller)}",
        f"exceptions = {toml_list(caller_exceptions)}",
        "[settings]",
        *(f"{key} = {'true' if on else 'false'}" for key, on in settings.items()),
    ]
    path = folder / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def office() -> PbxDirectory:
    # boss (201, forwards ALWAYS to the secretary 202), secretary (202), lead (203, DND),
    # dev (204, busy, call waiting off, BUSY redirect to voicemail), group support (300).
    return load_directory(OFFICE)


@pytest.fixture
def host(jvm: None, office: PbxDirectory) -> Iterator[RoutingHost]:
    h = RoutingHost(hook_budget_ms=RELAXED_BUDGET_MS)
    h.load_directory(office)
    yield h
    h.close()


def with_instances(host: RoutingHost, office: PbxDirectory, *files: Path) -> BreakthroughHook:
    p = office.plan
    plan = NumberPlan(p.country_code, p.area_code, p.international_prefix, p.national_prefix)
    hook = BreakthroughHook([compile_instance(load_instance_file(f), plan) for f in files])
    host.register_in_process_hook("breakthrough", hook)
    return hook


def outcome(r: dict[str, Any]) -> tuple[str, list[str], list[str]]:
    return r["outcome"], r["rings"], r["forwarded_to"]


def test_dnd_broken_through_only_by_a_matching_caller(
    host: RoutingHost, office: PbxDirectory, tmp_path: Path
) -> None:
    # "Ruhe umgehen": the lead (DND, no redirect) rings for a caller in "Aktiv für" of the
    # caller list, in whatever form the number is signalled; every other caller gets busy.
    with_instances(
        host, office, instance_file(tmp_path, "Teamleiter", caller=(TEAM_LEAD,), bypass_dnd=True)
    )
    for signalled in (TEAM_LEAD, "+492515906850", "02515906850"):
        r = host.route(signalled, "203")
        assert outcome(r) == ("ring", ["lead"], []), signalled
        assert r["applied"] == [{"instance": "Teamleiter", "effects": ["bypass_dnd"]}]
    other = host.route(CUSTOMER, "203")
    assert (outcome(other), other["applied"]) == (("busy", [], []), [])


def test_caller_in_exceptions_does_not_break_through(
    host: RoutingHost, office: PbxDirectory, tmp_path: Path
) -> None:
    # "... the CALLER number is in its Aktiv für and not in its Ausnahmen".
    with_instances(
        host,
        office,
        instance_file(
            tmp_path,
            "Alle außer Vertrieb",
            caller=("0049251*",),
            caller_exceptions=("+49251590685?",),
            bypass_dnd=True,
        ),
    )
    assert host.route(TEAM_LEAD, "203")["outcome"] == "busy"
    assert host.route("00492519999999", "203")["outcome"] == "ring"


def test_called_number_in_exceptions_is_left_alone(
    host: RoutingHost, office: PbxDirectory, tmp_path: Path
) -> None:
    # "A rule matches when the CALLED number is in Aktiv für and not in its Ausnahmen".
    with_instances(
        host,
        office,
        instance_file(tmp_path, "Nicht Lena", called_exceptions=("203",), bypass_dnd=True),
    )
    r = host.route(TEAM_LEAD, "203")
    assert (r["outcome"], r["applied"]) == ("busy", [])


def test_empty_active_list_matches_nothing(
    host: RoutingHost, office: PbxDirectory, tmp_path: Path
) -> None:
    # "An empty Aktiv für matches nothing".
    with_instances(host, office, instance_file(tmp_path, "Leer", caller=(), bypass_dnd=True))
    assert host.route(TEAM_LEAD, "203")["outcome"] == "busy"


def test_withheld_caller_matches_not_even_star(
    host: RoutingHost, office: PbxDirectory, tmp_path: Path
) -> None:
    # "A withheld caller matches no pattern, not even *: ... a normal answer, not an error."
    with_instances(host, office, instance_file(tmp_path, "Alle", bypass_dnd=True))
    r = host.route("anonymous", "203")
    assert (r["outcome"], r["applied"], r["module_errors"]) == ("busy", [], [])


def test_self_redirect_narrowing(host: RoutingHost, office: PbxDirectory, tmp_path: Path) -> None:
    # "Anrufumleitungen auf sich selbst umgehen": the secretary reaches the boss who forwards
    # to her, while others are still forwarded. The instance matched both calls, so both
    # list it in applied.
    with_instances(
        host,
        office,
        instance_file(
            tmp_path,
            "Chef",
            called=("201",),
            bypass_redirects=True,
            bypass_self_redirects_only=True,
        ),
    )
    secretary = host.route("202", "201")
    assert outcome(secretary) == ("ring", ["boss"], [])
    assert secretary["originally_called"] is None
    customer = host.route(CUSTOMER, "201")
    assert outcome(customer) == ("ring", ["secretary"], ["202"])
    assert customer["originally_called"] == "Max Mustermann"
    for r in (secretary, customer):
        assert r["applied"] == [
            {"instance": "Chef", "effects": ["bypass_redirects", "bypass_self_redirects_only"]}
        ]


def test_without_the_module_the_secretary_is_forwarded_to_herself(host: RoutingHost) -> None:
    # The problem the self-redirect setting solves: plain PBX behaviour bounces her call.
    assert outcome(host.route("202", "201")) == ("ring", ["secretary"], ["202"])


def test_bypass_redirects_reaches_the_boss_for_everyone_matching(
    host: RoutingHost, office: PbxDirectory, tmp_path: Path
) -> None:
    # "Anrufumleitungen umgehen": the boss's ALWAYS forward is ignored for matching callers.
    with_instances(
        host,
        office,
        instance_file(tmp_path, "VIP", caller=(TEAM_LEAD,), bypass_redirects=True),
    )
    assert outcome(host.route(TEAM_LEAD, "201")) == ("ring", ["boss"], [])
    assert outcome(host.route(CUSTOMER, "201")) == ("ring", ["secretary"], ["202"])


def test_forced_call_waiting_on_a_busy_user(
    host: RoutingHost, office: PbxDirectory, tmp_path: Path
) -> None:
    # "Anklopfen erzwingen": the busy dev (call waiting off, BUSY redirect to voicemail) gets
    # the team lead's call as a waiting call; others still reach the voicemail.
    with_instances(
        host,
        office,
        instance_file(tmp_path, "Anklopfen", caller=(TEAM_LEAD,), force_call_waiting=True),
    )
    assert outcome(host.route(TEAM_LEAD, "204")) == ("waiting", ["dev"], [])
    assert host.route(CUSTOMER, "204")["outcome"] == "voicemail"


def test_several_instances_add_up(host: RoutingHost, office: PbxDirectory, tmp_path: Path) -> None:
    # "Several instances may match one call: their effects add up". The dev is busy with
    # call waiting off; one instance bypasses redirects, another forces call waiting: the
    # call waits at the dev. Each matching instance is listed, in instance order.
    with_instances(
        host,
        office,
        instance_file(tmp_path, "A", caller=(TEAM_LEAD,), bypass_redirects=True),
        instance_file(tmp_path, "B", caller=("+49251*",), force_call_waiting=True),
        instance_file(tmp_path, "C", caller=(CUSTOMER,), bypass_dnd=True),
    )
    r = host.route(TEAM_LEAD, "204")
    assert outcome(r) == ("waiting", ["dev"], [])
    assert r["applied"] == [
        {"instance": "A", "effects": ["bypass_redirects"]},
        {"instance": "B", "effects": ["force_call_waiting"]},
    ]


def test_inactive_instance_does_nothing(
    host: RoutingHost, office: PbxDirectory, tmp_path: Path
) -> None:
    with_instances(host, office, instance_file(tmp_path, "Aus", active=False, bypass_dnd=True))
    r = host.route(TEAM_LEAD, "203")
    assert (r["outcome"], r["applied"]) == ("busy", [])


def test_group_target_untouched(host: RoutingHost, office: PbxDirectory, tmp_path: Path) -> None:
    # "Only user targets: for a group target the module does nothing": the support group
    # rings secretary and dev (lead is in DND and skipped), although the instance would
    # bypass DND for every caller.
    with_instances(host, office, instance_file(tmp_path, "Alle", bypass_dnd=True))
    r = host.route(TEAM_LEAD, "300")
    assert (r["outcome"], r["rings"], r["applied"]) == ("ring", ["secretary", "dev"], [])
    # The same instance, on the same caller, breaks the lead's DND when the lead is called.
    r = host.route(TEAM_LEAD, "203")
    assert outcome(r) == ("ring", ["lead"], [])
    assert r["applied"] == [{"instance": "Alle", "effects": ["bypass_dnd"]}]


def test_changed_instances_apply_from_the_next_call(
    host: RoutingHost, office: PbxDirectory, tmp_path: Path
) -> None:
    # The hook's instance tuple is swapped whole; the next call uses the new one.
    hook = with_instances(host, office, instance_file(tmp_path, "Alle", bypass_dnd=True))
    assert host.route(CUSTOMER, "203")["outcome"] == "ring"
    hook.replace_instances(())
    assert host.route(CUSTOMER, "203")["outcome"] == "busy"


def test_the_module_is_asked_once_per_call_for_all_its_instances(
    host: RoutingHost, office: PbxDirectory, tmp_path: Path
) -> None:
    # One hook call per call per module: the module evaluates all its instances in that call.
    files = [
        instance_file(tmp_path, f"I{i}", caller=(TEAM_LEAD,), bypass_dnd=True) for i in range(3)
    ]
    p = office.plan
    plan = NumberPlan(p.country_code, p.area_code, p.international_prefix, p.national_prefix)
    inner = BreakthroughHook([compile_instance(load_instance_file(f), plan) for f in files])
    calls: list[tuple[str, str | None]] = []

    class Counting:
        def on_call(self, called: str, caller: str | None) -> Any:
            calls.append((called, caller))
            return inner.on_call(called, caller)

    host.register_in_process_hook("breakthrough", Counting())
    r = host.route(TEAM_LEAD, "203")
    assert [a["instance"] for a in r["applied"]] == ["I0", "I1", "I2"]
    assert calls == [("203", TEAM_LEAD)]
