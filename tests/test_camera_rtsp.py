"""A real RTSP stream is cut and comes back: the camera reconnects on its own.

ffmpeg pushes a clip over RTSP (ANNOUNCE/RECORD, RTP over UDP) to the camera
source, which listens as an encoder-facing RTSP server (``rtsp_flags = listen``,
the FFmpeg demuxer's own server mode). Killing ffmpeg is a real stream loss: the
source sees its read fail, reports ``reconnecting`` in health, ends the tracks it
can no longer follow, retries with backoff, and streams again when ffmpeg is back.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.observations import TrackEnd, TrackPoint
from agent.sources.base import SourceContext
from agent.sources.camera import CameraSource, CameraSourceConfig
from tests.conftest import free_port
from tests.test_vision_fixtures import VTEST_CALIBRATION, vtest_clip


class Pusher:
    """ffmpeg pushing a looped clip to an RTSP listener, retried until it connects."""

    def __init__(self, clip: Path, url: str) -> None:
        self.clip = clip
        self.url = url
        self.process: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._keep_pushing, daemon=True)
        self._thread.start()

    def _keep_pushing(self) -> None:
        while not self._stop.is_set():
            self.process = subprocess.Popen(
                [
                    "ffmpeg",
                    "-hide_banner",
                    "-loglevel",
                    "error",
                    "-re",
                    "-stream_loop",
                    "-1",
                    "-i",
                    str(self.clip),
                    "-c",
                    "copy",
                    "-f",
                    "rtsp",
                    self.url,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self.process.wait()  # returns when refused (listener not up yet) or killed
            if not self._stop.wait(0.2):
                continue

    def kill(self) -> None:
        self._stop.set()
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
        if self._thread is not None:
            self._thread.join(timeout=10)


@pytest.fixture
def pusher_factory() -> Iterator[Callable[[Path, str], Pusher]]:
    made: list[Pusher] = []

    def make(clip: Path, url: str) -> Pusher:
        pusher = Pusher(clip, url)
        made.append(pusher)
        return pusher

    yield make
    for pusher in made:
        pusher.kill()


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


def test_rtsp_stream_cut_and_restored(
    tmp_path: Path, pusher_factory: Callable[[Path, str], Pusher]
) -> None:
    clip = vtest_clip(tmp_path, 60)
    url = f"rtsp://127.0.0.1:{free_port()}/cam"
    config = CameraSourceConfig.model_validate(
        {
            "id": "door-cam",
            "url": url,
            "fps": 5,
            "calibration": VTEST_CALIBRATION,
            "ffmpeg_options": {"rtsp_flags": "listen", "listen_timeout": "2"},
            "timeout_s": 2,
            "reconnect_min_s": 0.2,
            "reconnect_max_s": 1,
            "tracker": {"confirm_frames": 2},
            "motion": {"enabled": False},
        }
    )
    source = CameraSource(config, SourceContext(replay=False))
    stop = threading.Event()
    seen: list[Any] = []
    reader = threading.Thread(target=lambda: seen.extend(source.observations(stop)), daemon=True)
    reader.start()
    try:
        first = pusher_factory(clip, url)
        first.start()
        wait_for(
            lambda: source.health()["state"] == "streaming" and source.health()["frames"] >= 10,
            30,
            "the stream to start",
        )
        wait_for(lambda: any(isinstance(o, TrackPoint) for o in list(seen)), 30, "tracks")
        first.kill()
        cut_at = time.time()
        wait_for(lambda: source.health()["state"] == "reconnecting", 15, "the loss to show")
        assert source.health()["outages"] == 1
        frames_during_outage = source.health()["frames"]
        time.sleep(1.5)  # a few failed reopen attempts with backoff
        assert source.health()["state"] == "reconnecting"
        second = pusher_factory(clip, url)
        second.start()
        wait_for(
            lambda: (
                source.health()["reconnects"] >= 1
                and source.health()["frames"] >= frames_during_outage + 10
            ),
            30,
            "the stream to come back",
        )
        assert source.health()["state"] == "streaming"
        wait_for(
            lambda: any(isinstance(o, TrackPoint) and o.t > cut_at for o in list(seen)),
            30,
            "tracks after the reconnect",
        )
    finally:
        stop.set()
        reader.join(timeout=15)
    assert not reader.is_alive()
    observed = list(seen)
    before = {o.track for o in observed if isinstance(o, TrackPoint) and o.t < cut_at}
    ended = {o.track for o in observed if isinstance(o, TrackEnd) and o.t >= cut_at}
    # Every track open at the cut was ended at the outage, not carried across it.
    assert before and before <= ended
    assert all(isinstance(o, (TrackPoint, TrackEnd)) for o in observed)
