"""Person detectors on real footage (vtest.avi) against hand-labelled boxes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.vision.boxes import Boxes, iou_matrix
from agent.vision.detector import (
    BlobConfig,
    HogDetectorConfig,
    NanoDetConfig,
    YoloConfig,
    build_detector,
    default_model_path,
)
from agent.vision.motion import MotionConfig, MotionGate
from agent.vision.tracker import greedy_match
from tests.test_vision_fixtures import extract_vtest

# Persons labelled by hand on six frames of vtest.avi (x1, y1, x2, y2), read off
# the frames drawn with a 50-pixel grid. Everyone whose body is mostly visible is
# labelled, including the small figures far up the path.
LABELS: dict[int, list[tuple[int, int, int, int]]] = {
    0: [(253, 220, 283, 307), (500, 157, 530, 233), (638, 240, 685, 322)],
    150: [
        (70, 90, 90, 128),
        (387, 195, 418, 278),
        (432, 180, 470, 276),
        (588, 228, 626, 315),
        (636, 108, 660, 165),
        (656, 112, 680, 165),
        (711, 110, 728, 176),
    ],
    300: [
        (186, 160, 218, 235),
        (242, 158, 270, 220),
        (298, 158, 324, 230),
        (313, 210, 345, 296),
        (581, 158, 611, 237),
        (618, 158, 645, 234),
    ],
    450: [(308, 207, 338, 290), (485, 183, 516, 258), (558, 242, 595, 337)],
    600: [
        (188, 143, 212, 214),
        (456, 302, 505, 419),
        (568, 200, 597, 288),
        (668, 208, 703, 296),
        (640, 305, 671, 412),
        (284, 432, 331, 576),
    ],
    750: [
        (181, 202, 222, 282),
        (236, 215, 275, 303),
        (370, 180, 402, 260),
        (398, 212, 428, 300),
        (508, 178, 537, 249),
        (636, 217, 677, 318),
        (662, 115, 690, 175),
    ],
}
MATCH_IOU = 0.5
CONFIDENT = 0.45
"""The score above which a NanoDet box is taken as a person for precision."""


@pytest.fixture(scope="module")
def frames() -> dict[int, np.ndarray]:
    capture = cv2.VideoCapture(str(extract_vtest()))
    out: dict[int, np.ndarray] = {}
    index = 0
    while index <= max(LABELS):
        ok, frame = capture.read()
        assert ok, f"vtest.avi ended at frame {index}"
        if index in LABELS:
            out[index] = frame
        index += 1
    capture.release()
    return out


def score(found: dict[int, Boxes], min_score: float) -> tuple[float, float]:
    """(recall, precision) of boxes scoring at least ``min_score`` against LABELS."""
    hits = detected = labelled = 0
    for index, truth in LABELS.items():
        boxes = found[index][found[index][:, 4] >= min_score]
        truth_boxes = np.asarray(truth, dtype=np.float32)
        pairs = greedy_match(iou_matrix(truth_boxes, boxes), MATCH_IOU)
        hits += len(pairs)
        detected += len(boxes)
        labelled += len(truth_boxes)
    return hits / labelled, hits / max(detected, 1)


def test_default_detector_finds_the_pedestrians(frames: dict[int, np.ndarray]) -> None:
    assert default_model_path().stat().st_size > 10_000_000  # the shipped model, not a stub
    detector = build_detector(NanoDetConfig())
    found = {index: detector.detect(frame) for index, frame in frames.items()}
    recall, precision = score(found, CONFIDENT)
    assert recall >= 0.9, recall
    assert precision >= 0.9, precision
    # Boxes sit on the person: the foot point (what the floor plan uses) is close.
    truth = np.asarray(LABELS[0], dtype=np.float32)
    pairs = greedy_match(iou_matrix(truth, found[0]), MATCH_IOU)
    for r, c in pairs:
        assert abs(found[0][c, 3] - truth[r, 3]) < 8


def test_hog_finds_most_pedestrians_without_a_model(frames: dict[int, np.ndarray]) -> None:
    detector = build_detector(HogDetectorConfig(resize_width=1152))
    boxes = detector.detect(frames[300])
    truth = np.asarray(LABELS[300], dtype=np.float32)
    # HOG windows are looser than CNN boxes: count a hit at IoU 0.3.
    hits = len(greedy_match(iou_matrix(truth, boxes), 0.3))
    assert hits >= 4, boxes


def test_blob_detector_finds_walkers_once_it_knows_the_background() -> None:
    detector = build_detector(BlobConfig(type="blob", min_area=0.001))
    capture = cv2.VideoCapture(str(extract_vtest()))
    boxes = None
    for _ in range(151):  # learn the background while people walk, then look at 150
        ok, frame = capture.read()
        assert ok
        boxes = detector.detect(frame)
    capture.release()
    assert boxes is not None
    truth = np.asarray(LABELS[150], dtype=np.float32)
    hits = len(greedy_match(iou_matrix(truth, boxes), 0.3))
    assert hits >= 3, boxes


def test_motion_gate_skips_a_still_scene_but_not_walkers(frames: dict[int, np.ndarray]) -> None:
    gate = MotionGate(MotionConfig(refresh_s=500))
    still = frames[0]
    decisions = [gate.should_detect(still, t=i / 10) for i in range(40)]
    assert sum(decisions[10:]) == 0  # after learning, a repeated frame never runs the detector
    capture = cv2.VideoCapture(str(extract_vtest()))
    moving = []
    for i in range(40):
        ok, frame = capture.read()
        assert ok
        moving.append(gate.should_detect(frame, t=10 + i / 10))
    capture.release()
    assert sum(moving) >= 35


def test_motion_gate_refreshes_still_scenes(frames: dict[int, np.ndarray]) -> None:
    gate = MotionGate(MotionConfig(refresh_s=1.0))
    decisions = [gate.should_detect(frames[0], t=i / 10) for i in range(60)]
    # One look a second on a still scene, after the learning frames.
    assert 4 <= sum(decisions[10:]) <= 6


def _constant_model(path: Path, output: np.ndarray, side: int) -> None:
    """A real ONNX file whose output is a fixed tensor (the input only feeds a zero)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["table", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "yolo-like",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))],
        initializer=[
            numpy_helper.from_array(output.astype(np.float32), "table"),
            numpy_helper.from_array(np.zeros((), dtype=np.float32), "zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))


@pytest.mark.parametrize("layout", ["v5", "v8"])
def test_yolo_outputs_decode_to_image_boxes(tmp_path: Path, layout: str) -> None:
    side = 64
    # Two candidates in input pixels (cx, cy, w, h): a person and a chair (class 1).
    rows = np.array([[32, 32, 16, 32, 0.9, 0.1], [10, 10, 8, 8, 0.1, 0.95]], dtype=np.float32)
    padding = np.zeros((98, 6), dtype=np.float32)  # real exports have thousands of rows
    rows = np.vstack([rows, padding])
    if layout == "v5":
        objectness = np.zeros((len(rows), 1), dtype=np.float32)
        objectness[:2, 0] = [0.8, 0.9]
        table = np.hstack([rows[:, :4], objectness, rows[:, 4:]])[None]
    else:
        table = rows.T[None]
    model = tmp_path / f"{layout}.onnx"
    _constant_model(model, table, side)
    detector = build_detector(YoloConfig(type="yolo", model=model, score_threshold=0.3))
    frame = np.zeros((96, 128, 3), dtype=np.uint8)  # letterboxed: scale 0.5, pad 8 rows
    boxes = detector.detect(frame)
    assert len(boxes) == 1
    expected_score = 0.9 * 0.8 if layout == "v5" else 0.9
    np.testing.assert_allclose(boxes[0, :4], [48, 16, 80, 80], atol=0.5)
    assert boxes[0, 4] == pytest.approx(expected_score, abs=1e-5)


def test_a_model_that_is_not_nanodet_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "other.onnx"
    _constant_model(model, np.zeros((1, 6, 10), dtype=np.float32), 64)
    with pytest.raises(ValueError, match="not a NanoDet model"):
        build_detector(NanoDetConfig(model=model))
