"""Nothing from the camera path writes pixels anywhere, or leaks a credential, by default."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path

import pytest

from agent.observations import TrackEnd, TrackPoint
from agent.sources.base import SourceContext
from agent.sources.camera import CameraSource, CameraSourceConfig
from agent.sources.camera.capture import StreamFrames
from agent.sources.camera.inspect import sidecar_config, summarise_video
from tests.conftest import REPO
from tests.test_vision_fixtures import VTEST_CALIBRATION, vtest_clip

IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"RIFF", b"BM", b"\x00\x00\x00\x18ftyp", b"GIF8")


def snapshot(*roots: Path) -> dict[Path, float]:
    """Every file under the roots (not .git or venvs) and directly in the system temp
    directory, with its modification time."""
    files: dict[Path, float] = {}
    for path in Path(tempfile.gettempdir()).iterdir():
        with contextlib.suppress(OSError):
            files[path] = path.stat().st_mtime
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in (".git", ".venv", "__pycache__")]
            for name in filenames:
                path = Path(dirpath) / name
                try:
                    files[path] = path.stat().st_mtime
                except OSError:
                    continue
    return files


def written_since(before: dict[Path, float], after: dict[Path, float]) -> list[Path]:
    return [p for p, mtime in after.items() if before.get(p) != mtime]


def test_camera_source_and_inspect_write_no_pixels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "in").mkdir()
    clip = vtest_clip(tmp_path / "in", 30)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    roots = [tmp_path, REPO]
    before = snapshot(*roots)
    config = CameraSourceConfig.model_validate(
        {
            "id": "cam-1",
            "url": str(clip),
            "fps": 10,
            "start": "2026-03-02T09:00:00Z",
            "calibration": VTEST_CALIBRATION,
            "lines": [{"id": "door", "start": [8, 0], "end": [8, 10]}],
        }
    )
    source = CameraSource(config, SourceContext(replay=True, base_dir=str(work)))
    with caplog.at_level(logging.DEBUG):
        observed = list(source.observations(threading.Event()))
        health = source.health()
        summary = summarise_video(clip, sidecar_config(clip))
    after = snapshot(*roots)
    new_files = written_since(before, after)
    images = [p for p in new_files if p.is_file() and _head(p).startswith(IMAGE_MAGIC)]
    assert images == [], images
    assert not any(p.is_relative_to(work) for p in new_files)

    # Observations carry floor metres and small in-memory ids: no arrays, no boxes.
    assert observed and {type(o) for o in observed} <= {TrackPoint, TrackEnd}
    for o in observed:
        for value in asdict(o).values():
            assert isinstance(value, (int, float, str))
    # Health and the inspect summary are plain JSON of counts: no boxes, no ids.
    for document in (health, summary):
        text = json.dumps(document)
        assert "track" not in json.dumps(list(_keys(document))).replace("confirmed_tracks", "")
        assert len(text) < 2000
    assert "annotated" not in summary
    for record in caplog.records:
        assert len(record.getMessage()) < 500


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(8)
    except OSError:
        return b""


def _keys(document: object) -> list[str]:
    if isinstance(document, dict):
        return [str(k) for k in document] + [k for v in document.values() for k in _keys(v)]
    if isinstance(document, list):
        return [k for v in document for k in _keys(v)]
    return []


def test_annotated_frame_only_when_asked(tmp_path: Path) -> None:
    clip = vtest_clip(tmp_path, 20)
    out = tmp_path / "calibrate.png"
    summary = summarise_video(clip, sidecar_config(clip), annotate=out, max_frames=12)
    assert out.read_bytes().startswith(b"\x89PNG")
    assert summary["annotated"]["file"] == str(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibrate.png", "clip.avi"]


def test_stream_credentials_never_reach_logs_or_health(
    caplog: pytest.LogCaptureFixture,
) -> None:
    os.environ["EDGE_TEST_CAM_PASSWORD"] = "hunter2-secret"
    url = "rtsp://admin:${EDGE_TEST_CAM_PASSWORD}@127.0.0.1:9/stream1"
    frames = StreamFrames(
        url, fps=5, options={}, reconnect_min_s=0.1, reconnect_max_s=0.1, timeout_s=0.5
    )
    stop = threading.Event()
    timer = threading.Timer(1.0, stop.set)
    timer.start()
    with caplog.at_level(logging.DEBUG):
        assert list(frames.frames(stop)) == []
    timer.cancel()
    text = "\n".join(r.getMessage() for r in caplog.records) + frames.label
    assert "cannot open stream" in text
    assert "rtsp://***@127.0.0.1:9/stream1" in text
    assert "hunter2" not in text and "admin" not in text
