"""Instance configuration: reading, checking and writing the TOML of INTERFACES.md."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breakthrough.config import (
    InstanceConfig,
    Settings,
    instance_to_mapping,
    instance_to_toml,
    load_instance_file,
    parse_instance,
)
from breakthrough.errors import ConfigError
from tests.number_reference import pattern_texts

INSTANCES = Path(__file__).parent / "data" / "instances"
# The log levels of INTERFACES.md's instance file, as STARFACE names them.
LOG_LEVELS = ("ERROR", "WARN", "INFO", "DEBUG", "TRACE")


def minimal(**extra: Any) -> dict[str, Any]:
    return {"name": "Teamleiter", **extra}


class TestLoad:
    def test_the_interfaces_example_reads_as_written(self) -> None:
        cfg = load_instance_file(INSTANCES / "teamleiter.toml")
        assert cfg == InstanceConfig(
            name="Teamleiter",
            description="Team leads reach everyone",
            log_level="INFO",
            active=True,
            called_active=("*",),
            called_exceptions=("00492515906299",),
            caller_active=("*2515906850", "201"),
            caller_exceptions=(),
            settings=Settings(bypass_dnd=True, bypass_redirects=True),
        )

    def test_missing_parts_take_the_forms_defaults(self) -> None:
        cfg = parse_instance(minimal(), "x.toml")
        # The defaults INTERFACES.md and the form's help text state: INFO, every switch off.
        assert cfg.log_level == "INFO"
        assert cfg.active is True
        assert cfg.description == ""
        assert (cfg.called_active, cfg.called_exceptions) == ((), ())
        assert (cfg.caller_active, cfg.caller_exceptions) == ((), ())
        assert cfg.settings == Settings(
            bypass_dnd=False,
            bypass_redirects=False,
            bypass_self_redirects_only=False,
            force_call_waiting=False,
        )

    def test_patterns_are_kept_as_written(self) -> None:
        cfg = parse_instance(
            minimal(numbers={"caller": {"active": ["0251 5906-850", "(0251) 5906/851"]}}), "x"
        )
        assert cfg.caller_active == ("0251 5906-850", "(0251) 5906/851")

    @pytest.mark.parametrize("level", LOG_LEVELS)
    def test_every_log_level_of_the_form_is_accepted_in_any_case(self, level: str) -> None:
        assert parse_instance(minimal(log_level=level.lower()), "x").log_level == level


class TestRefusals:
    def test_a_bad_pattern_names_file_field_line_and_character(self) -> None:
        with pytest.raises(ConfigError) as refused:
            load_instance_file(INSTANCES / "bad_pattern.toml")
        assert str(refused.value) == (
            f"{INSTANCES / 'bad_pattern.toml'}: numbers.caller.active line 3: '12a4' has 'a', "
            "which is not a digit, +, ? or *."
        )

    def test_self_redirects_only_without_redirects_is_refused(self) -> None:
        with pytest.raises(ConfigError) as refused:
            load_instance_file(INSTANCES / "bad_settings.toml")
        message = str(refused.value)
        assert message.startswith(str(INSTANCES / "bad_settings.toml"))
        assert "settings.bypass_self_redirects_only" in message
        assert "settings.bypass_redirects" in message
        assert "Anrufumleitungen umgehen" in message

    def test_self_redirects_only_with_redirects_is_fine(self) -> None:
        cfg = parse_instance(
            minimal(settings={"bypass_redirects": True, "bypass_self_redirects_only": True}), "x"
        )
        assert cfg.settings.bypass_self_redirects_only

    def test_settings_cannot_be_made_in_the_refused_combination(self) -> None:
        with pytest.raises(ConfigError, match="bypass_redirects"):
            Settings(bypass_self_redirects_only=True)

    @pytest.mark.parametrize(
        "mapping, culprit",
        [
            ({}, "name is missing"),
            ({"name": "  "}, "name is empty"),
            ({"name": 5}, "name must be text"),
            (minimal(log_level="LOUD"), "log_level is 'LOUD'; it must be one of ERROR, WARN"),
            (minimal(active="yes"), "active must be true or false"),
            (minimal(settings={"bypass_dnd": "true"}), "settings.bypass_dnd must be true or"),
            (minimal(settings={"bypas_dnd": True}), "unknown field 'settings.bypas_dnd'"),
            (minimal(colour="red"), "unknown field 'colour'"),
            (minimal(numbers=5), "numbers must be a table ([numbers])"),
            (minimal(numbers={"called": ["*"]}), "numbers.called must be a table"),
            (minimal(numbers={"called": {"active": "*"}}), "numbers.called.active must be a list"),
            (minimal(numbers={"called": {"active": [201]}}), "numbers.called.active line 1"),
            (minimal(numbers={"called": {"active": ["1", "20 1"]}}), "active line 2: '20 1' has"),
            (
                minimal(numbers={"called": {"active": ["201"] * 10_001}}),
                "numbers.called.active: 10,001 patterns; a list holds at most 10,000.",
            ),
            (
                minimal(numbers={"caller": {"exceptions": ["1", "2+"]}}),
                "numbers.caller.exceptions line 2",
            ),
        ],
    )
    def test_bad_fields_are_refused_naming_source_and_field(
        self, mapping: dict[str, Any], culprit: str
    ) -> None:
        with pytest.raises(ConfigError) as refused:
            parse_instance(mapping, "teamleiter.toml")
        assert str(refused.value).startswith("teamleiter.toml: ")
        assert culprit in str(refused.value)

    def test_missing_file_and_broken_toml_name_the_file(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="nope.toml: cannot read"):
            load_instance_file(tmp_path / "nope.toml")
        broken = tmp_path / "broken.toml"
        broken.write_text('name = "x\n', encoding="utf-8")
        with pytest.raises(ConfigError, match="broken.toml: is not valid TOML"):
            load_instance_file(broken)


# Any text TOML can hold, quotes, backslashes and control characters included.
any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
patterns = st.lists(
    st.builds(
        lambda pattern, pad: pad + pattern + pad,
        pattern_texts("0123456789?*", 10),
        st.sampled_from(["", " ", "-", "(", ")"]),
    ),
    max_size=4,
).map(tuple)
configs = st.builds(
    InstanceConfig,
    name=any_text.filter(lambda s: s.strip() != ""),
    description=any_text,
    log_level=st.sampled_from(LOG_LEVELS),
    active=st.booleans(),
    called_active=patterns,
    called_exceptions=patterns,
    caller_active=patterns,
    caller_exceptions=patterns,
    settings=st.builds(
        lambda dnd, redirects, self_only, waiting: Settings(
            dnd, redirects, self_only and redirects, waiting
        ),
        st.booleans(),
        st.booleans(),
        st.booleans(),
        st.booleans(),
    ),
)


class TestWrite:
    @settings(max_examples=200, deadline=None)
    @given(configs)
    def test_toml_reads_back_to_the_same_config(self, cfg: InstanceConfig) -> None:
        assert parse_instance(tomllib.loads(instance_to_toml(cfg)), "x") == cfg

    @settings(max_examples=100, deadline=None)
    @given(configs)
    def test_mapping_reads_back_to_the_same_config(self, cfg: InstanceConfig) -> None:
        assert parse_instance(instance_to_mapping(cfg), "x") == cfg

    def test_toml_has_the_interfaces_shape(self) -> None:
        cfg = load_instance_file(INSTANCES / "teamleiter.toml")
        document = tomllib.loads(instance_to_toml(cfg))
        assert document == {
            "name": "Teamleiter",
            "description": "Team leads reach everyone",
            "log_level": "INFO",
            "active": True,
            "numbers": {
                "called": {"active": ["*"], "exceptions": ["00492515906299"]},
                "caller": {"active": ["*2515906850", "201"], "exceptions": []},
            },
            "settings": {
                "bypass_dnd": True,
                "bypass_redirects": True,
                "bypass_self_redirects_only": False,
                "force_call_waiting": False,
            },
        }
        text = instance_to_toml(cfg)
        assert "[numbers.called]" in text and "[settings]" in text
        assert "Ruhe umgehen" in text  # each field carries its form label as a comment
