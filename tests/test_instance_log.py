"""Per-instance logs: level filter, rotation at a size keeping 3 old files, reading, ZIP."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from runtime.modules.instance_log import (
    LEVELS,
    InstanceLogSink,
    InstanceLogWriter,
    level_enabled,
    log_files,
    log_zip,
    read_log,
)


@given(st.sampled_from(LEVELS), st.sampled_from(LEVELS))
def test_a_line_is_kept_when_it_is_at_least_as_severe_as_the_chosen_level(
    line: str, chosen: str
) -> None:
    severity = {"ERROR": 0, "WARN": 1, "INFO": 2, "DEBUG": 3, "TRACE": 4}
    assert level_enabled(line, chosen) == (severity[line] <= severity[chosen])


def test_rotation_keeps_three_old_files_and_never_exceeds_the_limit(tmp_path: Path) -> None:
    writer = InstanceLogWriter(tmp_path, max_bytes=2000, backups=3)
    try:
        for n in range(400):  # about 60 bytes a line: 24 000 bytes, 12 files' worth
            writer.write(7, "INFO", f"line {n:04d} " + "x" * 20)
        assert writer.flush()
    finally:
        writer.close()
    files = log_files(tmp_path, 7)
    assert [p.name for p in files] == [
        "instance.log.3", "instance.log.2", "instance.log.1", "instance.log"
    ]
    assert all(p.stat().st_size <= 2000 for p in files)
    text = read_log(tmp_path, 7)
    numbers = [int(line.split("line ")[1][:4]) for line in text.splitlines()]
    # the newest lines, oldest first, none missing in between
    assert numbers[-1] == 399
    assert numbers == list(range(numbers[0], 400))
    assert numbers[0] > 0  # the oldest were dropped with the fourth old file


def test_sink_writes_by_the_instance_level_and_the_zip_holds_every_file(tmp_path: Path) -> None:
    writer = InstanceLogWriter(tmp_path, max_bytes=300, backups=3)
    sink = InstanceLogSink(writer)
    sink.set_instances({"Teamleiter": (3, "DEBUG")})
    try:
        sink("Teamleiter", "TRACE", "not kept")
        sink("Teamleiter", "DEBUG", "kept debug")
        sink("Unbekannt", "ERROR", "no such instance")
        for n in range(20):
            sink("Teamleiter", "ERROR", f"error {n}")
        writer.flush()
    finally:
        writer.close()
    text = read_log(tmp_path, 3)
    assert "not kept" not in text
    assert "error 19" in text and " ERROR " in text
    assert not (tmp_path / "logs" / "instances").joinpath("Unbekannt").exists()
    archive = zipfile.ZipFile(io.BytesIO(log_zip(tmp_path, 3, "Teamleiter")))
    names = sorted(archive.namelist())
    assert names == sorted(f"Teamleiter/{p.name}" for p in log_files(tmp_path, 3))
    joined = b"".join(
        archive.read(f"Teamleiter/{p.name}") for p in log_files(tmp_path, 3)
    ).decode()
    assert joined == text
