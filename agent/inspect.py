"""``edge-agent inspect FILE``: a JSON summary of any feed file the agent understands.

Each feed module registers an inspector: a predicate that recognises its files
cheaply (by suffix or magic bytes) and a function that returns a JSON-ready
summary. A summary never contains an identifier (MAC, EPC serial, token, track id)
or pixels: only counts, spans, ranges and problems with their positions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

Summary = dict[str, Any]
Inspector = tuple[str, Callable[[Path], bool], Callable[[Path], Summary]]
"""(name, recognises(path), summarise(path))."""


class UnknownFileError(ValueError):
    """No inspector recognises the file."""


def _recorded() -> Inspector:
    from agent.sources.recorded_inspect import looks_recorded, summarise

    return ("recorded observations", looks_recorded, summarise)


def _rfid_reads() -> Inspector:
    from agent.sources.rfid.inspect import looks_rfid, summarise

    return ("recorded RFID reads", looks_rfid, summarise)


def _wifi_capture() -> Inspector:
    from agent.sources.wifi.inspect import looks_like_capture, summarise

    return ("802.11 capture", looks_like_capture, summarise)


def _video() -> Inspector:
    from agent.sources.camera.inspect import looks_video, summarise

    return ("video", looks_video, summarise)


INSPECTOR_LOADERS: list[Callable[[], Inspector]] = [
    _recorded,
    _rfid_reads,
    _wifi_capture,
    _video,
]
"""Loaded lazily so that inspecting a text file never imports OpenCV or onnxruntime."""


def inspect_file(path: Path) -> Summary:
    """Summarise ``path`` with the first inspector that recognises it.

    Raises:
        UnknownFileError: no inspector recognises the file.
        OSError: the file cannot be read.
    """
    with path.open("rb"):
        pass  # an unreadable file is an OSError here, before any inspector guesses
    for load in INSPECTOR_LOADERS:
        name, recognises, summarise = load()
        if recognises(path):
            return {"file": str(path), "format": name, **summarise(path)}
    raise UnknownFileError(f"{path}: not a feed file edge-agent understands")
