"""The tracker on real pedestrian ground truth (TUD, from the motmetrics wheel)."""

from __future__ import annotations

import numpy as np
import pytest

from agent.vision.boxes import iou_matrix
from agent.vision.tracker import Tracker, TrackerConfig, greedy_match
from tests.test_vision_fixtures import noisy_detections, tud_ground_truth

MATCH_IOU = 0.5
"""CLEAR MOT's usual overlap for a hypothesis to count as the ground-truth person."""


def clear_mot(gt: dict[int, np.ndarray], hyp: dict[int, np.ndarray]) -> dict[str, float]:
    """MOTA with its parts (CLEAR MOT): misses, false positives, identity switches.

    Correspondences of the previous frame are kept while they still overlap, as the
    metric prescribes; the rest are matched best overlap first.
    """
    last: dict[int, int] = {}  # gt id -> hyp id it was last matched to
    misses = false_pos = switches = total = 0
    for frame in sorted(gt):
        g = gt[frame]
        h = hyp.get(frame, np.zeros((0, 5), dtype=np.float32))
        total += len(g)
        overlap = iou_matrix(g[:, 1:5].astype(np.float32), h[:, 1:5].astype(np.float32))
        pairs: list[tuple[int, int]] = []
        free_g = set(range(len(g)))
        free_h = set(range(len(h)))
        for gi in range(len(g)):
            prev = last.get(int(g[gi, 0]))
            for hi in range(len(h)):
                if prev == int(h[hi, 0]) and overlap[gi, hi] >= MATCH_IOU and hi in free_h:
                    pairs.append((gi, hi))
                    free_g.discard(gi)
                    free_h.discard(hi)
        rest_g, rest_h = sorted(free_g), sorted(free_h)
        for r, c in greedy_match(overlap[np.ix_(rest_g, rest_h)], MATCH_IOU):
            pairs.append((rest_g[r], rest_h[c]))
        for gi, hi in pairs:
            gid, hid = int(g[gi, 0]), int(h[hi, 0])
            if gid in last and last[gid] != hid:
                switches += 1
            last[gid] = hid
        misses += len(g) - len(pairs)
        false_pos += len(h) - len(pairs)
    mota = 1 - (misses + false_pos + switches) / total
    return {"mota": mota, "misses": misses, "false_pos": false_pos, "switches": switches}


def run_tracker(dets: dict[int, np.ndarray], config: TrackerConfig) -> dict[int, np.ndarray]:
    tracker = Tracker(config, fps=25)
    out: dict[int, np.ndarray] = {}
    for frame in sorted(dets):
        step = tracker.update(dets[frame])
        out[frame] = np.asarray(
            [[p.track, p.x1, p.y1, p.x2, p.y2] for p in step.active], dtype=np.float32
        ).reshape(-1, 5)
    return out


@pytest.mark.parametrize(("sequence", "min_mota"), [("TUD-Campus", 0.6), ("TUD-Stadtmitte", 0.6)])
def test_tracker_follows_real_pedestrians(sequence: str, min_mota: float) -> None:
    gt = tud_ground_truth(sequence)
    raw = clear_mot(
        gt,
        {
            f: np.hstack([np.arange(len(d))[:, None] + 1000 * f, d[:, :4]])
            for f, d in noisy_detections(gt, seed=1).items()
        },
    )
    tracked = clear_mot(gt, run_tracker(noisy_detections(gt, seed=1), TrackerConfig()))
    people = len({int(i) for boxes in gt.values() for i in boxes[:, 0]})
    # The noisy detections alone (no identities kept) switch identity every frame.
    assert raw["switches"] > 5 * people
    assert tracked["mota"] >= min_mota, tracked
    assert tracked["switches"] <= people, tracked
    # Misses and false positives both drop below the raw detector's: occlusion
    # buffering fills gaps, and confirmation removes one-frame false boxes.
    assert tracked["false_pos"] < raw["false_pos"], (tracked, raw)


def test_flicker_never_becomes_a_person() -> None:
    tracker = Tracker(TrackerConfig(confirm_frames=3), fps=10)
    box = np.array([[100, 100, 140, 200, 0.9]], dtype=np.float32)
    none = np.zeros((0, 5), dtype=np.float32)
    for frames in ([box, box, none], [box, none, box, none]):
        for dets in frames:
            assert tracker.update(dets).active == []
    assert tracker.confirmed_total == 0


def test_occluded_person_keeps_one_id_and_ends_once() -> None:
    tracker = Tracker(TrackerConfig(confirm_frames=2, lost_s=1.0), fps=10)
    ids = set()
    ended: list[int] = []
    for frame in range(60):
        x = 100 + 5 * frame
        # Hidden behind a shelf for 8 frames (0.8 s, inside the 1 s buffer).
        visible = not 20 <= frame < 28 and frame < 45
        dets = np.array([[x, 100, x + 40, 200, 0.9]], dtype=np.float32)
        step = tracker.update(dets if visible else dets[:0])
        ids |= {p.track for p in step.active}
        ended += step.ended
    assert ids == {1}
    assert ended == [1]


def test_weak_boxes_keep_a_track_but_never_start_one() -> None:
    tracker = Tracker(TrackerConfig(confirm_frames=1), fps=10)
    strong = np.array([[100, 100, 140, 200, 0.9]], dtype=np.float32)
    weak = strong.copy()
    weak[0, 4] = 0.3
    assert [p.track for p in tracker.update(strong).active] == [1]
    for _ in range(5):  # partly occluded: the detector is unsure, the track holds
        assert [p.track for p in tracker.update(weak).active] == [1]
    other = Tracker(TrackerConfig(confirm_frames=1), fps=10)
    for _ in range(5):
        assert other.update(weak).active == []


def test_hold_keeps_still_people_without_aging_them() -> None:
    tracker = Tracker(TrackerConfig(confirm_frames=1, lost_s=0.2), fps=10)
    box = np.array([[100, 100, 140, 200, 0.9]], dtype=np.float32)
    tracker.update(box)
    for _ in range(50):  # 5 s without a look, far past the 0.2 s lost buffer
        step = tracker.hold()
        assert [p.track for p in step.active] == [1]
        assert step.ended == []
    assert abs(step.active[0].foot[1] - 200) < 2


def test_a_fast_walker_at_a_low_frame_rate_stays_one_person() -> None:
    # 5 fps, a far (30 px wide) person crossing 20 px a frame: consecutive boxes
    # overlap by a third, which plain IoU matching would lose on the second frame.
    tracker = Tracker(TrackerConfig(), fps=5)
    ids: set[int] = set()
    for frame in range(30):
        x = 20 + 20 * frame
        step = tracker.update(np.array([[x, 200, x + 30, 290, 0.8]], dtype=np.float32))
        ids |= {p.track for p in step.active}
    assert ids == {1}
