"""Frames from video files, RTSP streams and USB cameras, paced to the detection rate.

Files are read in order, every n-th frame (n = video fps / detection rate), with
event times from the frame index; in live mode they are paced to real time like a
camera. Streams are read by a grabber thread that keeps only the newest frame:
the detector takes whatever is newest when it is ready, so a slow detector drops
stale frames instead of queueing them and falling behind. A lost stream is
reopened with exponential backoff while the rest of the agent goes on.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from agent.vision.boxes import Frame

log = logging.getLogger(__name__)

CaptureFactory = Callable[[str | int, dict[str, str], float], Any]
"""(file path, URL or device index; FFmpeg options; timeout s) -> a cv2.VideoCapture-like."""

FALLBACK_FPS = 25.0
"""Some containers (raw streams, MJPEG over HTTP) report 0 fps; PAL's 25 is the usual."""

_FFMPEG_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
_ffmpeg_env_lock = threading.Lock()
"""OpenCV reads FFmpeg options from one process-wide environment variable at open
time; cameras opening at once must not see each other's options."""

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", re.IGNORECASE)


def expand_env(url: str) -> str:
    """Replace ${NAME} with the environment variable (camera credentials stay out of files)."""
    return _ENV_REF.sub(lambda m: os.environ.get(m.group(1), ""), url)


def redact(url: str) -> str:
    """The URL without user and password, for log lines and health."""
    return _USERINFO.sub(r"\1***@", url)


def is_stream(url: str) -> bool:
    return "://" in url or url.isdigit() or url.startswith("/dev/video")


def open_capture(target: str | int, options: dict[str, str], timeout_s: float) -> Any:
    """Open a cv2.VideoCapture with FFmpeg options and open/read timeouts."""
    timeout_ms = int(timeout_s * 1000)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        timeout_ms,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        timeout_ms,
    ]
    if isinstance(target, int):
        return cv2.VideoCapture(target, cv2.CAP_ANY)
    with _ffmpeg_env_lock:
        previous = os.environ.get(_FFMPEG_ENV)
        if options:
            os.environ[_FFMPEG_ENV] = "|".join(f"{k};{v}" for k, v in options.items())
        try:
            return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
        finally:
            if previous is None:
                os.environ.pop(_FFMPEG_ENV, None)
            else:
                os.environ[_FFMPEG_ENV] = previous


def stream_target(url: str) -> str | int:
    """A USB index ('0') or /dev/videoN becomes an int for OpenCV; URLs stay strings."""
    if url.isdigit():
        return int(url)
    match = re.fullmatch(r"/dev/video(\d+)", url)
    return int(match.group(1)) if match else expand_env(url)


class FileFrames:
    """Every n-th frame of a video file, with event times from the frame index."""

    def __init__(
        self,
        path: Path,
        fps: float,
        start_t: float,
        paced: bool,
        capture_factory: CaptureFactory = open_capture,
    ) -> None:
        self.path = path
        self.fps = fps
        self.start_t = start_t
        self.paced = paced
        self._factory = capture_factory
        self.video_fps = 0.0
        self.frame_count = 0
        self.position = 0
        self.size = 0
        self.state = "starting"

    def frames(self, stop: threading.Event) -> Iterator[tuple[float, Frame]]:
        capture = self._factory(str(self.path), {}, 10.0)
        try:
            if not capture.isOpened():
                self.state = "failed"
                log.error("%s: cannot open as video (missing, corrupt or unknown codec)", self.path)
                return
            self.size = self.path.stat().st_size
            self.video_fps = float(capture.get(cv2.CAP_PROP_FPS)) or FALLBACK_FPS
            self.frame_count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            step = max(1, round(self.video_fps / self.fps))
            wall_start = time.monotonic()
            self.state = "reading"
            index = 0
            while not stop.is_set():
                if index % step:
                    if not capture.grab():
                        break
                    index += 1
                    continue
                ok, frame = capture.read()
                if not ok:
                    break
                offset = index / self.video_fps
                index += 1
                self.position = index
                if self.paced:
                    delay = wall_start + offset - time.monotonic()
                    if delay > 0 and stop.wait(delay):
                        break
                yield self.start_t + offset, frame
            if self.frame_count and index < self.frame_count and not stop.is_set():
                log.warning(
                    "%s: video ends early at frame %d of %d (truncated or corrupt)",
                    self.path,
                    index,
                    self.frame_count,
                )
            self.state = "ended"
        finally:
            capture.release()


@dataclass
class StreamHealth:
    state: str = "starting"
    grabbed: int = 0
    taken: int = 0
    reconnects: int = 0
    outages: int = 0

    @property
    def dropped(self) -> int:
        return max(0, self.grabbed - self.taken)


class StreamFrames:
    """Newest frames of a live stream at the detection rate, reconnecting when lost.

    ``frames`` yields ``(t, frame)``, and ``(t, None)`` once after each outage so
    the caller can end tracks that cannot be followed across the gap.
    """

    def __init__(
        self,
        url: str,
        fps: float,
        options: dict[str, str],
        reconnect_min_s: float,
        reconnect_max_s: float,
        timeout_s: float,
        capture_factory: CaptureFactory = open_capture,
    ) -> None:
        self.label = redact(url)
        self._target = stream_target(url)
        self.interval = 1.0 / fps
        self.options = options
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.timeout_s = timeout_s
        self._factory = capture_factory
        self.health = StreamHealth()
        self._cond = threading.Condition()
        self._latest: tuple[float, Frame] | None = None
        self._outage = False
        self._halt = threading.Event()

    def frames(self, stop: threading.Event) -> Iterator[tuple[float, Frame | None]]:
        self._halt.clear()
        grabber = threading.Thread(
            target=self._grab, args=(stop,), daemon=True, name=f"camera-grab {self.label}"
        )
        grabber.start()
        try:
            next_due = time.monotonic()
            while not stop.is_set():
                with self._cond:
                    while self._latest is None and not self._outage and not stop.is_set():
                        self._cond.wait(timeout=0.2)
                    latest, self._latest = self._latest, None
                    outage, self._outage = self._outage, False
                if outage:
                    yield time.time(), None
                if latest is None:
                    continue
                self.health.taken += 1
                yield latest
                next_due = max(next_due + self.interval, time.monotonic())
                if stop.wait(max(0.0, next_due - time.monotonic())):
                    break
        finally:
            # The caller owns ``stop``; the grabber also ends when this generator does.
            self._halt.set()
            grabber.join(timeout=self.timeout_s + 1)

    def halt(self) -> None:
        """Stop grabbing (the source is being closed); the device is released."""
        self._halt.set()

    def _halted(self, stop: threading.Event) -> bool:
        return stop.is_set() or self._halt.is_set()

    def _grab(self, stop: threading.Event) -> None:
        backoff = self.reconnect_min_s
        first = True
        while not self._halted(stop):
            capture = self._factory(self._target, self.options, self.timeout_s)
            if not capture.isOpened():
                capture.release()
                self.health.state = "reconnecting"
                if first:
                    log.warning("camera %s: cannot open stream; retrying", self.label)
                    first = False
                if self._halt.wait(backoff) or stop.is_set():
                    break
                backoff = min(backoff * 2, self.reconnect_max_s)
                continue
            if self.health.state == "reconnecting":
                self.health.reconnects += 1
                log.warning("camera %s: stream is back", self.label)
            self.health.state = "streaming"
            backoff = self.reconnect_min_s
            first = True
            try:
                while not self._halted(stop):
                    ok, frame = capture.read()
                    if not ok:
                        break
                    self.health.grabbed += 1
                    with self._cond:
                        self._latest = (time.time(), frame)
                        self._cond.notify()
            finally:
                capture.release()
            if self._halted(stop):
                break
            self.health.state = "reconnecting"
            self.health.outages += 1
            log.warning("camera %s: stream lost; reconnecting", self.label)
            with self._cond:
                self._outage = True
                self._latest = None
                self._cond.notify()
            first = False  # the loss was logged; stay quiet while retrying
        self.health.state = "stopped"
