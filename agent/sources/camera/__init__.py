"""The camera source: video files, RTSP streams, USB cameras, or a detection layer."""

from agent.sources.camera.config import CameraSourceConfig
from agent.sources.camera.source import CameraSource

__all__ = ["CameraSource", "CameraSourceConfig"]
