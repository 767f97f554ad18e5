"""Multi-person tracker: Kalman prediction and ByteTrack's two-stage association.

Each frame:
1. every track is predicted one frame ahead (batched Kalman filter);
2. confident boxes are matched to confirmed and lost tracks by overlap;
3. weak boxes (often a person half hidden by a shelf or another shopper) are
   matched to the confirmed tracks still unmatched, which keeps them alive through
   occlusions instead of dropping and restarting them;
4. tentative tracks are matched to the confident boxes left; a tentative track
   becomes a person (gets an id) only after ``confirm_frames`` consecutive
   matches, so a flicker of the detector never becomes a visit;
5. confident boxes left over start tentative tracks;
6. a confirmed track unmatched for ``lost_s`` ends (reported once).

Matching is greedy (best pair first) on the IoU of slightly enlarged boxes, whose
margin grows with the time between frames so that a 5 fps camera keeps its
walkers; greedy gives the same pairs as an optimal assignment in all but
contrived crowds and costs far less.

Example:
    >>> tracker = Tracker(TrackerConfig(confirm_frames=1), fps=10)
    >>> box = np.array([[10, 10, 50, 130, 0.9]], dtype=np.float32)
    >>> [p.track for p in tracker.update(box).active]
    [1]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from agent.configbase import Model
from agent.vision import kalman
from agent.vision.boxes import Boxes, iou_matrix

TENTATIVE, TRACKED, LOST = 0, 1, 2


class TrackerConfig(Model):
    high_score: float = Field(
        default=0.5,
        gt=0,
        le=1,
        title="Confident score",
        description="Boxes at or above this score can start tracks and are matched first.",
    )
    low_score: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        title="Weak score",
        description="Boxes between this and the confident score only keep tracks alive.",
    )
    new_track_score: float = Field(
        default=0.6,
        gt=0,
        le=1,
        title="New track score",
        description="A box must score this much to start a new track.",
    )
    match_iou: float = Field(
        default=0.2,
        gt=0,
        lt=1,
        title="Match overlap",
        description="Least overlap (IoU times score) between a prediction and a box to match.",
    )
    confirm_frames: int = Field(
        default=3,
        ge=1,
        le=30,
        title="Confirmation",
        description="Consecutive detected frames before a track counts as a person.",
    )
    lost_s: float = Field(
        default=3.0,
        gt=0,
        le=60,
        title="Lost buffer",
        description="Seconds a confirmed track may go undetected (occlusion) before it ends.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> TrackerConfig:
        if not self.low_score < self.high_score <= self.new_track_score:
            raise ValueError(
                "scores must satisfy low_score < high_score <= new_track_score, got "
                f"{self.low_score}, {self.high_score}, {self.new_track_score}"
            )
        return self


WEAK_MATCH_IOU = 0.5
"""ByteTrack's second stage: a weak box must overlap its prediction well."""
TENTATIVE_MATCH_IOU = 0.3
"""A tentative track has no velocity yet; its prediction is rougher."""
BUFFER_PER_S = 2.0
BUFFER_FROM_FPS = 20.0
"""Matching compares boxes grown on each side by a margin (buffered IoU) when frames
are far apart: a walker moves about three body widths a second, and a new track
has no velocity yet, so at 5 fps plain IoU loses people between frames and
restarts them. At 20 fps and more the plain Kalman prediction is enough, and any
margin there merges neighbours in a crowd (it cost IDF1 on TUD-Stadtmitte); below
that, each second of frame interval beyond 1/20 s adds twice the box size.
Margins: 0.1 at 10 fps, 0.3 at 5 fps, 0 at 20 fps and more."""
MAX_BUFFER = 0.5
"""Beyond half a box per side, neighbours in a queue start to overlap."""
HOLD_VELOCITY_DAMPING = 0.5
"""Per held frame: a residual velocity is gone within a few frames of stillness."""


@dataclass(frozen=True, slots=True)
class TrackedBox:
    """A confirmed person in this frame: in-memory id and the filtered box (pixels)."""

    track: int
    x1: float
    y1: float
    x2: float
    y2: float
    score: float

    @property
    def foot(self) -> tuple[float, float]:
        """Bottom centre of the box: where the person stands."""
        return ((self.x1 + self.x2) / 2, self.y2)


@dataclass(frozen=True, slots=True)
class TrackerStep:
    """What one frame changed: confirmed tracks seen now, and tracks that ended."""

    active: list[TrackedBox]
    ended: list[int]


def greedy_match(similarity: npt.NDArray[np.float32], threshold: float) -> list[tuple[int, int]]:
    """Pairs (row, col), best similarity first, each row and column used once."""
    if similarity.size == 0:
        return []
    rows, cols = np.nonzero(similarity >= threshold)
    if len(rows) == 0:
        return []
    order = np.argsort(-similarity[rows, cols], kind="stable")
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    pairs = []
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if r not in used_rows and c not in used_cols:
            used_rows.add(r)
            used_cols.add(c)
            pairs.append((r, c))
    return pairs


class Tracker:
    """Tracks persons of one camera. Ids are small ints, per camera, in memory only.

    Args:
        config: thresholds and buffers.
        fps: frames per second the tracker is fed (the detection rate), to turn
            ``lost_s`` into frames.
    """

    def __init__(self, config: TrackerConfig, fps: float) -> None:
        self.config = config
        self.lost_frames = max(1, round(config.lost_s * fps))
        self.buffer = min(MAX_BUFFER, max(0.0, BUFFER_PER_S * (1 / fps - 1 / BUFFER_FROM_FPS)))
        self._mean = np.zeros((0, 8))
        self._cov = np.zeros((0, 4, 3))
        self._ids: list[int] = []  # 0 while tentative
        self._state: list[int] = []
        self._hits: list[int] = []
        self._missed: list[int] = []
        self._scores: list[float] = []
        self._next_id = 1
        self.confirmed_total = 0

    def __len__(self) -> int:
        return len(self._ids)

    def update(self, boxes: Boxes) -> TrackerStep:
        """Advance one frame with this frame's detections."""
        cfg = self.config
        self._mean, self._cov = kalman.predict(self._mean, self._cov)
        predicted = kalman.xyah_to_boxes(self._mean[:, :4]) if len(self._ids) else boxes[:0, :4]
        high = np.nonzero(boxes[:, 4] >= cfg.high_score)[0]
        low = np.nonzero((boxes[:, 4] >= cfg.low_score) & (boxes[:, 4] < cfg.high_score))[0]
        matched: dict[int, int] = {}  # track index -> box index
        state = np.asarray(self._state, dtype=np.int8)

        # Stage 1: confident boxes vs confirmed and lost tracks, overlap weighted by score.
        pool = np.nonzero(state != TENTATIVE)[0]
        sim = iou_matrix(self._grow(predicted[pool]), self._grow(boxes[high]))
        sim *= boxes[high, 4][None, :]
        for r, c in greedy_match(sim, cfg.match_iou):
            matched[int(pool[r])] = int(high[c])
        used = set(matched.values())
        high_left = np.asarray([i for i in high if i not in used], dtype=np.int64)

        # Stage 2: weak boxes vs confirmed tracks seen last frame and still unmatched.
        pool2 = np.asarray(
            [i for i in np.nonzero(state == TRACKED)[0] if i not in matched], dtype=np.int64
        )
        sim = iou_matrix(predicted[pool2], boxes[low])
        for r, c in greedy_match(sim, WEAK_MATCH_IOU):
            matched[int(pool2[r])] = int(low[c])

        # Stage 3: tentative tracks vs confident boxes left.
        pool3 = np.nonzero(state == TENTATIVE)[0]
        sim = iou_matrix(self._grow(predicted[pool3]), self._grow(boxes[high_left]))
        used3 = set()
        for r, c in greedy_match(sim, TENTATIVE_MATCH_IOU):
            matched[int(pool3[r])] = int(high_left[c])
            used3.add(c)
        fresh = [int(high_left[c]) for c in range(len(high_left)) if c not in used3]

        self._apply_matches(boxes, matched)
        ended = self._age_unmatched(matched)
        self._start(boxes, [i for i in fresh if boxes[i, 4] >= cfg.new_track_score])
        return TrackerStep(active=self._report(), ended=ended)

    def hold(self) -> TrackerStep:
        """Advance one frame without detections (motion gate closed): predict only.

        Nothing is aged: a frame that was not looked at is no evidence that anyone left.
        """
        self._mean, self._cov = kalman.predict(self._mean, self._cov)
        # Nothing moved, so nobody walks: damp the velocity so a held track settles
        # where it was instead of drifting off its spot.
        self._mean[:, 4:] *= HOLD_VELOCITY_DAMPING
        return TrackerStep(active=self._report(), ended=[])

    def flush(self) -> list[int]:
        """End every confirmed track (end of the feed); returns their ids."""
        ended = [tid for tid in self._ids if tid]
        self._keep(np.zeros(len(self._ids), dtype=bool))
        return ended

    def _grow(self, boxes: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Boxes (N, 4+) enlarged by ``self.buffer`` of their width and height per side."""
        if self.buffer == 0:
            return boxes[:, :4]
        out = boxes[:, :4].copy()
        w = (out[:, 2] - out[:, 0]) * self.buffer
        h = (out[:, 3] - out[:, 1]) * self.buffer
        out[:, 0] -= w
        out[:, 2] += w
        out[:, 1] -= h
        out[:, 3] += h
        return out

    def _apply_matches(self, boxes: Boxes, matched: dict[int, int]) -> None:
        if not matched:
            return
        rows = np.fromiter(matched.keys(), dtype=np.int64)
        cols = np.fromiter(matched.values(), dtype=np.int64)
        measurement = kalman.boxes_to_xyah(boxes[cols])
        mean, cov = kalman.update(self._mean[rows], self._cov[rows], measurement)
        self._mean[rows] = mean
        self._cov[rows] = cov
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            self._hits[r] += 1
            self._missed[r] = 0
            self._scores[r] = float(boxes[c, 4])
            if self._state[r] == TENTATIVE and self._hits[r] >= self.config.confirm_frames:
                self._ids[r] = self._next_id
                self._next_id += 1
                self.confirmed_total += 1
            if self._ids[r]:
                self._state[r] = TRACKED

    def _age_unmatched(self, matched: dict[int, int]) -> list[int]:
        keep = np.ones(len(self._ids), dtype=bool)
        ended = []
        for i in range(len(self._ids)):
            if i in matched:
                continue
            if self._state[i] == TENTATIVE:
                keep[i] = False  # a flicker: never a person, nothing to report
                continue
            self._state[i] = LOST
            self._hits[i] = 0
            self._missed[i] += 1
            if self._missed[i] > self.lost_frames:
                keep[i] = False
                ended.append(self._ids[i])
        self._keep(keep)
        return ended

    def _keep(self, keep: npt.NDArray[np.bool_]) -> None:
        self._mean = self._mean[keep]
        self._cov = self._cov[keep]
        flags = keep.tolist()
        self._ids = [v for v, k in zip(self._ids, flags, strict=True) if k]
        self._state = [v for v, k in zip(self._state, flags, strict=True) if k]
        self._hits = [v for v, k in zip(self._hits, flags, strict=True) if k]
        self._missed = [v for v, k in zip(self._missed, flags, strict=True) if k]
        self._scores = [v for v, k in zip(self._scores, flags, strict=True) if k]

    def _start(self, boxes: Boxes, rows: list[int]) -> None:
        if not rows:
            return
        mean, cov = kalman.initiate(kalman.boxes_to_xyah(boxes[rows]))
        self._mean = np.concatenate([self._mean, mean])
        self._cov = np.concatenate([self._cov, cov])
        for r in rows:
            confirmed = self.config.confirm_frames <= 1
            self._ids.append(self._next_id if confirmed else 0)
            if confirmed:
                self._next_id += 1
                self.confirmed_total += 1
            self._state.append(TRACKED if confirmed else TENTATIVE)
            self._hits.append(1)
            self._missed.append(0)
            self._scores.append(float(boxes[r, 4]))

    def _report(self) -> list[TrackedBox]:
        """Confirmed tracks matched this frame (unmatched ones are LOST by now)."""
        if not self._ids:
            return []
        current = kalman.xyah_to_boxes(self._mean[:, :4])
        out = []
        for i, tid in enumerate(self._ids):
            if tid and self._state[i] == TRACKED:
                x1, y1, x2, y2 = (float(v) for v in current[i])
                out.append(TrackedBox(tid, x1, y1, x2, y2, self._scores[i]))
        return out
