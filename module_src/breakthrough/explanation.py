"""Why an instance's rule matched a call or not, for people, in German or English.

The rule engine (`rules`) decides; this writes its deciding lists and patterns as a sentence
("Angerufene Nummer 203 passt auf „*“ in „Aktiv für“ ..."). The host's call tester shows it.
"""

from __future__ import annotations

from .numbers import NumberPlan, check_number, is_withheld
from .rules import CompiledInstance, Side, SideResult, decide_canonical

TEXTS: dict[str, dict[str, str]] = {
    "match": {"de": "greift", "en": "matches"},
    "no_match": {"de": "greift nicht", "en": "does not match"},
    "inactive": {"de": "Instanz ist inaktiv", "en": "the instance is inactive"},
    "called": {"de": "Angerufene Nummer", "en": "Called number"},
    "caller": {"de": "Anrufernummer", "en": "Caller number"},
    "withheld": {
        "de": "{who} ist unterdrückt; darauf passt kein Muster, auch nicht „*“",
        "en": "{who} is withheld; no pattern matches it, not even '*'",
    },
    "empty": {
        "de": "{who} {number}: „{active}“ ist leer und passt auf nichts",
        "en": "{who} {number}: '{active}' is empty and matches nothing",
    },
    "no_active": {
        "de": "{who} {number} passt auf kein Muster in „{active}“",
        "en": "{who} {number} matches no pattern in '{active}'",
    },
    "active": {
        "de": "{who} {number} passt auf „{pattern}“ in „{active}“{via}",
        "en": "{who} {number} matches '{pattern}' in '{active}'{via}",
    },
    "via": {"de": " (als {form})", "en": " (as {form})"},
    "no_exception": {"de": " und auf keine Ausnahme", "en": " and no exception"},
    "exception": {
        "de": ", aber auch auf „{pattern}“ in „{exceptions}“",
        "en": ", but also '{pattern}' in '{exceptions}'",
    },
    "not_checked": {
        "de": "Anrufernummer nicht geprüft, da die angerufene Nummer nicht passt",
        "en": "caller not checked, as the called number does not pass",
    },
    "list.active": {"de": "Aktiv für", "en": "Active for"},
    "list.exceptions": {"de": "Ausnahmen", "en": "Exceptions"},
}


def _t(key: str, lang: str) -> str:
    entry = TEXTS[key]
    return entry.get(lang) or entry["de"]


def explain(compiled: CompiledInstance, called: str, caller: str | None, lang: str) -> tuple[
    bool, str
]:
    """(match, the reasons in `lang`, "de" or "en") of `compiled`'s rule for one call.

    ConfigError for a malformed number.
    """
    plan = compiled.plan
    called_clean = check_number(called, "called number")
    if is_withheld(caller):
        caller_clean: str | None = None
        caller_canonical = None
    else:
        caller_clean = check_number(caller or "", "caller number")
        caller_canonical = plan.canonical_of_checked(caller_clean)
    match, called_result, caller_result = decide_canonical(
        compiled,
        called_clean,
        plan.canonical_of_checked(called_clean),
        caller_clean if caller_clean is not None else caller,
        caller_canonical,
    )
    if called_result is None:
        return False, f"{_t('inactive', lang)}: {_t('no_match', lang)}"
    parts = [_side(compiled.called, called_result, plan, _t("called", lang), lang)]
    if caller_result is None:
        parts.append(_t("not_checked", lang))
    else:
        parts.append(_side(compiled.caller, caller_result, plan, _t("caller", lang), lang))
    verdict = _t("match", lang) if match else _t("no_match", lang)
    return match, "; ".join(parts) + f": {verdict}"


def _side(side: Side, result: SideResult, plan: NumberPlan, who: str, lang: str) -> str:
    active = _t("list.active", lang)
    exceptions = _t("list.exceptions", lang)
    if result.withheld:
        return _t("withheld", lang).format(who=who)
    number = result.number
    if result.active is None:
        key = "empty" if not len(side.active) else "no_active"
        return _t(key, lang).format(who=who, number=number, active=active)

    def via(form: str) -> str:
        return _t("via", lang).format(form=form) if form != number else ""

    text = _t("active", lang).format(
        who=who,
        number=number,
        pattern=result.active.pattern,
        active=active,
        via=via(result.active.form(plan, number)),
    )
    if result.exception is None:
        return text + _t("no_exception", lang)
    return text + _t("exception", lang).format(
        pattern=result.exception.pattern, exceptions=exceptions
    )
