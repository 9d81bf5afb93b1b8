"""Why an instance's rule matched a call or not, in German or English, for the host's call
tester ("Angerufene Nummer 203 passt auf „*“ in „Aktiv für“ ..."). The rule engine decides
(`rules.decide_signalled`); this writes its deciding lists and patterns for people.
"""

from __future__ import annotations

from .number_forms import NumberPlan
from .rules import CompiledInstance, Side, SideResult, decide_signalled

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


def text(key: str, lang: str) -> str:
    """The text `key` in `lang` (German for any language but English)."""
    return TEXTS[key]["en" if lang == "en" else "de"]


def explain(
    compiled: CompiledInstance, called: str, caller: str | None, lang: str
) -> tuple[bool, str]:
    """(match, the reasons in `lang`) of `compiled`'s rule for one call.

    ConfigError (from the rule engine) for a malformed number.
    """
    plan = compiled.plan
    match, called_result, caller_result = decide_signalled(compiled, called, caller)
    if called_result is None:
        return False, f"{text('inactive', lang)}: {text('no_match', lang)}"
    parts = [_side(compiled.called, called_result, plan, text("called", lang), lang)]
    if caller_result is None:
        parts.append(text("not_checked", lang))
    else:
        parts.append(_side(compiled.caller, caller_result, plan, text("caller", lang), lang))
    verdict = text("match", lang) if match else text("no_match", lang)
    return match, "; ".join(parts) + f": {verdict}"


def _side(side: Side, result: SideResult, plan: NumberPlan, who: str, lang: str) -> str:
    active = text("list.active", lang)
    exceptions = text("list.exceptions", lang)
    if result.withheld:
        return text("withheld", lang).format(who=who)
    number = result.number
    if result.active is None:
        key = "empty" if not len(side.active) else "no_active"
        return text(key, lang).format(who=who, number=number, active=active)

    def via(form: str) -> str:
        return text("via", lang).format(form=form) if form != number else ""

    line = text("active", lang).format(
        who=who,
        number=number,
        pattern=result.active.pattern,
        active=active,
        via=via(result.active.form(plan, number)),
    )
    if result.exception is None:
        return line + text("no_exception", lang)
    return line + text("exception", lang).format(
        pattern=result.exception.pattern, exceptions=exceptions
    )
