"""Config of one camera: where frames come from, how to find, track and place persons."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, field_validator, model_validator

from agent.configbase import ID_PATTERN, ExistingPath, Model
from agent.vision.detector import DetectorConfig, NanoDetConfig
from agent.vision.floorplan import CalibrationError, CalibrationPoint, FloorPlan, LineConfig
from agent.vision.motion import MotionConfig
from agent.vision.tracker import TrackerConfig


class CameraSourceConfig(Model):
    id: str = Field(
        title="Camera id",
        description="Unique id of this camera; its observations carry it.",
        pattern=ID_PATTERN,
    )
    url: str | None = Field(
        default=None,
        title="Video",
        description="A video file (relative to the config file), an rtsp:// URL (credentials "
        "may be given as ${ENV_VAR}), or a USB camera index such as '0' or '/dev/video0'. "
        "Exactly one of url and detections.",
    )
    detections: ExistingPath | None = Field(
        default=None,
        title="Detection layer",
        description="JSON lines of precomputed person boxes per frame (from the simulator); "
        "they go through the same tracker and floor plan as a video would.",
    )
    fps: float = Field(
        default=5.0,
        gt=0,
        le=60,
        title="Detection rate",
        description="Frames per second looked at; a live stream's newer frames replace "
        "older ones in between (stale frames are dropped, never queued).",
    )
    start: datetime | None = Field(
        default=None,
        title="File start time",
        description="Event time of a video file's first frame (ISO 8601 with zone); "
        "default: now in live mode, the file's modification time in replay.",
    )
    calibration: list[CalibrationPoint] = Field(
        title="Calibration",
        description="At least four points whose image pixel and floor position are known; "
        "they define the homography from foot points to the floor plan.",
        min_length=4,
    )
    lines: list[LineConfig] = Field(
        default_factory=list,
        title="Entrance lines",
        description="Floor lines whose directional crossings are counted (shown by inspect).",
    )
    detector: DetectorConfig = Field(
        default_factory=NanoDetConfig,
        title="Detector",
        description="Which person detector runs on the frames (type = nanodet, yolo, hog, blob).",
    )
    motion: MotionConfig = Field(
        default_factory=MotionConfig,
        title="Motion gate",
        description="Skip detection when nothing moves.",
    )
    tracker: TrackerConfig = Field(
        default_factory=TrackerConfig, title="Tracker", description="Association and buffers."
    )
    ffmpeg_options: dict[str, str] = Field(
        default_factory=dict,
        title="FFmpeg options",
        description="Demuxer options for streams, e.g. {rtsp_transport = 'tcp'} for cameras "
        "behind NAT, or {rtsp_flags = 'listen', listen_timeout = '5'} for encoders that "
        "push RTSP to the agent.",
    )
    reconnect_min_s: float = Field(
        default=0.5,
        gt=0,
        le=60,
        title="First retry",
        description="Wait before the first reconnect after a stream is lost; doubles per try.",
    )
    reconnect_max_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        title="Longest retry",
        description="Upper bound of the reconnect wait.",
    )
    timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=120,
        title="Stream timeout",
        description="Opening a stream or waiting for its next frame longer than this "
        "counts as a lost stream.",
    )

    @field_validator("ffmpeg_options")
    @classmethod
    def _plain_options(cls, value: dict[str, str]) -> dict[str, str]:
        for key, option in value.items():
            if any(c in key + option for c in ";|"):
                raise ValueError(f"option '{key}': ';' and '|' cannot appear in names or values")
        return value

    @model_validator(mode="after")
    def _one_input_and_a_floor(self) -> CameraSourceConfig:
        if (self.url is None) == (self.detections is None):
            raise ValueError("give exactly one of 'url' (video) and 'detections' (box layer)")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        try:
            self.floorplan()
        except CalibrationError as e:
            raise ValueError(f"calibration: {e}") from None
        return self

    def floorplan(self) -> FloorPlan:
        return FloorPlan.from_pairs([(p.image, p.floor) for p in self.calibration])
