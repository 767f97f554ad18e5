"""Moving blobs as person boxes, for overhead cameras.

Seen from the ceiling a person is a head and shoulders, which COCO detectors
rarely recognise; against a fixed floor, background subtraction finds them well.
Each blob between ``min_area`` and ``max_area`` of the image is one person, with
a score that grows with how solidly the blob fills its box.
"""

from __future__ import annotations

import cv2
import numpy as np

from agent.vision.boxes import Boxes, Frame, empty_boxes

VAR_THRESHOLD = 25.0
"""As the motion gate: above OpenCV's 16 so compression shimmer is not a person."""
OPEN_KERNEL = np.ones((3, 3), dtype=np.uint8)
"""Removes specks of noise a few pixels wide."""
CLOSE_KERNEL = np.ones((7, 7), dtype=np.uint8)
"""Joins a person's body parts (arms, legs split by the background) into one blob."""
MIN_SCORE = 0.3
"""A blob that fills little of its box is usually two people or noise; score floor."""


class BlobDetector:
    """Foreground blobs of person size; keeps a background model across frames."""

    name = "blob"

    def __init__(self, min_area: float = 0.002, max_area: float = 0.2, history: int = 500) -> None:
        self.min_area = min_area
        self.max_area = max_area
        self._subtractor = cv2.createBackgroundSubtractorMOG2(
            history=history, varThreshold=VAR_THRESHOLD, detectShadows=True
        )

    def detect(self, frame: Frame) -> Boxes:
        height, width = frame.shape[:2]
        mask = self._subtractor.apply(frame)
        # MOG2 marks shadows 127 and foreground 255: a shadow is not a person.
        _, mask = cv2.threshold(mask, 200, 255, cv2.THRESH_BINARY)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, OPEN_KERNEL)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, CLOSE_KERNEL)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        image_area = float(width * height)
        found = []
        for contour in contours:
            area = cv2.contourArea(contour)
            if not self.min_area <= area / image_area <= self.max_area:
                continue
            x, y, w, h = cv2.boundingRect(contour)
            fill = area / float(w * h)
            found.append((x, y, x + w, y + h, max(MIN_SCORE, min(1.0, fill))))
        if not found:
            return empty_boxes()
        return np.asarray(found, dtype=np.float32)
