"""The frames between the host and a module's own process (runtime/modules/module_process.py).

A frame is a 4-byte big-endian length of the rest, one kind byte, a 4-byte big-endian request
id and the payload (UTF-8 text). The host sends requests; the module's process answers each
with an ANSWER frame of the same id, and sends LOG frames (id 0) of its own. The Java side of
the same frames is `de.sfhost.core.ModuleProcess`; docs/MODULE_CONTRACT.md says what each
request does.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO

# Answers to IMPORT and START are "ok" and words, or "!" and the failure in words.
IMPORT = b"M"  # import the build's package; "ok" + the shim's functions (check_instance ... start)
START = b"S"  # call the shim's start(api); "ok" + "hook" + "set_instances" as far as registered
CALL = b"C"  # the call's numbers; answer: the hook's one-string answer (hook_answer.py)
INSTANCES = b"I"  # JSON {"instances", "plan"}; answer: JSON {"refused": {...}}
FUNCTION = b"F"  # JSON {"name", "args"}; answer: JSON {"value": ...} or {"raised": {...}}
ANSWER = b"A"
LOG = b"L"  # instance US level US message (hook_answer.US)
# A frame longer than this is a broken stream, not a configuration (400,000 patterns are ~6 MB).
MAX_FRAME = 256 * 1024 * 1024

_HEADER = struct.Struct(">IcI")


class StreamEnded(Exception):
    """The other side closed the stream, or sent something that is not a frame."""


def frame(kind: bytes, request_id: int, payload: str) -> bytes:
    """One frame's bytes."""
    body = payload.encode("utf-8", "surrogatepass")
    return _HEADER.pack(len(body) + 5, kind, request_id) + body


def read_frame(stream: BinaryIO) -> tuple[bytes, int, str]:
    """The next frame from a buffered binary stream: kind, request id, payload."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise StreamEnded("the stream ended")
    length, kind, request_id = _HEADER.unpack(header)
    if length < 5 or length > MAX_FRAME:
        raise StreamEnded(f"a frame of {length} bytes")
    body = stream.read(length - 5)
    if len(body) < length - 5:
        raise StreamEnded("the stream ended inside a frame")
    return kind, request_id, body.decode("utf-8", "surrogatepass")


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data` to `fd`."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
