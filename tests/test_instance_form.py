"""The instance form drawn from an installed build's descriptor: the elements of each module,
errors at the field and at the textarea line, the module's own rules (self-redirect), saved
configurations shown as they were, and the variables checked by the descriptor (types,
choices, unknown names) before the module's own check."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.modules import module_config
from runtime.modules.module_config import InstanceRefused, ModuleConfig
from runtime.web import instance_form
from tests.built_modules import (
    BREAKTHROUGH_ID,
    BREAKTHROUGH_SRC,
    SPERRLISTE_ID,
    SPERRLISTE_SRC,
    build,
    unpack,
)


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModuleConfig]:
    root = tmp_path_factory.mktemp("forms")
    found = {}
    for name, source, module_id in (
        ("breakthrough", BREAKTHROUGH_SRC, BREAKTHROUGH_ID),
        ("sperrliste", SPERRLISTE_SRC, SPERRLISTE_ID),
    ):
        sfm = build(source, root / f"dist-{name}")
        folder = unpack(sfm, root / "modules" / module_id / "b1")
        found[name] = module_config.load(folder)
    return found


# ---- what the descriptor draws --------------------------------------------------------------


def test_breakthrough_form_from_its_descriptor(configs: dict[str, ModuleConfig]) -> None:
    form = configs["breakthrough"].form
    tabs = instance_form.tabs_of(form.tabs)
    assert [t.label["de"] for t in tabs] == ["Allgemein", "Rufnummern", "Einstellungen"]
    assert [t.label["en"] for t in tabs] == ["General", "Numbers", "Settings"]
    widgets = [[(e.widget, e.variable) for e in t.elements] for t in tabs]
    assert widgets == [
        [("textChoice", "logLevel")],
        [
            ("headline", None),
            ("textList", "calledActive"),
            ("textList", "calledExceptions"),
            ("headline", None),
            ("textList", "callerActive"),
            ("textList", "callerExceptions"),
        ],
        [
            ("checkbox", "bypassDnd"),
            ("checkbox", "bypassRedirects"),
            ("checkbox", "bypassSelfRedirectsOnly"),
            ("checkbox", "forceCallWaiting"),
        ],
    ]
    log_level = tabs[0].elements[0]
    assert log_level.choices == ("ERROR", "WARN", "INFO", "DEBUG", "TRACE")
    assert log_level.label == {"de": "Logdatei", "en": "Log file"}
    assert form.variables["logLevel"].default == "INFO"
    assert form.variables["bypassDnd"].default is False
    assert form.variables["calledActive"].default == []


def test_sperrliste_form_from_its_descriptor(configs: dict[str, ModuleConfig]) -> None:
    form = configs["sperrliste"].form
    (tab,) = form.tabs
    assert [(e.widget, e.variable) for e in tab.elements] == [
        ("headline", None),
        ("textList", "callers"),
        ("textChoice", "answer"),
    ]
    assert tab.elements[2].choices == ("busy", "voicemail")
    assert tab.elements[1].label == {"de": "Anrufernummern", "en": "Caller numbers"}
    assert list(form.variables) == ["callers", "answer"]
    assert form.variables["answer"].default == "busy"


def test_a_new_form_shows_the_descriptor_defaults(configs: dict[str, ModuleConfig]) -> None:
    shown = instance_form.empty(configs["breakthrough"])
    assert shown.values["var.logLevel"] == "INFO"
    assert shown.values["var.bypassDnd"] is False
    assert shown.values["var.calledActive"] == ""
    assert instance_form.empty(configs["sperrliste"]).values["var.answer"] == "busy"


# ---- errors at the field and the line --------------------------------------------------------

valid_pattern = st.text(alphabet="0123456789", min_size=1, max_size=10).map(
    lambda digits: digits + "*"
) | st.just("+49*")
bad_pattern = st.builds(
    lambda head, bad, tail: head + bad + tail,
    st.text(alphabet="0123456789", max_size=5),
    st.sampled_from(list("abcxyz#,;")),
    st.text(alphabet="0123456789", max_size=5),
)
BREAKTHROUGH_LISTS = ["calledActive", "calledExceptions", "callerActive", "callerExceptions"]


@settings(max_examples=40, deadline=None)
@given(
    before=st.lists(valid_pattern | st.just(""), max_size=6),
    bad=bad_pattern,
    after=st.lists(valid_pattern | st.just(""), max_size=6),
    module_and_variable=st.sampled_from(
        [("breakthrough", v) for v in BREAKTHROUGH_LISTS] + [("sperrliste", "callers")]
    ),
)
def test_a_refused_pattern_is_reported_at_its_textarea_line(
    configs: dict[str, ModuleConfig],
    before: list[str],
    bad: str,
    after: list[str],
    module_and_variable: tuple[str, str],
) -> None:
    module, variable = module_and_variable
    key = f"var.{variable}"
    text = "\n".join([*before, bad, *after])
    the_form, checked = instance_form.check_submitted(
        configs[module], {"name": "X", key: text}, "de"
    )
    assert checked is None
    (error,) = the_form.errors[key]
    # The reference: the bad line's position among the lines typed, blank ones included.
    assert error.line == len(before) + 1
    assert error.message.startswith(f"Zeile {error.line}: ")
    assert bad.strip() in error.message
    assert the_form.values[key] == text  # shown back as typed
    assert the_form.first_error_tab() == ("t2" if module == "breakthrough" else "t1")


@settings(max_examples=30, deadline=None)
@given(lines=st.lists(valid_pattern | st.just("  "), max_size=8))
def test_valid_lists_are_saved_without_blank_lines(
    configs: dict[str, ModuleConfig], lines: list[str]
) -> None:
    text = "\n".join(lines)
    the_form, checked = instance_form.check_submitted(
        configs["sperrliste"], {"name": "Spam", "var.callers": text}, "en"
    )
    assert the_form.ok and checked is not None
    assert checked.variables["callers"] == [line.strip() for line in lines if line.strip()]


def test_self_redirect_only_needs_bypass_redirects_even_if_the_browser_sends_it(
    configs: dict[str, ModuleConfig],
) -> None:
    config = configs["breakthrough"]
    the_form, checked = instance_form.check_submitted(
        config, {"name": "X", "var.bypassSelfRedirectsOnly": "1"}, "de"
    )
    assert checked is None
    (error,) = the_form.errors["var.bypassSelfRedirectsOnly"]
    assert "Anrufumleitungen umgehen" in error.message
    assert the_form.first_error_tab() == "t3"
    the_form, checked = instance_form.check_submitted(
        config,
        {"name": "X", "var.bypassSelfRedirectsOnly": "1", "var.bypassRedirects": "1"},
        "de",
    )
    assert checked is not None
    assert checked.variables["bypassRedirects"] and checked.variables["bypassSelfRedirectsOnly"]


def test_a_missing_name_is_shown_at_the_name_field(configs: dict[str, ModuleConfig]) -> None:
    for config in configs.values():
        the_form, checked = instance_form.check_submitted(config, {"name": "  "}, "de")
        assert checked is None
        assert "name" in the_form.errors
        assert the_form.first_error_tab() == "t1"


def test_a_choice_outside_the_descriptor_is_refused_at_its_field(
    configs: dict[str, ModuleConfig],
) -> None:
    the_form, checked = instance_form.check_submitted(
        configs["sperrliste"], {"name": "Spam", "var.answer": "hang up"}, "de"
    )
    assert checked is None
    (error,) = the_form.errors["var.answer"]
    assert "busy, voicemail" in error.message


def test_a_saved_configuration_fills_the_form_as_it_was(configs: dict[str, ModuleConfig]) -> None:
    config = configs["breakthrough"]
    submitted = {
        "name": "Teamleiter",
        "description": "Team leads",
        "var.logLevel": "DEBUG",
        "var.calledActive": "*\n00492515906299",
        "var.callerActive": "*2515906850\n201",
        "var.bypassDnd": "1",
        "var.forceCallWaiting": "1",
    }
    _, checked = instance_form.check_submitted(config, submitted, "de")
    assert checked is not None
    assert checked.log_level == "DEBUG"
    shown = instance_form.from_instance(config, checked)
    again, checked_again = instance_form.check_submitted(
        config,
        {k: ("1" if v is True else v) for k, v in shown.values.items() if v is not False},
        "de",
    )
    assert checked_again == checked


# ---- the descriptor's checks before the module's ---------------------------------------------


def test_variables_are_checked_by_type_and_name(configs: dict[str, ModuleConfig]) -> None:
    config = configs["sperrliste"]
    with pytest.raises(InstanceRefused) as refused:
        config.check({"name": "Spam", "callers": "030*", "answer": "busy", "colour": 1}, "x.toml")
    messages = [p.message for p in refused.value.problems]
    assert any("unknown field 'colour'" in m for m in messages)
    assert any("callers must be a list" in m for m in messages)
    checked = config.check({"name": "Spam"}, "x.toml")
    assert checked.variables == {"callers": [], "answer": "busy"}
    assert checked.active is True and checked.log_level == "INFO"


# A check_instance that crashes, and one that never releases the GIL (catastrophic
# backtracking in re): each is the first statement of Sperrliste's own check_instance.
FAULTY_CHECKS = {
    "crashes": 'raise KeyError("boom")',
    "holds the GIL": '__import__("re").match(r"(a+)+$", "a" * 40 + "b")',
}


@pytest.mark.parametrize("fault", list(FAULTY_CHECKS))
def test_a_module_check_that_hangs_or_crashes_is_reported_not_raised(
    fault: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from runtime.modules import loader
    from tests.built_modules import changed_copy

    signature = "def check_instance(variables: Mapping[str, Any], source: str) -> dict[str, Any]:"
    source = changed_copy(
        SPERRLISTE_SRC,
        tmp_path / "src",
        {
            "sperrliste/sfm_module.py": lambda text: text.replace(
                signature, f"{signature}\n    {FAULTY_CHECKS[fault]}"
            )
        },
    )
    folder = unpack(build(source, tmp_path / "dist"), tmp_path / "modules" / SPERRLISTE_ID / "f")
    monkeypatch.setattr(loader, "TIME_LIMIT", 2.0)  # the check's time limit, short for a test
    config = module_config.load(folder)
    started = time.monotonic()
    with pytest.raises(InstanceRefused) as refused:
        config.check({"name": "Spam"}, "form")
    message = refused.value.problems[0].message
    if fault == "crashes":
        assert "the module's check failed (KeyError: 'boom')" in message
    else:
        assert "the module's check_instance did not finish within 2 s" in message
        assert time.monotonic() - started < 2.0 + 10.0  # the limit, plus starting a process
    # This process was never stalled, and the next check runs in a fresh module process.
    with pytest.raises(InstanceRefused):
        config.check({"name": "Spam"}, "form")


EXTRA_FIELDS = """
  [[tabs.fields]]
  variable = "retries"
  widget = "numberChoice"
  choices = [1, 2, 3]
  default = 2
  label = { de = "Versuche", en = "Attempts" }

  [[tabs.fields]]
  variable = "limit"
  widget = "numberInput"
  default = 10
  label = { de = "Grenze", en = "Limit" }

  [[tabs.fields]]
  variable = "secret"
  widget = "passwordInput"
  label = { de = "Geheimnis", en = "Secret" }

  [[tabs.fields]]
  variable = "night"
  widget = "checkbox"
  default = true
  label = { de = "Nachts", en = "At night" }
"""


def test_number_and_password_elements_from_a_descriptor(tmp_path: Path) -> None:
    from tests.built_modules import changed_copy

    source = changed_copy(
        SPERRLISTE_SRC,
        tmp_path / "src",
        {"sperrliste/form.toml": lambda text: text + EXTRA_FIELDS},
    )
    folder = unpack(build(source, tmp_path / "dist"), tmp_path / "modules" / SPERRLISTE_ID / "x")
    config = module_config.load(folder)
    widgets = {e.variable: e for e in config.form.tabs[0].elements if e.variable}
    assert widgets["retries"].widget == "numberChoice"
    assert widgets["retries"].choices == ("1", "2", "3")
    assert config.form.variables["retries"].default == 2
    assert config.form.variables["limit"].default == 10
    assert config.form.variables["night"].default is True
    shown = instance_form.empty(config)
    assert (shown.values["var.retries"], shown.values["var.limit"]) == ("2", "10")
    assert shown.values["var.night"] is True
    posted = {"name": "N", "var.retries": "3", "var.limit": "25", "var.secret": "s3cret"}
    the_form, checked = instance_form.check_submitted(config, posted, "de")
    assert checked is not None, the_form.errors
    assert checked.variables["retries"] == 3 and checked.variables["limit"] == 25
    assert checked.variables["secret"] == "s3cret"
    assert checked.variables["night"] is False  # an unticked box is posted as nothing
    the_form, checked = instance_form.check_submitted(
        config, {**posted, "var.limit": "viele", "var.retries": "5"}, "en"
    )
    assert checked is None
    assert the_form.errors["var.limit"][0].message == "'viele' is not a whole number."
    the_form, checked = instance_form.check_submitted(config, {**posted, "var.retries": "5"}, "en")
    assert checked is None
    assert "1, 2, 3" in the_form.errors["var.retries"][0].message
