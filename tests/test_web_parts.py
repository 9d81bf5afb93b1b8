"""The web host's parts on their own: the breakthrough counts and chart, the UI texts, the
admin's password and sessions, and the login throttle. (The instance form: test_instance_form.)"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import Signer

from runtime.db import connect
from runtime.errors import Refused
from runtime.web import auth, i18n, interventions
from runtime.web.app import setup_link
from runtime.web.rendering import TEMPLATES_DIR

# ---- interventions -------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(offsets=st.lists(st.integers(min_value=0, max_value=20 * 24 * 3600 - 1), max_size=40))
def test_per_day_counts_every_breakthrough_of_its_utc_day(
    tmp_path_factory: pytest.TempPathFactory, offsets: list[int]
) -> None:
    conn = connect(tmp_path_factory.mktemp("bt"))
    start = datetime(2026, 3, 20, tzinfo=UTC)
    moments = [start + timedelta(seconds=s) for s in offsets]
    interventions.store(
        conn,
        [
            interventions.Intervention(
                m.isoformat(timespec="seconds"),
                None,
                "T",
                "210",
                "203",
                ("bypass_dnd",),
                "ring",
                "test",
            )
            for m in moments
        ],
    )
    today = date(2026, 4, 8)
    series = interventions.per_day(conn, 14, today)
    reference = Counter(m.date() for m in moments)
    assert [day for day, _ in series] == [today - timedelta(days=13 - i) for i in range(14)]
    assert [count for _, count in series] == [reference.get(day, 0) for day, _ in series]
    conn.close()


def test_chart_draws_one_bar_per_day_scaled_to_the_busiest() -> None:
    series = [(date(2026, 1, 1) + timedelta(days=i), n) for i, n in enumerate([0, 2, 4, 1])]
    svg = interventions.chart_svg(series, "a <title> & more")
    heights = [float(h) for h in re.findall(r'<rect class="bar"[^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 4
    assert heights[0] == 0 and heights[2] == max(heights)
    assert heights[1] == pytest.approx(heights[2] / 2) and heights[3] == pytest.approx(
        heights[2] / 4
    )
    assert "<title>a &lt;title&gt; &amp; more</title>" in svg
    assert "<script" not in svg


def test_recorder_stores_only_the_effects_that_changed_a_call(tmp_path: Path) -> None:
    recorder = interventions.InterventionRecorder(tmp_path)
    recorder.start()
    # Matched, but nothing changed: not a breakthrough.
    recorder.record(
        {"outcome": "ring", "applied": [{"instance": "A", "effects": ["bypass_dnd"]}],
         "changed": []},
        "210", "202", "call test",
    )  # fmt: skip
    recorder.record(
        {
            "outcome": "ring",
            "applied": [
                {"instance": "A", "effects": ["bypass_dnd", "bypass_redirects"]},
                {"instance": "B", "effects": ["force_call_waiting"]},
                {"instance": "C", "effects": ["bypass_redirects"]},
            ],
            "changed": [
                {"instance": "A", "effects": ["bypass_dnd"]},
                {"instance": "B", "effects": ["force_call_waiting"]},
            ],
        },
        "210",
        "203",
        "call test",
    )
    recorder.stop()
    conn = connect(tmp_path)
    rows = interventions.recent(conn)
    conn.close()
    assert sorted((r.instance, r.caller, r.called, r.effects) for r in rows) == [
        ("A", "210", "203", ("bypass_dnd",)),
        ("B", "210", "203", ("force_call_waiting",)),
    ]


# ---- texts ---------------------------------------------------------------------------------


def test_every_ui_text_exists_in_german_and_english() -> None:
    for key, entry in i18n.TEXTS.items():
        assert set(entry) == set(i18n.LANGUAGES), key
        assert all(value.strip() for value in entry.values()), key


def test_every_text_a_template_asks_for_exists() -> None:
    used = set()
    for path in TEMPLATES_DIR.glob("*.j2"):
        used |= set(re.findall(r"""\bt\(["']([a-z_.]+)["']\)""", path.read_text("utf-8")))
    # Keys built at run time: the outcomes, effects and licence states.
    assert used - set(i18n.TEXTS) == set()
    for outcome in ("ring", "waiting", "forward", "busy", "voicemail"):
        assert f"call.outcome.{outcome}" in i18n.TEXTS
    for effect in (
        "bypass_dnd",
        "bypass_redirects",
        "bypass_self_redirects_only",
        "force_call_waiting",
    ):
        assert f"effect.{effect}" in i18n.TEXTS
    for action in ("installed", "upgraded", "reinstalled", "downgraded", "unchanged"):
        assert f"modules.action.{action}" in i18n.TEXTS
    for state in ("trial", "licensed", "expired"):
        assert f"licence.{state}" in i18n.TEXTS


def test_product_texts_are_kept_word_for_word() -> None:
    # Sentences of the product documentation (seed/breakthrough-2.6.1-product-doc.de.txt).
    product = {
        "instances.log_note": "Das Log aktualisiert sich nicht automatisch, sondern nur, wenn "
        "die entsprechende Schaltfläche betätigt wird.",
        "instances.legend_q": "Platzhalter für eine Ziffer",
        "instances.legend_star": "Platzhalter für eine, mehrere oder keine Ziffer/n",
    }
    for key, sentence in product.items():
        assert i18n.text(key, "de") == sentence, key


# ---- password, setup link, sessions --------------------------------------------------------


def test_setup_link_sets_an_argon2_password_once(tmp_path: Path) -> None:
    conn = connect(tmp_path)
    token = auth.issue_setup_token(conn)
    assert token is not None
    with pytest.raises(Refused, match=r"^password: at least \d+ characters"):
        auth.set_admin_password(conn, token, "short", "short")
    with pytest.raises(Refused, match="^password: the two entries differ"):
        auth.set_admin_password(conn, token, "long enough 1", "long enough 2")
    assert not auth.admin_exists(conn)
    user_id = auth.set_admin_password(conn, token, "long enough 1", "long enough 1")
    with pytest.raises(Refused, match="^setup link: unknown or already used"):
        auth.set_admin_password(conn, token, "another one!", "another one!")
    assert auth.issue_setup_token(conn) is None
    (stored,) = conn.execute("SELECT password_hash FROM web_users").fetchone()
    assert stored.startswith("$argon2id$") and "long enough" not in stored
    assert auth.check_login(conn, "admin", "long enough 1") == user_id
    assert auth.check_login(conn, "admin", "long enough 2") is None
    assert auth.check_login(conn, "root", "long enough 1") is None
    # Nothing in the database opens a session or the setup page by itself.
    assert token not in str(conn.execute("SELECT * FROM web_setup_tokens").fetchall())
    conn.close()


def test_only_the_last_printed_setup_link_works(tmp_path: Path) -> None:
    first = setup_link(tmp_path, "http://127.0.0.1:8080/")
    second = setup_link(tmp_path, "http://127.0.0.1:8080/")
    assert first and second and first != second
    conn = connect(tmp_path)
    assert not auth.setup_token_valid(conn, first.rsplit("/", 1)[1])
    assert auth.setup_token_valid(conn, second.rsplit("/", 1)[1])
    conn.close()


def test_sessions_end_after_idle_time_and_at_logout(tmp_path: Path) -> None:
    conn = connect(tmp_path)
    token = auth.issue_setup_token(conn)
    assert token is not None
    user_id = auth.set_admin_password(conn, token, "long enough 1", "long enough 1")
    signer = Signer("k" * 40, salt="test")
    with time_machine.travel(datetime(2026, 5, 1, 9, 0, tzinfo=UTC), tick=False) as clock:
        cookie = auth.start_session(conn, user_id, signer)
        session = auth.find_session(conn, cookie, signer)
        assert session is not None and session.username == "admin"
        assert auth.find_session(conn, cookie + "x", signer) is None
        assert auth.find_session(conn, cookie, Signer("other key" * 5, salt="test")) is None
        clock.shift(auth.SESSION_IDLE - timedelta(minutes=5))
        assert auth.find_session(conn, cookie, signer) is not None  # used: idle time restarts
        clock.shift(auth.SESSION_IDLE - timedelta(minutes=5))
        assert auth.find_session(conn, cookie, signer) is not None
        clock.shift(auth.SESSION_IDLE + timedelta(minutes=1))
        assert auth.find_session(conn, cookie, signer) is None
        other = auth.start_session(conn, user_id, signer)
        found = auth.find_session(conn, other, signer)
        assert found is not None
        auth.end_session(conn, found.id_hash)
        assert auth.find_session(conn, other, signer) is None
    conn.close()
