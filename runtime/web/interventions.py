"""Recent interventions: which instance let which caller through to whom, and when.

A routed call is an intervention of each instance named in its `changed` list: those whose
effects changed what happened (the instances that merely matched, `applied`, are not).
The call path only puts the call's result on a queue; a writer thread stores it in SQLite, so
no call waits for the disk. The page shows the latest ones and a small chart per day, drawn as
inline SVG (no JavaScript library).
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from runtime.db import connect, transaction

log = logging.getLogger("sfm.serve.interventions")

# Enough to absorb a burst; past it, records are dropped (and said so) rather than block calls.
QUEUE_SIZE = 10_000


@dataclass(frozen=True)
class Intervention:
    """One instance whose effects changed what happened to one call."""

    at: str  # ISO time, UTC
    module_id: str | None
    instance: str
    caller: str
    called: str
    effects: tuple[str, ...]
    outcome: str
    source: str


def from_call(
    result: dict[str, Any], caller: str, called: str, source: str, module_id: str | None = None
) -> list[Intervention]:
    """The interventions in one `sfm call` result: one per entry of its `changed` list, with
    the effects that changed the call."""
    at = datetime.now(UTC).isoformat(timespec="seconds")
    return [
        Intervention(
            at=at,
            module_id=module_id,
            instance=str(entry.get("instance", "")),
            caller=caller,
            called=called,
            effects=tuple(str(effect) for effect in entry.get("effects", ())),
            outcome=str(result.get("outcome", "")),
            source=source,
        )
        for entry in result.get("changed") or ()
    ]


def store(conn: sqlite3.Connection, records: list[Intervention]) -> None:
    """Write interventions in one transaction."""
    with transaction(conn):
        conn.executemany(
            "INSERT INTO interventions (at, module_id, instance, caller, called, effects,"
            " outcome, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.at,
                    r.module_id,
                    r.instance,
                    r.caller,
                    r.called,
                    json.dumps(list(r.effects)),
                    r.outcome,
                    r.source,
                )
                for r in records
            ],
        )


def recent(conn: sqlite3.Connection, limit: int = 100) -> list[Intervention]:
    """The latest interventions, newest first."""
    rows = conn.execute(
        "SELECT * FROM interventions ORDER BY at DESC, id DESC LIMIT ?", (limit,)
    ).fetchall()
    return [
        Intervention(
            at=row["at"],
            module_id=row["module_id"],
            instance=row["instance"],
            caller=row["caller"],
            called=row["called"],
            effects=tuple(json.loads(row["effects"])),
            outcome=row["outcome"],
            source=row["source"],
        )
        for row in rows
    ]


def per_day(conn: sqlite3.Connection, days: int, today: date) -> list[tuple[date, int]]:
    """Interventions per UTC day for the `days` days ending `today`, oldest first, zeros kept."""
    first = today - timedelta(days=days - 1)
    counts = {
        row[0]: int(row[1])
        for row in conn.execute(
            "SELECT substr(at, 1, 10), count(*) FROM interventions"
            " WHERE substr(at, 1, 10) >= ? GROUP BY substr(at, 1, 10)",
            (first.isoformat(),),
        )
    }
    return [
        (first + timedelta(days=i), counts.get((first + timedelta(days=i)).isoformat(), 0))
        for i in range(days)
    ]


def _short_day(day: date) -> str:
    return f"{day.day:02d}.{day.month:02d}."


def chart_svg(
    series: list[tuple[date, int]], title: str, label: Callable[[date], str] = _short_day
) -> str:
    """A bar chart of `series` as an SVG element (safe to put into HTML as it is).

    Sized for a phone's width (labels stay readable at 360 px): every other day is labelled,
    and the last one; `label` writes a day for the axis and the bars' tooltips.
    """
    width, height, top, bottom, left = 360, 150, 16, 24, 8
    slot = (width - 2 * left) / max(len(series), 1)
    peak = max((count for _, count in series), default=0) or 1
    plot = height - top - bottom
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - left}" y2="{height - bottom}" '
        'class="axis"/>',
    ]
    for i, (day, count) in enumerate(series):
        bar = plot * count / peak
        x = left + i * slot + slot * 0.15
        y = height - bottom - bar
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{bar:.1f}"><title>{escape(label(day))}: {count}</title></rect>'
        )
        if count:
            parts.append(
                f'<text class="count" x="{x + slot * 0.35:.1f}" y="{y - 3:.1f}">{count}</text>'
            )
        if (len(series) - 1 - i) % 2 == 0:
            parts.append(
                f'<text class="day" x="{x + slot * 0.35:.1f}" y="{height - 6}">'
                f"{escape(label(day))}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


class InterventionRecorder:
    """Hands interventions from the call path to a writer thread that stores them."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._queue: queue.Queue[list[Intervention] | None] = queue.Queue(QUEUE_SIZE)
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def start(self) -> None:
        """Start the writer thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._write, name="intervention-writer", daemon=True
            )
            self._thread.start()

    def record(
        self,
        result: dict[str, Any],
        caller: str,
        called: str,
        source: str,
        module_id: str | None = None,
    ) -> None:
        """Queue the interventions of one routed call; never blocks the caller."""
        records = from_call(result, caller, called, source, module_id)
        if not records:
            return
        try:
            self._queue.put_nowait(records)
        except queue.Full:
            self.dropped += len(records)
            log.warning("intervention queue full: %d record(s) dropped", len(records))

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far is stored (for pages that show it next)."""
        if self._thread is None:
            return
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        """Store what is queued, then end the writer thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _write(self) -> None:
        conn = connect(self.data_dir)
        try:
            while True:
                item = self._queue.get()
                try:
                    if item is None:
                        return
                    store(conn, item)
                except Exception:  # a failed write must not end the writer
                    log.exception("could not store %d intervention(s)", len(item or []))
                finally:
                    self._queue.task_done()
        finally:
            conn.close()
