"""Dates and times on the web page, as people of each language write them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from runtime.web.i18n import DEFAULT

MONTHS = {
    "de": (
        "Januar", "Februar", "März", "April", "Mai", "Juni",
        "Juli", "August", "September", "Oktober", "November", "Dezember",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_date(value: str | date | None, lang: str) -> str:
    """A date as people of `lang` write it ("15. Dezember 2026", "15 December 2026")."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        parsed = _parse_time(value)
        if parsed is None:
            return value
        day = parsed.date()
    else:
        day = value
    month = MONTHS.get(lang, MONTHS[DEFAULT])[day.month - 1]
    if lang == "de":
        return f"{day.day}. {month} {day.year}"
    return f"{day.day} {month} {day.year}"


def format_time(value: str | None, lang: str) -> str:
    """An ISO time (UTC) in this host's local time zone, as people of `lang` write it."""
    if not value:
        return "–"
    parsed = _parse_time(value)
    if parsed is None:
        return value
    local = parsed.astimezone()
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if lang == "de":
        return f"{format_date(local.date(), lang)}, {clock} Uhr"
    return f"{format_date(local.date(), lang)}, {clock}"


def format_day(value: date, lang: str) -> str:
    """A day in a chart's axis: "18.11." or "18 Nov"."""
    if lang == "de":
        return f"{value.day:02d}.{value.month:02d}."
    return f"{value.day} {MONTHS['en'][value.month - 1][:3]}"
