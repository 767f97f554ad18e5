"""Person boxes as numpy arrays, and the geometry every detector and the tracker share.

A box array has shape (N, 5): ``x1, y1, x2, y2, score`` in the camera's image
pixels, float32, score in [0, 1].

Example:
    >>> a = np.array([[0, 0, 10, 10, 0.9]], dtype=np.float32)
    >>> float(iou_matrix(a[:, :4], a[:, :4])[0, 0])
    1.0
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Boxes = npt.NDArray[np.float32]
"""(N, 5): x1, y1, x2, y2, score."""

Frame = npt.NDArray[np.uint8]
"""(H, W, 3) BGR image as OpenCV decodes it."""


def empty_boxes() -> Boxes:
    return np.zeros((0, 5), dtype=np.float32)


def iou_matrix(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Intersection over union of every box in ``a`` (N, 4+) with every box in ``b`` (M, 4+)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    out: npt.NDArray[np.float32] = (inter / np.maximum(union, 1e-6)).astype(np.float32)
    return out


def nms(boxes: Boxes, iou_threshold: float) -> Boxes:
    """Greedy non-maximum suppression: keep the best box of every overlapping group."""
    if len(boxes) == 0:
        return boxes
    order = np.argsort(-boxes[:, 4], kind="stable")
    ordered = boxes[order]
    overlaps = iou_matrix(ordered, ordered)
    keep = np.ones(len(ordered), dtype=bool)
    for i in range(len(ordered)):
        if keep[i]:
            suppressed = overlaps[i] > iou_threshold
            suppressed[: i + 1] = False
            keep &= ~suppressed
    kept: Boxes = ordered[keep]
    return kept


def clip_to_image(boxes: Boxes, width: int, height: int) -> Boxes:
    """Clamp boxes into the image and drop the ones with no area left."""
    out = boxes.copy()
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    keep = (out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])
    kept: Boxes = out[keep]
    return kept
