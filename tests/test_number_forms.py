"""Number forms under a PBX's number plan, withheld callers, and refused numbers."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from breakthrough import number_forms
from breakthrough.errors import ConfigError
from breakthrough.number_forms import NumberPlan, is_withheld
from runtime import pbx_number_plan
from runtime.errors import Refused

GERMAN = NumberPlan()
THREE_FORMS = {"+492515906850", "00492515906850", "02515906850"}


class TestForms:
    @pytest.mark.parametrize("signalled", sorted(THREE_FORMS))
    def test_the_product_texts_three_forms_are_one_number(self, signalled: str) -> None:
        forms = GERMAN.forms(signalled)
        assert set(forms) == THREE_FORMS
        assert forms[0] == signalled  # the signalled form comes first
        assert len(forms) == 3

    @pytest.mark.parametrize("extension", ["201", "5906850", "9", "1234567"])
    def test_a_number_without_prefix_is_an_extension_with_one_form(self, extension: str) -> None:
        assert GERMAN.forms(extension) == (extension,)

    def test_a_foreign_number_has_its_plus_and_international_form(self) -> None:
        assert set(GERMAN.forms("+14155550100")) == {"+14155550100", "0014155550100"}
        assert set(GERMAN.forms("0014155550100")) == {"+14155550100", "0014155550100"}

    def test_formatting_is_dropped(self) -> None:
        assert set(GERMAN.forms("+49 (251) 5906-850")) == THREE_FORMS
        assert set(GERMAN.forms("0251 / 59 06 850")) == THREE_FORMS

    def test_another_plan_reads_its_own_prefixes(self) -> None:
        us = NumberPlan(
            country_code="1", area_code="415", international_prefix="011", national_prefix="1"
        )
        assert set(us.forms("14155550100")) == {"14155550100", "+14155550100", "01114155550100"}
        assert set(us.forms("+492515906850")) == {"+492515906850", "011492515906850"}
        assert us.forms("201") == ("201",)

    @pytest.mark.parametrize(
        "number, culprit", [("02a51", "'a'"), ("0251+1", "'+'"), ("0251.1", "'.'"), ("+", "")]
    )
    def test_a_malformed_number_is_refused_naming_it(self, number: str, culprit: str) -> None:
        with pytest.raises(ConfigError) as refused:
            GERMAN.forms(number, "caller number")
        assert f"caller number {number!r}" in str(refused.value)
        assert culprit in str(refused.value)

    @settings(max_examples=200, deadline=None)
    @given(
        st.sampled_from(["251", "30", "89", "221", "2501", "5971"]),
        st.text(alphabet="0123456789", min_size=5, max_size=8),
    )
    def test_every_form_is_the_same_number_for_phonenumbers(self, area: str, local: str) -> None:
        # phonenumbers, an independent reading of German numbers, must give every form the
        # same E.164 number.
        national = "0" + area + local
        for form in GERMAN.forms(national):
            parsed = phonenumbers.parse(form, "DE")
            e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            assert e164 == "+49" + area + local, form

    @settings(max_examples=200, deadline=None)
    @given(
        st.sampled_from(["", "0", "00", "+", "+49", "0049"]),
        st.text("0123456789", min_size=1, max_size=10),
    )
    @example("+49", "0123")  # "+490123": no national form, which would read "00123"
    def test_all_forms_share_one_canonical_form_which_is_among_them(
        self, prefix: str, digits: str
    ) -> None:
        number = prefix + digits
        forms = GERMAN.forms(number)
        canonical = {GERMAN.canonical(form) for form in forms}
        assert canonical == {GERMAN.canonical(number)}
        assert GERMAN.canonical(number) in forms
        for form in forms:  # forms of a form are the same set
            assert set(GERMAN.forms(form)) == set(forms)


class TestWithheld:
    @pytest.mark.parametrize(
        "caller", [None, "", "  ", "anonymous", "Anonymous", " UNKNOWN ", "withheld", "restricted"]
    )
    def test_withheld(self, caller: str | None) -> None:
        assert is_withheld(caller)

    @pytest.mark.parametrize("caller", ["201", "00492515906850", "0", "anon"])
    def test_not_withheld(self, caller: str) -> None:
        assert not is_withheld(caller)


class TestPlan:
    def test_the_default_is_the_german_plan_of_the_product_text(self) -> None:
        assert (GERMAN.country_code, GERMAN.area_code) == ("49", "251")
        assert (GERMAN.international_prefix, GERMAN.national_prefix) == ("00", "0")

    @pytest.mark.parametrize(
        "fields, culprit",
        [
            ({"country_code": "4x"}, "country_code"),
            ({"country_code": "999"}, "country_code"),  # no country dials +999
            ({"international_prefix": ""}, "international_prefix"),
            ({"national_prefix": "00"}, "national_prefix"),
            ({"national_prefix": "00", "international_prefix": "00"}, "must differ"),
            ({"area_code": "25a"}, "area_code"),
        ],
    )
    def test_a_bad_plan_is_refused_naming_the_field(
        self, fields: dict[str, str], culprit: str
    ) -> None:
        with pytest.raises(ConfigError, match=culprit):
            NumberPlan(**fields)

    def test_from_a_pbx_table(self) -> None:
        table = {
            "country_code": "43",
            "area_code": "1",
            "international_prefix": "00",
            "national_prefix": "0",
            "version": "8.1.0.4",
        }
        assert NumberPlan.from_mapping(table, "pbx.toml") == NumberPlan("43", "1", "00", "0")

    @pytest.mark.parametrize(
        "table, culprit",
        [
            (None, "no [pbx] table"),
            (
                {"country_code": "49", "area_code": "251", "international_prefix": "00"},
                "national_prefix",
            ),
            (
                {
                    "country_code": 49,
                    "area_code": "251",
                    "international_prefix": "00",
                    "national_prefix": "0",
                },
                "country_code must be a quoted string",
            ),
        ],
    )
    def test_a_bad_pbx_table_is_refused_naming_file_and_key(
        self, table: object, culprit: str
    ) -> None:
        with pytest.raises(
            ConfigError, match=r"^pbx\.toml: .*" + culprit.replace("[", r"\[").replace("]", r"\]")
        ):
            NumberPlan.from_mapping(table, "pbx.toml")


class TestTheHostReadsNumbersAlike:
    """The module's number forms and the host's number plan are two copies (uploaded code
    imports nothing of the host): they must agree, or a call the host routes to a user would
    be judged by the module as another number."""

    def test_the_same_caller_ids_mean_withheld(self) -> None:
        assert number_forms.WITHHELD_WORDS == pbx_number_plan.WITHHELD

    @settings(max_examples=400)
    @given(
        plan=st.sampled_from([("49", "251", "00", "0"), ("1", "415", "011", "1")]),
        prefix=st.sampled_from(["", "+", "0", "00", "1", "011", "+1", "11", "0049", "+490"]),
        digits=st.text(alphabet="0123456789", max_size=12),
        formatting=st.sampled_from(["", " ", "-", "/", "()"]),
    )
    def test_both_give_the_same_forms_and_refuse_the_same_numbers(
        self, plan: tuple[str, str, str, str], prefix: str, digits: str, formatting: str
    ) -> None:
        module = NumberPlan(*plan)
        host = pbx_number_plan.PbxNumberPlan(*plan)
        number = prefix + formatting.join(digits[i : i + 3] for i in range(0, len(digits), 3))
        try:
            module_forms: tuple[str, ...] | None = module.forms(number)
        except ConfigError:
            module_forms = None
        try:
            host_forms: tuple[str, ...] | None = host.forms(number)
        except Refused:
            host_forms = None
        assert (module_forms is None) == (host_forms is None), (number, module_forms, host_forms)
        if module_forms is not None and host_forms is not None:
            assert module_forms[0] == host_forms[0]
            assert set(module_forms) == set(host_forms), number
