"""The default person detector: NanoDet (COCO, 80 classes) as ONNX.

The shipped model (``agent/vision/models/nanodet.onnx``, converted by
``models/nanodet/convert.py``) takes a 416x416 BGR image, normalised per channel,
and returns per stride (8, 16, 32) two tensors over the grid cells in row-major
order: ``cls_S`` (cells, 80) class scores with the sigmoid already applied, and
``box_S`` (cells, 44) the distances from the cell centre to the four box sides
(left, top, right, bottom), each as logits over 11 bins; the distance is the
expected bin (softmax) times the stride.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from agent.vision.boxes import Boxes, Frame, clip_to_image, empty_boxes, nms

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
BINS = 11
"""reg_max + 1 of NanoDet's generalised focal loss head: distances 0..10 strides."""
PERSON = 0
"""COCO class index of 'person'."""
MEAN = np.array([103.53, 116.28, 123.675], dtype=np.float32)
STD = np.array([57.375, 57.12, 58.395], dtype=np.float32)
"""ImageNet statistics in BGR order and 0..255 scale, as NanoDet was trained."""
CELL_CENTRE = 0.5
"""Priors sit in the middle of their cell: (index + 0.5) * stride."""


class NanoDetDetector:
    """Runs the NanoDet ONNX session and decodes its person boxes.

    Args:
        session: an onnxruntime session of a model with input ``image`` and outputs
            ``cls_8 box_8 cls_16 box_16 cls_32 box_32``.
        score_threshold: lowest person score kept.
        nms_iou: overlap above which two boxes are one person.

    Raises:
        ValueError: the session does not have those inputs and outputs.
    """

    name = "nanodet"

    def __init__(self, session: Any, score_threshold: float = 0.3, nms_iou: float = 0.6) -> None:
        inputs = [i.name for i in session.get_inputs()]
        outputs = {o.name for o in session.get_outputs()}
        wanted = {f"{kind}_{s}" for s in STRIDES for kind in ("cls", "box")}
        if inputs != ["image"] or not wanted <= outputs:
            raise ValueError(
                f"not a NanoDet model as converted for edge-agent: expected input 'image' and "
                f"outputs {sorted(wanted)}, got inputs {inputs} and outputs {sorted(outputs)}"
            )
        self._session = session
        self._outputs = [f"{kind}_{s}" for s in STRIDES for kind in ("cls", "box")]
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self._bins = np.arange(BINS, dtype=np.float32)

    def preprocess(self, frame: Frame) -> npt.NDArray[np.float32]:
        """Resize (without keeping the aspect ratio, as the model was used) and normalise."""
        resized = cv2.resize(frame, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
        x = (resized.astype(np.float32) - MEAN) / STD
        out: npt.NDArray[np.float32] = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        return out

    def detect(self, frame: Frame) -> Boxes:
        height, width = frame.shape[:2]
        results = self._session.run(self._outputs, {"image": self.preprocess(frame)})
        found = [
            self._decode(results[2 * i][0], results[2 * i + 1][0], stride)
            for i, stride in enumerate(STRIDES)
        ]
        boxes = np.concatenate(found) if found else empty_boxes()
        boxes[:, [0, 2]] *= width / INPUT_SIZE
        boxes[:, [1, 3]] *= height / INPUT_SIZE
        return nms(clip_to_image(boxes, width, height), self.nms_iou)

    def _decode(
        self, cls: npt.NDArray[np.float32], box: npt.NDArray[np.float32], stride: int
    ) -> Boxes:
        scores = cls[:, PERSON]
        cells = np.nonzero(scores >= self.score_threshold)[0]
        if len(cells) == 0:
            return empty_boxes()
        logits = box[cells].reshape(-1, 4, BINS)
        logits = logits - logits.max(axis=2, keepdims=True)
        weights = np.exp(logits)
        weights /= weights.sum(axis=2, keepdims=True)
        distance = (weights @ self._bins) * stride  # (k, 4): left, top, right, bottom
        grid = INPUT_SIZE // stride
        cx = (cells % grid + CELL_CENTRE) * stride
        cy = (cells // grid + CELL_CENTRE) * stride
        out = np.empty((len(cells), 5), dtype=np.float32)
        out[:, 0] = cx - distance[:, 0]
        out[:, 1] = cy - distance[:, 1]
        out[:, 2] = cx + distance[:, 2]
        out[:, 3] = cy + distance[:, 3]
        out[:, 4] = scores[cells]
        return out
