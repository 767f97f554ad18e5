"""A YOLO-family ONNX model supplied by the store (Ultralytics v5, v8, v11 exports).

Input: RGB, 0..1, letterboxed into a square (the exports are trained that way).
Outputs, one tensor:
- v5: (1, N, 5 + classes): cx, cy, w, h, objectness, class scores; score = obj * cls.
- v8 / v11: (1, 4 + classes, N): cx, cy, w, h, class scores (no objectness).
Coordinates are input pixels. ``auto`` tells the two apart: v8 puts the long
axis (the N candidate boxes) last.
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

from agent.vision.boxes import Boxes, Frame, clip_to_image, empty_boxes, nms

LETTERBOX_GREY = 114
"""The padding value the Ultralytics exports were trained with."""


class YoloDetector:
    """Decodes persons from a YOLO ONNX session.

    Raises:
        ValueError: the model has no single 3-D output, or it cannot hold the
            configured person class.
    """

    name = "yolo"

    def __init__(
        self,
        session: Any,
        layout: Literal["auto", "v5", "v8"] = "auto",
        input_size: int = 640,
        person_class: int = 0,
        score_threshold: float = 0.3,
        nms_iou: float = 0.6,
    ) -> None:
        self._session = session
        model_input = session.get_inputs()[0]
        self._input_name = model_input.name
        shape = list(model_input.shape)
        static = len(shape) == 4 and all(isinstance(d, int) for d in shape[2:])
        self.input_size = (int(shape[3]), int(shape[2])) if static else (input_size, input_size)
        outputs = session.get_outputs()
        out_shape = list(outputs[0].shape)
        if len(out_shape) != 3:
            raise ValueError(f"YOLO model output must be 3-D (1, rows, cols), got {out_shape}")
        self.layout = layout
        self.person_class = person_class
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou

    def _letterbox(self, frame: Frame) -> tuple[npt.NDArray[np.float32], float, int, int]:
        in_w, in_h = self.input_size
        height, width = frame.shape[:2]
        scale = min(in_w / width, in_h / height)
        new_w, new_h = round(width * scale), round(height * scale)
        pad_x, pad_y = (in_w - new_w) // 2, (in_h - new_h) // 2
        canvas = np.full((in_h, in_w, 3), LETTERBOX_GREY, dtype=np.uint8)
        canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = cv2.resize(frame, (new_w, new_h))
        rgb = canvas[:, :, ::-1].astype(np.float32) / 255.0
        blob: npt.NDArray[np.float32] = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])
        return blob, scale, pad_x, pad_y

    def _rows(self, output: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float32], str]:
        """Candidate rows (N, fields) and the layout they were read in."""
        table = output[0]
        layout = self.layout
        if layout == "auto":
            layout = "v8" if table.shape[0] < table.shape[1] else "v5"
        rows = table.T if layout == "v8" else table
        return np.asarray(rows, dtype=np.float32), layout

    def detect(self, frame: Frame) -> Boxes:
        height, width = frame.shape[:2]
        blob, scale, pad_x, pad_y = self._letterbox(frame)
        output = np.asarray(self._session.run(None, {self._input_name: blob})[0])
        rows, layout = self._rows(output)
        first_class = 5 if layout == "v5" else 4
        column = first_class + self.person_class
        if rows.shape[1] <= column:
            raise ValueError(
                f"YOLO output has {rows.shape[1]} fields per box; person class "
                f"{self.person_class} needs at least {column + 1} ({layout} layout)"
            )
        scores = rows[:, column] * (rows[:, 4] if layout == "v5" else 1.0)
        keep = scores >= self.score_threshold
        if not keep.any():
            return empty_boxes()
        picked, kept_scores = rows[keep], scores[keep]
        boxes = np.empty((len(picked), 5), dtype=np.float32)
        boxes[:, 0] = (picked[:, 0] - picked[:, 2] / 2 - pad_x) / scale
        boxes[:, 1] = (picked[:, 1] - picked[:, 3] / 2 - pad_y) / scale
        boxes[:, 2] = (picked[:, 0] + picked[:, 2] / 2 - pad_x) / scale
        boxes[:, 3] = (picked[:, 1] + picked[:, 3] / 2 - pad_y) / scale
        boxes[:, 4] = kept_scores
        return nms(clip_to_image(boxes, width, height), self.nms_iou)
