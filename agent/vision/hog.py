"""OpenCV's HOG + linear SVM people detector: no model file, for gateways without one."""

from __future__ import annotations

import cv2
import numpy as np

from agent.vision.boxes import Boxes, Frame, clip_to_image, empty_boxes, nms

WIN_STRIDE = (8, 8)
"""One HOG cell: finer strides cost 4x per halving for little recall."""
PADDING = (8, 8)
SCALE_STEP = 1.05
"""OpenCV's default pyramid step; coarser steps miss people between scales."""
MARGIN_GAIN = 2.0
"""SVM margins are unbounded; sigmoid(2 * margin) maps margin 0 to 0.5 and 1 to 0.88,
so the tracker's score thresholds mean roughly the same for HOG as for the CNNs."""
NMS_IOU = 0.5
"""HOG returns many shifted windows per person; merge them harder than CNN boxes."""


class HogDetector:
    """Pedestrian windows from OpenCV's built-in people detector, as scored boxes."""

    name = "hog"

    def __init__(
        self, resize_width: int = 960, hit_threshold: float = 0.0, score_threshold: float = 0.3
    ) -> None:
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector()))
        self.resize_width = resize_width
        self.hit_threshold = hit_threshold
        self.score_threshold = score_threshold

    def detect(self, frame: Frame) -> Boxes:
        height, width = frame.shape[:2]
        scale = self.resize_width / width
        small = cv2.resize(frame, None, fx=scale, fy=scale) if scale != 1.0 else frame
        rects, margins = self._hog.detectMultiScale(
            small,
            hitThreshold=self.hit_threshold,
            winStride=WIN_STRIDE,
            padding=PADDING,
            scale=SCALE_STEP,
        )
        if len(rects) == 0:
            return empty_boxes()
        windows = np.asarray(rects, dtype=np.float32) / scale
        margin = np.asarray(margins, dtype=np.float32).reshape(-1)
        boxes = np.empty((len(windows), 5), dtype=np.float32)
        boxes[:, 0] = windows[:, 0]
        boxes[:, 1] = windows[:, 1]
        boxes[:, 2] = windows[:, 0] + windows[:, 2]
        boxes[:, 3] = windows[:, 1] + windows[:, 3]
        boxes[:, 4] = 1.0 / (1.0 + np.exp(-MARGIN_GAIN * margin))
        boxes = boxes[boxes[:, 4] >= self.score_threshold]
        return nms(clip_to_image(boxes, width, height), NMS_IOU)
