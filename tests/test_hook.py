"""The call hook: many instances, effects added up, per-instance logs, swapping instances."""

from __future__ import annotations

import threading

import pytest

from breakthrough.config import InstanceConfig, Settings
from breakthrough.hook import NO_CHANGE, BreakthroughHook, HookAnswer
from breakthrough.number_forms import NumberPlan
from breakthrough.rules import CompiledInstance, compile_instance

GERMAN = NumberPlan()


def instance(
    name: str,
    caller_active: tuple[str, ...] = ("*",),
    *,
    log_level: str = "INFO",
    active: bool = True,
    called_active: tuple[str, ...] = ("*",),
    **switches: bool,
) -> CompiledInstance:
    cfg = InstanceConfig(
        name=name,
        log_level=log_level,
        active=active,
        called_active=called_active,
        caller_active=caller_active,
        settings=Settings(**switches),
    )
    return compile_instance(cfg, GERMAN)


class Recorder:
    """A log sink that keeps what it was given."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str]] = []

    def __call__(self, instance: str, level: str, message: str) -> None:
        self.lines.append((instance, level, message))


class TestAnswers:
    def test_no_instances_change_nothing(self) -> None:
        assert BreakthroughHook().on_call("201", "202") == NO_CHANGE == HookAnswer()

    def test_each_instance_decides_alone_and_effects_add_up(self) -> None:
        hook = BreakthroughHook(
            [
                instance("Ruhe", ("202",), bypass_dnd=True),
                instance("Andere", ("999",), force_call_waiting=True),
                instance("Anklopfen", ("*2515906850", "202"), force_call_waiting=True),
            ]
        )
        answer = hook.on_call("201", "202")
        assert answer == HookAnswer(
            ignore_dnd=True,
            ignore_redirects=False,
            ignore_redirects_to_caller=False,
            force_call_waiting=True,
            applied=(("Ruhe", ("bypass_dnd",)), ("Anklopfen", ("force_call_waiting",))),
        )

    def test_redirect_switches_map_to_all_or_to_caller_only(self) -> None:
        everything = instance("Alle", bypass_redirects=True)
        self_only = instance("Selbst", bypass_redirects=True, bypass_self_redirects_only=True)
        answer = BreakthroughHook([everything]).on_call("201", "202")
        assert (answer.ignore_redirects, answer.ignore_redirects_to_caller) == (True, False)
        answer = BreakthroughHook([self_only]).on_call("201", "202")
        assert (answer.ignore_redirects, answer.ignore_redirects_to_caller) == (False, True)
        answer = BreakthroughHook([self_only, everything]).on_call("201", "202")
        assert (answer.ignore_redirects, answer.ignore_redirects_to_caller) == (True, True)
        assert [name for name, _ in answer.applied] == ["Selbst", "Alle"]

    def test_a_match_without_switches_is_still_listed(self) -> None:
        answer = BreakthroughHook([instance("Leer")]).on_call("201", "202")
        assert answer == HookAnswer(applied=(("Leer", ()),))

    def test_inactive_instance_is_left_out(self) -> None:
        hook = BreakthroughHook([instance("Aus", active=False, bypass_dnd=True)])
        assert hook.on_call("201", "202") == NO_CHANGE

    @pytest.mark.parametrize("caller", [None, "", "anonymous"])
    def test_withheld_caller_is_left_alone(self, caller: str | None) -> None:
        hook = BreakthroughHook([instance("Alle", bypass_dnd=True)])
        assert hook.on_call("201", caller) == NO_CHANGE

    def test_forms_of_the_caller_all_break_through(self) -> None:
        hook = BreakthroughHook([instance("Chef", ("*2515906850",), bypass_dnd=True)])
        for caller in ("00492515906850", "+492515906850", "02515906850"):
            assert hook.on_call("201", caller).ignore_dnd

    @pytest.mark.parametrize("called, caller", [("20x", "202"), ("201", "sip:boss@pbx")])
    def test_a_number_it_cannot_read_leaves_the_call_alone_and_says_why(
        self, called: str, caller: str
    ) -> None:
        log = Recorder()
        hook = BreakthroughHook([instance("Alle", log_level="WARN", bypass_dnd=True)], log)
        assert hook.on_call(called, caller) == NO_CHANGE  # no exception
        assert len(log.lines) == 1
        name, level, message = log.lines[0]
        assert (name, level) == ("Alle", "WARN")
        assert "call left alone" in message and "is not a digit" in message


class TestLogging:
    def test_levels_decide_what_is_logged(self) -> None:
        log = Recorder()
        hook = BreakthroughHook(
            [
                instance("Info", ("202",), log_level="INFO"),
                instance("Debug", ("202",), log_level="DEBUG"),
                instance("Trace", ("202",), log_level="TRACE"),
            ],
            log,
        )
        hook.on_call("201", "202")  # matches everywhere: a breakthrough, explained at DEBUG
        assert [(n, lvl) for n, lvl, _ in log.lines] == [
            ("Info", "INFO"),
            ("Debug", "INFO"),
            ("Debug", "DEBUG"),
            ("Trace", "INFO"),
            ("Trace", "DEBUG"),
        ]
        log.lines.clear()
        hook.on_call("201", "203")  # matches nowhere: logged at TRACE
        assert [(n, lvl) for n, lvl, _ in log.lines] == [("Trace", "TRACE")]

    def test_each_breakthrough_is_named_in_the_log_at_the_default_level(self) -> None:
        # DESIGN.md: several instances may match one call; the log names each.
        log = Recorder()
        hook = BreakthroughHook(
            [
                instance("Teamleiter", ("202",), bypass_dnd=True),
                instance("Chef", ("202",), bypass_redirects=True, force_call_waiting=True),
                instance("Leise", ("202",), log_level="WARN", bypass_dnd=True),
                instance("Andere", ("299",), bypass_dnd=True),
            ],
            log,
        )
        hook.on_call("201", "202")
        assert log.lines == [
            ("Teamleiter", "INFO", "breakthrough: caller 202 to 201: bypass_dnd"),
            (
                "Chef",
                "INFO",
                "breakthrough: caller 202 to 201: bypass_redirects, force_call_waiting",
            ),
        ]
        log.lines.clear()
        hook.on_call("201", "203")  # no instance matches: nothing to say at INFO
        assert log.lines == []

    def test_the_log_line_is_the_explanation(self) -> None:
        log = Recorder()
        hook = BreakthroughHook([instance("Chef", ("*2515906850",), log_level="TRACE")], log)
        hook.on_call("201", "00492515906850")
        hook.on_call("201", "00492515906851")
        explained = [message for _, level, message in log.lines if level != "INFO"]
        assert "caller 00492515906850 matched 'Aktiv für' pattern '*2515906850'" in explained[0]
        assert "caller 00492515906851 matched no 'Aktiv für' pattern" in explained[1]


class TestReplacing:
    def test_new_instances_apply_from_the_next_call(self) -> None:
        hook = BreakthroughHook([instance("Alt", bypass_dnd=True)])
        assert hook.on_call("201", "202").applied == (("Alt", ("bypass_dnd",)),)
        hook.replace_instances([instance("Neu", force_call_waiting=True)])
        assert hook.on_call("201", "202").applied == (("Neu", ("force_call_waiting",)),)
        assert [c.name for c in hook.instances] == ["Neu"]

    def test_a_call_in_flight_finishes_with_the_instances_it_started_with(self) -> None:
        hook: BreakthroughHook

        def swap_while_deciding(instance_name: str, level: str, message: str) -> None:
            # Runs in the middle of on_call, after the first instance decided.
            if instance_name == "Erste":
                hook.replace_instances([])

        hook = BreakthroughHook(
            [
                instance("Erste", log_level="DEBUG", bypass_dnd=True),
                instance("Zweite", force_call_waiting=True),
            ],
            swap_while_deciding,
        )
        answer = hook.on_call("201", "202")
        assert [name for name, _ in answer.applied] == ["Erste", "Zweite"]
        assert hook.on_call("201", "202") == NO_CHANGE

    def test_calls_on_many_threads_while_swapping_see_old_or_new_whole(self) -> None:
        old = [instance("A", bypass_dnd=True), instance("B", force_call_waiting=True)]
        new = [instance("C", bypass_redirects=True)]
        hook = BreakthroughHook(old)
        allowed = {
            (("A", ("bypass_dnd",)), ("B", ("force_call_waiting",))),
            (("C", ("bypass_redirects",)),),
        }
        seen: list[tuple[tuple[str, tuple[str, ...]], ...]] = []
        errors: list[BaseException] = []
        stop = threading.Event()

        def caller() -> None:
            try:
                while not stop.is_set():
                    seen.append(hook.on_call("201", "00492515906850").applied)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=caller) for _ in range(4)]
        for thread in threads:
            thread.start()
        for round_ in range(200):
            hook.replace_instances(new if round_ % 2 else old)
        stop.set()
        for thread in threads:
            thread.join()
        assert not errors
        assert seen and set(seen) <= allowed
