"""Person detectors behind one interface, and their config (a union on ``type``).

- ``nanodet`` (default): the NanoDet COCO detector shipped with the agent as ONNX.
- ``yolo``: a YOLO-family ONNX model the store supplies (v5 or v8/v11 outputs).
- ``hog``: OpenCV's HOG people detector; needs no model file, slow and coarse.
- ``blob``: moving blobs from background subtraction, for overhead cameras where
  a person is a blob seen from above and no COCO model recognises them.

Every detector returns :data:`agent.vision.boxes.Boxes` in image pixels and keeps
nothing of the frame after returning.

Example:
    >>> config = HogDetectorConfig()
    >>> build_detector(config).name
    'hog'
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import Field

from agent.configbase import ExistingPath, Model
from agent.vision.boxes import Boxes, Frame

SessionFactory = Callable[[Path, int], Any]
"""(model path, threads) -> an onnxruntime.InferenceSession (or anything with run())."""


class Detector(Protocol):
    """Finds persons in one frame."""

    name: str

    def detect(self, frame: Frame) -> Boxes:
        """Person boxes (N, 5) in the frame's pixels, best first not required."""
        ...


def default_model_path() -> Path:
    """The NanoDet ONNX file shipped inside the package."""
    return Path(str(resources.files("agent.vision") / "models" / "nanodet.onnx"))


def onnx_session(path: Path, threads: int) -> Any:
    """An onnxruntime CPU session limited to ``threads`` so the gateway keeps cores free."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class NanoDetConfig(Model):
    type: Literal["nanodet"] = Field(
        default="nanodet", title="Detector", description="NanoDet COCO person detector (shipped)."
    )
    model: ExistingPath | None = Field(
        default=None,
        title="Model file",
        description="Another NanoDet ONNX with the same outputs; empty uses the shipped one.",
    )
    score_threshold: float = Field(
        default=0.3,
        ge=0.01,
        le=1,
        title="Score threshold",
        description="Boxes scoring below this are dropped; the tracker uses the low ones "
        "(from here to its high threshold) only to keep existing tracks alive.",
    )
    nms_iou: float = Field(
        default=0.6,
        gt=0,
        le=1,
        title="NMS overlap",
        description="Two boxes overlapping more than this (IoU) are the same person.",
    )
    threads: int = Field(
        default=1, ge=1, le=16, title="Threads", description="CPU threads for inference."
    )


class YoloConfig(Model):
    type: Literal["yolo"] = Field(
        title="Detector", description="A YOLO-family ONNX model the store supplies."
    )
    model: ExistingPath = Field(title="Model file", description="The ONNX file.")
    layout: Literal["auto", "v5", "v8"] = Field(
        default="auto",
        title="Output layout",
        description="v5: (1, N, 5+classes) with objectness; v8 (also v11): (1, 4+classes, N). "
        "auto tells them apart by shape.",
    )
    input_size: int = Field(
        default=640,
        ge=32,
        le=2048,
        multiple_of=32,
        title="Input size",
        description="Square input side in pixels, used when the model's input is dynamic.",
    )
    person_class: int = Field(
        default=0, ge=0, title="Person class", description="Index of 'person' (COCO: 0)."
    )
    score_threshold: float = Field(
        default=0.3, ge=0.01, le=1, title="Score threshold", description="As for nanodet."
    )
    nms_iou: float = Field(
        default=0.6, gt=0, le=1, title="NMS overlap", description="As for nanodet."
    )
    threads: int = Field(
        default=1, ge=1, le=16, title="Threads", description="CPU threads for inference."
    )


class HogDetectorConfig(Model):
    type: Literal["hog"] = Field(
        default="hog", title="Detector", description="OpenCV HOG people detector (no model)."
    )
    resize_width: int = Field(
        default=960,
        ge=160,
        le=4096,
        title="Working width",
        description="Frames are scaled to this width first. HOG finds people at least 128 "
        "pixels tall at that scale; its cost grows with the area.",
    )
    hit_threshold: float = Field(
        default=0.0,
        title="Hit threshold",
        description="SVM margin a window needs; raise it to trade recall for precision.",
    )
    score_threshold: float = Field(
        default=0.3, ge=0.01, le=1, title="Score threshold", description="As for nanodet."
    )


class BlobConfig(Model):
    type: Literal["blob"] = Field(
        title="Detector", description="Moving blobs (background subtraction), overhead cameras."
    )
    min_area: float = Field(
        default=0.002,
        gt=0,
        lt=1,
        title="Smallest person",
        description="Smallest blob that is a person, as a fraction of the image area.",
    )
    max_area: float = Field(
        default=0.2,
        gt=0,
        le=1,
        title="Largest person",
        description="Largest blob that is one person, as a fraction of the image area.",
    )
    history: int = Field(
        default=500,
        ge=10,
        title="Background memory",
        description="Frames the background model remembers; a person standing still this "
        "long fades into the background.",
    )


DetectorConfig = Annotated[
    NanoDetConfig | YoloConfig | HogDetectorConfig | BlobConfig, Field(discriminator="type")
]


def build_detector(config: Any, session_factory: SessionFactory = onnx_session) -> Detector:
    """The detector a config section describes; ONNX sessions come from ``session_factory``.

    Raises:
        ValueError: the model file does not have the outputs this detector decodes.
    """
    if isinstance(config, NanoDetConfig):
        from agent.vision.nanodet import NanoDetDetector

        path = config.model or default_model_path()
        return NanoDetDetector(
            session_factory(path, config.threads),
            score_threshold=config.score_threshold,
            nms_iou=config.nms_iou,
        )
    if isinstance(config, YoloConfig):
        from agent.vision.yolo import YoloDetector

        return YoloDetector(
            session_factory(config.model, config.threads),
            layout=config.layout,
            input_size=config.input_size,
            person_class=config.person_class,
            score_threshold=config.score_threshold,
            nms_iou=config.nms_iou,
        )
    if isinstance(config, HogDetectorConfig):
        from agent.vision.hog import HogDetector

        return HogDetector(
            resize_width=config.resize_width,
            hit_threshold=config.hit_threshold,
            score_threshold=config.score_threshold,
        )
    if isinstance(config, BlobConfig):
        from agent.vision.blob import BlobDetector

        return BlobDetector(
            min_area=config.min_area, max_area=config.max_area, history=config.history
        )
    raise TypeError(f"not a detector config: {type(config).__name__}")
