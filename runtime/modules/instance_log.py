"""Per-instance log files: written by a thread off the call path, rotated, read when asked.

Each instance logs to DATA/logs/instances/<instance id>/instance.log at its chosen level
(ERROR, WARN, INFO, DEBUG, TRACE; a line is kept when its level is at or above the chosen
one in severity). When the file would grow past `max_bytes` (10 MB) it is rotated to
instance.log.1, .2, .3, keeping `backups` (3) old files. The call path only puts a line on a
queue (`InstanceLogWriter.write`); one writer thread does the disk work.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import queue
import shutil
import threading
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

LEVELS = ("ERROR", "WARN", "INFO", "DEBUG", "TRACE")
DEFAULT_LEVEL = "INFO"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 3
LOG_NAME = "instance.log"

_ALIASES = {"WARNING": "WARN", "CRITICAL": "ERROR", "FATAL": "ERROR"}


def normalize_level(level: str) -> str:
    """The level's canonical name (WARNING -> WARN); INFO for anything unknown."""
    name = str(level).upper()
    name = _ALIASES.get(name, name)
    return name if name in LEVELS else DEFAULT_LEVEL


def level_enabled(line_level: str, chosen: str) -> bool:
    """True when a line at `line_level` belongs in a log set to `chosen`."""
    return LEVELS.index(normalize_level(line_level)) <= LEVELS.index(normalize_level(chosen))


def log_folder(data_dir: Path, instance_id: int) -> Path:
    return data_dir / "logs" / "instances" / str(instance_id)


def log_files(data_dir: Path, instance_id: int, backups: int = BACKUPS) -> list[Path]:
    """The instance's log files that exist, oldest first (instance.log.3 ... instance.log)."""
    folder = log_folder(data_dir, instance_id)
    names = [f"{LOG_NAME}.{n}" for n in range(backups, 0, -1)] + [LOG_NAME]
    return [folder / name for name in names if (folder / name).is_file()]


@dataclass(frozen=True)
class _Line:
    path: Path
    text: bytes


class InstanceLogWriter:
    """The one thread that appends log lines to instance files and rotates them."""

    def __init__(
        self, data_dir: Path, *, max_bytes: int = MAX_BYTES, backups: int = BACKUPS
    ) -> None:
        self.data_dir = data_dir
        self.max_bytes = max_bytes
        self.backups = backups
        self._queue: queue.SimpleQueue[_Line | threading.Event | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="instance-log-writer", daemon=True)
        self._closed = False
        self._thread.start()

    # --- the call path: no disk, no waiting
    def write(self, instance_id: int, level: str, message: str) -> None:
        """Queue one line for the instance's log (the level filter is the caller's job)."""
        if self._closed:
            return
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        text = f"{stamp} {normalize_level(level):<5} {message}\n".encode()
        path = log_folder(self.data_dir, instance_id) / LOG_NAME
        self._queue.put(_Line(path, text))

    # --- off the call path
    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every line queued so far is on disk; False on timeout."""
        if self._closed or not self._thread.is_alive():
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            # A full or read-only disk must not kill the writer; the line is lost.
            with contextlib.suppress(OSError):
                self._append(item)

    def _append(self, line: _Line) -> None:
        line.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            size = line.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size > 0 and size + len(line.text) > self.max_bytes:
            rotate(line.path, self.backups)
        with open(line.path, "ab") as handle:
            handle.write(line.text)


def rotate(path: Path, backups: int) -> None:
    """instance.log -> .1 -> .2 ... keeping `backups` old files; the oldest is dropped."""
    if backups <= 0:
        path.unlink(missing_ok=True)
        return
    oldest = path.with_name(f"{path.name}.{backups}")
    oldest.unlink(missing_ok=True)
    for n in range(backups - 1, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{n + 1}"))
    os.replace(path, path.with_name(f"{path.name}.1"))


class InstanceLogSink:
    """What a module's hook logs through: `sink(instance_name, level, message)`.

    Holds each instance's id and chosen level in memory (swapped whole on a config change);
    a line for an unknown instance goes to no file.
    """

    def __init__(self, writer: InstanceLogWriter) -> None:
        self.writer = writer
        self._instances: Mapping[str, tuple[int, str]] = {}

    def set_instances(self, instances: Mapping[str, tuple[int, str]]) -> None:
        """Replace the name -> (instance id, level) map (one assignment: safe for readers)."""
        self._instances = dict(instances)

    def names(self) -> tuple[str, ...]:
        """The instances this sink writes for."""
        return tuple(self._instances)

    def enabled(self, instance_name: str, level: str) -> bool:
        known = self._instances.get(instance_name)
        return known is not None and level_enabled(level, known[1])

    def __call__(self, instance_name: str, level: str, message: str) -> None:
        known = self._instances.get(instance_name)
        if known is None or not level_enabled(level, known[1]):
            return
        self.writer.write(known[0], level, message)

    def log(self, instance_name: str, level: str, message: str) -> None:
        self(instance_name, level, message)


_writers: dict[Path, InstanceLogWriter] = {}
_writers_lock = threading.Lock()


def writer_for(data_dir: Path) -> InstanceLogWriter:
    """The process's one log writer for this data folder (closed, and so flushed, at exit)."""
    key = data_dir.resolve()
    with _writers_lock:
        writer = _writers.get(key)
        if writer is None or writer._closed:
            writer = InstanceLogWriter(data_dir)
            _writers[key] = writer
        return writer


def flush_all() -> None:
    """Put every queued line of this process on disk (before reading a log, at exit)."""
    with _writers_lock:
        writers = list(_writers.values())
    for writer in writers:
        writer.flush()


def _close_all() -> None:
    with _writers_lock:
        writers = list(_writers.values())
    for writer in writers:
        writer.close()


atexit.register(_close_all)


def read_log(data_dir: Path, instance_id: int, *, max_bytes: int | None = None) -> str:
    """The instance's log as text, oldest line first; the last `max_bytes` if given."""
    flush_all()
    data = b"".join(path.read_bytes() for path in log_files(data_dir, instance_id))
    if max_bytes is not None and len(data) > max_bytes:
        data = data[-max_bytes:]
        data = data[data.find(b"\n") + 1 :]
    return data.decode("utf-8", errors="replace")


# The log API answers in pages: a whole log (4 x 10 MB) at once would hold the server and the
# client for nothing; the ZIP download has everything.
DEFAULT_PAGE_BYTES = 256 * 1024
MAX_PAGE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class LogPage:
    """Part of an instance's log: bytes [offset, end) of its files laid end to end."""

    text: str
    offset: int
    end: int
    size: int  # all log files together, in bytes

    def to_json(self) -> dict[str, object]:
        return {
            "log": self.text,
            "offset": self.offset,
            "end": self.end,
            "size": self.size,
            "more_before": self.offset > 0,
            "more_after": self.end < self.size,
        }


def read_log_page(
    data_dir: Path, instance_id: int, offset: int | None = None, limit: int = DEFAULT_PAGE_BYTES
) -> LogPage:
    """One page of the log: from byte `offset` (the files oldest first, laid end to end), or
    the newest lines when `offset` is None; whole lines of at most `limit` bytes together
    (capped at MAX_PAGE_BYTES). A line longer than the limit is a page of its own (cut at a
    character after MAX_PAGE_BYTES). The next page starts at the page's `end`.
    """
    flush_all()
    limit = max(1, min(limit, MAX_PAGE_BYTES))
    files = []
    for path in log_files(data_dir, instance_id):
        with contextlib.suppress(FileNotFoundError):  # rotated away since listed
            files.append((path, path.stat().st_size))
    size = sum(length for _, length in files)
    if offset is None:
        start, end = _newest_lines(files, size, limit), size
    else:
        start = min(max(0, offset), size)
        end = _lines_end(files, size, start, limit)
    data = _read_span(files, start, end)
    return LogPage(data.decode("utf-8", errors="replace"), start, end, size)


def _lines_end(files: list[tuple[Path, int]], size: int, start: int, limit: int) -> int:
    """Where a page from `start` ends: after its last whole line within `limit` bytes."""
    end = min(size, start + limit)
    if end == size:
        return end
    data = _read_span(files, start, end)
    if b"\n" in data:
        return start + data.rfind(b"\n") + 1
    # One line longer than the limit: all of it, up to MAX_PAGE_BYTES.
    longest = _read_span(files, start, min(size, start + MAX_PAGE_BYTES))
    newline = longest.find(b"\n")
    if newline != -1:
        return start + newline + 1
    if start + len(longest) == size:
        return size
    return start + _character_end(longest)


def _newest_lines(files: list[tuple[Path, int]], size: int, limit: int) -> int:
    """Where the newest page starts: at the first whole line of the last `limit` bytes."""
    start = max(0, size - limit)
    if start == 0:
        return 0
    data = _read_span(files, start - 1, size)  # with the byte before: is `start` a line start?
    newline = data.find(b"\n")
    if newline != -1 and newline + 1 < len(data):
        return start - 1 + newline + 1
    # The newest line alone is longer than the limit: all of it, up to MAX_PAGE_BYTES.
    base = max(0, size - MAX_PAGE_BYTES)
    tail = _read_span(files, base, size)
    newline = tail.rfind(b"\n", 0, len(tail) - 1)
    if newline != -1:
        return base + newline + 1
    if base == 0:
        return 0
    return base + _character_start(tail)


def _character_end(data: bytes) -> int:
    """len(data) less a UTF-8 sequence cut off at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # a lead byte (or ASCII): is its sequence whole?
            need = 1 if byte < 0x80 else (2 if byte < 0xE0 else 3 if byte < 0xF0 else 4)
            return len(data) if back >= need else len(data) - back
    return len(data)


def _character_start(data: bytes) -> int:
    """How many UTF-8 continuation bytes `data` starts with (a character cut off)."""
    skip = 0
    while skip < min(3, len(data)) and data[skip] & 0xC0 == 0x80:
        skip += 1
    return skip


def _read_span(files: list[tuple[Path, int]], start: int, end: int) -> bytes:
    parts = []
    position = 0
    for path, length in files:
        lo, hi = max(start, position), min(end, position + length)
        if lo < hi:
            with open(path, "rb") as handle:
                handle.seek(lo - position)
                parts.append(handle.read(hi - lo))
        position += length
    return b"".join(parts)


def log_zip(data_dir: Path, instance_id: int, instance_name: str) -> bytes:
    """Every log file of the instance in one ZIP (names as on disk, under the instance's name)."""
    flush_all()
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in instance_name) or "instance"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in log_files(data_dir, instance_id):
            archive.write(path, f"{safe}/{path.name}")
    return buffer.getvalue()


def remove_logs(data_dir: Path, instance_id: int) -> None:
    """Delete an instance's log folder (after the instance was deleted)."""
    shutil.rmtree(log_folder(data_dir, instance_id), ignore_errors=True)


LogFunction = Callable[[str, str, str], None]
