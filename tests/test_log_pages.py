"""The log API's pages (instance_log.read_log_page) against a simple reference: the bytes of
the log files laid end to end. Paging forward from 0 gives back exactly those bytes, in whole
lines, never a page above its limit; the newest page is the reference's tail."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.modules import instance_log

lines = st.lists(
    st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=40),
    max_size=60,
)


def _write(folder: Path, files: list[list[str]]) -> bytes:
    """The files oldest first (instance.log.3 ... instance.log); their bytes laid end to end."""
    names = [f"{instance_log.LOG_NAME}.{n}" for n in range(3, 0, -1)] + [instance_log.LOG_NAME]
    everything = b""
    log = folder / "logs" / "instances" / "7"
    log.mkdir(parents=True)
    for name, content in zip(names[-len(files):], files, strict=True):
        data = "".join(line + "\n" for line in content).encode()
        (log / name).write_bytes(data)
        everything += data
    return everything


@settings(max_examples=150, deadline=None)
@given(files=st.lists(lines, min_size=1, max_size=4), limit=st.integers(1, 300))
def test_pages_forward_give_back_the_whole_log(files: list[list[str]], limit: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        everything = _write(folder, files)
        pages = []
        offset = 0
        for _ in range(len(everything) + 2):
            page = instance_log.read_log_page(folder, 7, offset, limit)
            assert page.size == len(everything)
            assert page.offset == offset
            data = page.text.encode()
            assert data == everything[page.offset : page.end]
            # Whole lines; over the limit only when one line alone is longer: then that line.
            assert data.endswith(b"\n") or page.end == page.size
            assert len(data) <= limit or data.count(b"\n") == 1
            assert page.end > offset or page.end == page.size  # always progress
            pages.append(data)
            if page.end >= page.size:
                break
            offset = page.end
        assert b"".join(pages) == everything
        newest = instance_log.read_log_page(folder, 7, None, limit)
        assert newest.end == len(everything)
        tail = newest.text.encode()
        assert everything.endswith(tail)
        assert len(tail) <= limit or tail.count(b"\n") == 1
        assert newest.offset == 0 or everything[newest.offset - 1 : newest.offset] == b"\n"
        # As many of the newest whole lines as fit (at least one).
        earlier = everything[: newest.offset]
        if earlier:
            previous_line = earlier[earlier.rfind(b"\n", 0, len(earlier) - 1) + 1 :]
            assert len(previous_line) + len(tail) > limit


def test_a_line_longer_than_the_largest_page_is_cut_between_characters(tmp_path: Path) -> None:
    # 0.75 M two-byte characters (1.5 MB) in one line, a short line after it.
    long_line = "é" * (3 * instance_log.MAX_PAGE_BYTES // 4)
    everything = _write(tmp_path, [[long_line, "kurz"]])
    first = instance_log.read_log_page(tmp_path, 7, 0, 10)
    assert first.end == instance_log.MAX_PAGE_BYTES  # the largest page, on a character edge
    assert "\ufffd" not in first.text and first.text == "é" * (first.end // 2)
    second = instance_log.read_log_page(tmp_path, 7, first.end, 10)
    assert second.text == "é" * ((len(long_line) * 2 - first.end) // 2) + "\n"
    third = instance_log.read_log_page(tmp_path, 7, second.end, 10)
    assert third.text == "kurz\n" and third.end == len(everything)
    # One odd byte in front: the cut moves back by one, never into a character.
    odd = tmp_path / "odd"
    _write(odd, [["x" + long_line]])
    page = instance_log.read_log_page(odd, 7, 0, 10)
    assert page.end == instance_log.MAX_PAGE_BYTES - 1 and "\ufffd" not in page.text
    newest = instance_log.read_log_page(odd, 7, None, 10)
    assert "\ufffd" not in newest.text and newest.end == len(("x" + long_line + "\n").encode())
