"""Why a Breakthrough instance's rule matched a call or not, in the page's language.

The rule engine (`breakthrough.rules`) decides; this writes its deciding lists and patterns
for people, in German or English ("Angerufene Nummer 203 passt auf „*“ in „Aktiv für“ ...").
"""

from __future__ import annotations

from breakthrough.numbers import NumberPlan, check_number, is_withheld
from breakthrough.rules import CompiledInstance, Side, SideResult, decide_canonical
from runtime.web import i18n


def explain(compiled: CompiledInstance, called: str, caller: str | None, lang: str) -> tuple[
    bool, str
]:
    """(match, the reasons in `lang`) of `compiled`'s rule for one call.

    ConfigError (from the rule engine) for a malformed number.
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

    def t(key: str) -> str:
        return i18n.text(key, lang)

    if called_result is None:
        return False, f"{t('rule.inactive')}: {t('rule.no_match')}"
    parts = [_side(compiled.called, called_result, plan, t("rule.called"), lang)]
    if caller_result is None:
        parts.append(t("rule.not_checked"))
    else:
        parts.append(_side(compiled.caller, caller_result, plan, t("rule.caller"), lang))
    verdict = t("rule.match") if match else t("rule.no_match")
    return match, "; ".join(parts) + f": {verdict}"


def _side(side: Side, result: SideResult, plan: NumberPlan, who: str, lang: str) -> str:
    active = i18n.text("rule.list.active", lang)
    exceptions = i18n.text("rule.list.exceptions", lang)
    if result.withheld:
        return i18n.text("rule.withheld", lang).format(who=who)
    number = result.number
    if result.active is None:
        key = "rule.empty" if not len(side.active) else "rule.no_active"
        return i18n.text(key, lang).format(who=who, number=number, active=active)

    def via(form: str) -> str:
        return i18n.text("rule.via", lang).format(form=form) if form != number else ""

    text = i18n.text("rule.active", lang).format(
        who=who,
        number=number,
        pattern=result.active.pattern,
        active=active,
        via=via(result.active.form(plan, number)),
    )
    if result.exception is None:
        return text + i18n.text("rule.no_exception", lang)
    return text + i18n.text("rule.exception", lang).format(
        pattern=result.exception.pattern, exceptions=exceptions
    )
