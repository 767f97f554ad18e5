"""The detection layer: person boxes per frame as JSON lines, instead of video.

The simulator renders what a camera's detector would have seen, one line per
frame::

    {"t": 1700000000.0, "frame": 12, "boxes": [[x1, y1, x2, y2, score], ...]}

in the camera's image pixels. The camera source feeds these boxes through the
same tracker and floor plan as live video, so simulated fixtures exercise the
real tracker. A bad line is skipped with one warning naming ``file:line`` and the
reason, and counted; the rest of the file goes on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from agent.vision.boxes import Boxes, empty_boxes

MAX_LINE_BYTES = 1024 * 1024
"""A frame of a few hundred boxes is ~20 kB; a megabyte line is a corrupt file."""
MAX_BOXES = 1000
"""More persons than this in one camera view is a broken renderer, not a store."""


class DetectionLineError(ValueError):
    """A line that is not a frame of boxes; the message is the reason."""


def parse_detection_line(record: Any) -> tuple[float, int | None, Boxes]:
    """(t, frame number or None, boxes) from one decoded line.

    Raises:
        DetectionLineError: with a reason that never quotes the line.
    """
    if not isinstance(record, dict):
        raise DetectionLineError("line is not a JSON object")
    t = record.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
        raise DetectionLineError("field 't' must be a non-negative number (UTC seconds)")
    frame = record.get("frame")
    if frame is not None and (isinstance(frame, bool) or not isinstance(frame, int)):
        raise DetectionLineError("field 'frame' must be an integer")
    raw = record.get("boxes")
    if not isinstance(raw, list):
        raise DetectionLineError("field 'boxes' must be a list of [x1, y1, x2, y2, score]")
    if len(raw) > MAX_BOXES:
        raise DetectionLineError(f"more than {MAX_BOXES} boxes in one frame")
    if not raw:
        return float(t), frame, empty_boxes()
    for i, box in enumerate(raw):
        if (
            not isinstance(box, list)
            or len(box) != 5
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)
        ):
            raise DetectionLineError(f"box {i} must be 5 numbers [x1, y1, x2, y2, score]")
    boxes = np.asarray(raw, dtype=np.float32)
    if not np.all(np.isfinite(boxes)):
        raise DetectionLineError("boxes contain a non-finite number")
    bad = np.nonzero((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1]))[0]
    if len(bad):
        raise DetectionLineError(f"box {int(bad[0])} has no area (x2 <= x1 or y2 <= y1)")
    bad = np.nonzero((boxes[:, 4] < 0) | (boxes[:, 4] > 1))[0]
    if len(bad):
        raise DetectionLineError(f"box {int(bad[0])} has a score outside 0..1")
    return float(t), frame, boxes


def read_detection_layer(
    path: Path,
) -> Iterator[tuple[int, int, tuple[float, int | None, Boxes] | DetectionLineError]]:
    """Yield (line number, bytes read so far, parsed frame or the line's error)."""
    done = 0
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            done += len(raw)
            if not raw.strip():
                continue
            if len(raw) > MAX_LINE_BYTES:
                yield number, done, DetectionLineError(f"line longer than {MAX_LINE_BYTES} bytes")
                continue
            try:
                yield number, done, parse_detection_line(json.loads(raw))
            except DetectionLineError as e:
                yield number, done, e
            except (ValueError, UnicodeDecodeError):
                yield number, done, DetectionLineError("not valid JSON")
