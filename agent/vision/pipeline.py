"""One camera's frames (or precomputed boxes) to floor observations.

frame -> motion gate -> detector -> tracker -> foot point -> homography ->
TrackPoint (metres), plus TrackEnd when a track ends, plus line crossings counted
in memory. The frame is dropped as soon as the detector returns; the only things
kept between frames are boxes, Kalman states and per-track line sides.

Example:
    >>> from agent.vision.tracker import TrackerConfig
    >>> plan = FloorPlan.from_pairs([((0, 0), (0, 0)), ((100, 0), (1, 0)),
    ...                              ((100, 100), (1, 1)), ((0, 100), (0, 1))])
    >>> pipe = CameraPipeline("cam-1", None, None, Tracker(TrackerConfig(confirm_frames=1), 5),
    ...                       plan)
    >>> box = np.array([[40, 20, 60, 100, 0.9]], dtype=np.float32)
    >>> pipe.process_boxes(box, t=10.0)
    [TrackPoint(t=10.0, source='cam-1', track=1, x=0.5, y=1.0)]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from agent.observations import Observation, TrackEnd, TrackPoint
from agent.vision.boxes import Boxes, Frame
from agent.vision.detector import Detector
from agent.vision.floorplan import FloorPlan, LineCounter
from agent.vision.motion import MotionGate
from agent.vision.tracker import TrackedBox, Tracker, TrackerStep

FLOOR_DECIMALS = 3
"""Millimetres: finer is noise from the box jitter, and shorter JSON."""


@dataclass
class PipelineStats:
    """Counters for health and inspect; no identifiers."""

    frames: int = 0
    detected_frames: int = 0
    gated_frames: int = 0
    detect_seconds: float = 0.0
    track_seconds: float = 0.0
    persons: list[int] = field(default_factory=list)

    @property
    def ms_per_detection(self) -> float:
        return 1000 * self.detect_seconds / self.detected_frames if self.detected_frames else 0.0


class CameraPipeline:
    """Turns one camera's frames into TrackPoint and TrackEnd observations.

    Args:
        source_id: the camera's configured id (the observations' ``source``).
        detector: finds persons; None when boxes come precomputed (detection layer).
        motion: the motion gate, or None to detect on every frame.
        tracker: the camera's tracker.
        floorplan: the camera's homography.
        lines: entrance lines counted on the floor.
        keep_person_counts: remember persons per frame (inspect's statistics).
    """

    def __init__(
        self,
        source_id: str,
        detector: Detector | None,
        motion: MotionGate | None,
        tracker: Tracker,
        floorplan: FloorPlan | None,
        lines: Sequence[LineCounter] = (),
        keep_person_counts: bool = False,
    ) -> None:
        self.source_id = source_id
        self.detector = detector
        self.motion = motion
        self.tracker = tracker
        self.floorplan = floorplan
        self.lines = list(lines)
        self.keep_person_counts = keep_person_counts
        self.stats = PipelineStats()
        self.last_boxes: Boxes | None = None
        self.last_active: list[TrackedBox] = []

    def process(self, frame: Frame, t: float) -> list[Observation]:
        """Detect (unless the motion gate says nothing moved), track, project."""
        if self.detector is None:
            raise RuntimeError("this pipeline has no detector; use process_boxes")
        self.stats.frames += 1
        if self.motion is not None and not self.motion.should_detect(frame, t):
            self.stats.gated_frames += 1
            started = time.perf_counter()
            step = self.tracker.hold()
            self.stats.track_seconds += time.perf_counter() - started
            return self._emit(step, t, None)
        started = time.perf_counter()
        boxes = self.detector.detect(frame)
        self.stats.detect_seconds += time.perf_counter() - started
        self.stats.detected_frames += 1
        return self._track(boxes, t)

    def process_boxes(self, boxes: Boxes, t: float) -> list[Observation]:
        """Track precomputed boxes (the simulator's detection layer, benchmarks)."""
        self.stats.frames += 1
        self.stats.detected_frames += 1
        return self._track(boxes, t)

    def finish(self, t: float) -> list[Observation]:
        """End every open track (the feed ended)."""
        ended = self.tracker.flush()
        for line in self.lines:
            for track in ended:
                line.forget(track)
        return [TrackEnd(t=t, source=self.source_id, track=track) for track in ended]

    def crossings(self) -> dict[str, dict[str, int]]:
        return {line.line_id: {"in": line.inbound, "out": line.outbound} for line in self.lines}

    def _track(self, boxes: Boxes, t: float) -> list[Observation]:
        started = time.perf_counter()
        step = self.tracker.update(boxes)
        self.stats.track_seconds += time.perf_counter() - started
        return self._emit(step, t, boxes)

    def _emit(self, step: TrackerStep, t: float, boxes: Boxes | None) -> list[Observation]:
        self.last_boxes = boxes
        self.last_active = step.active
        if self.keep_person_counts:
            self.stats.persons.append(len(step.active))
        out: list[Observation] = []
        if self.floorplan is not None and step.active:
            feet = np.asarray([p.foot for p in step.active], dtype=np.float64)
            floor = self.floorplan.to_floor_many(feet)
            for person, (x, y) in zip(step.active, floor.tolist(), strict=True):
                point = (round(x, FLOOR_DECIMALS), round(y, FLOOR_DECIMALS))
                for line in self.lines:
                    line.observe(person.track, point)
                out.append(
                    TrackPoint(
                        t=t, source=self.source_id, track=person.track, x=point[0], y=point[1]
                    )
                )
        for track in step.ended:
            for line in self.lines:
                line.forget(track)
            out.append(TrackEnd(t=t, source=self.source_id, track=track))
        return out
