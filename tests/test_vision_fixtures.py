"""Real test data for the camera path, fetched from packages at test time, never committed.

- ``vtest.avi`` (768x576, 795 frames of pedestrians) from Debian's opencv-doc package:
  ``apt-get download`` then ``dpkg-deb --fsys-tarfile | tar -x``.
- TUD-Campus and TUD-Stadtmitte ground truth (MOT15 CSV) from the motmetrics 1.4.0
  wheel on PyPI: ``pip download`` then read from the zip.

Both land in ``.cache/`` (gitignored) once and are reused.
"""

from __future__ import annotations

import fcntl
import io
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

# Not from conftest: bench/camera.py imports this module in a venv without pytest.
REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "camera"
VTEST_MEMBER = "./usr/share/doc/opencv-doc/examples/data/vtest.avi"
MOTMETRICS = "motmetrics==1.4.0"


class FixtureDataError(RuntimeError):
    """The test data could not be fetched: the test errors, it is never skipped."""


@contextmanager
def _locked(name: str) -> Iterator[None]:
    """Serialise downloads between parallel test runs sharing the cache."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=600, check=False)


def extract_vtest() -> Path:
    """Path to vtest.avi, extracted from the opencv-doc .deb on first use."""
    target = CACHE / "vtest.avi"
    with _locked("vtest"):
        if target.exists():
            return target
        work = CACHE / "opencv-doc"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        got = _run(["apt-get", "download", "opencv-doc"], work)
        if got.returncode != 0:  # the package lists may never have been fetched here
            _run(["apt-get", "update", "-qq"], work)
            got = _run(["apt-get", "download", "opencv-doc"], work)
        debs = sorted(work.glob("opencv-doc_*.deb"))
        if got.returncode != 0 or not debs:
            raise FixtureDataError(
                f"apt-get download opencv-doc failed: {got.stderr.decode()[-500:]}"
            )
        tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(debs[0])], stdout=subprocess.PIPE)
        extracted = subprocess.run(
            ["tar", "-x", "-C", str(work), VTEST_MEMBER],
            stdin=tar.stdout,
            capture_output=True,
            check=False,
        )
        tar.wait()
        if extracted.returncode != 0:
            raise FixtureDataError(f"cannot extract vtest.avi: {extracted.stderr.decode()[-500:]}")
        shutil.move(str(work / VTEST_MEMBER), target)
        shutil.rmtree(work, ignore_errors=True)
        return target


def motmetrics_wheel() -> Path:
    """The motmetrics wheel (for its TUD ground truth), downloaded on first use."""
    with _locked("motmetrics"):
        found = sorted(CACHE.glob("motmetrics-1.4.0-*.whl"))
        if found:
            return found[0]
        got = _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                MOTMETRICS,
                "-d",
                str(CACHE),
            ],
            CACHE,
        )
        found = sorted(CACHE.glob("motmetrics-1.4.0-*.whl"))
        if got.returncode != 0 or not found:
            raise FixtureDataError(
                f"pip download {MOTMETRICS} failed: {got.stderr.decode()[-500:]}"
            )
        return found[0]


def tud_ground_truth(name: str) -> dict[int, np.ndarray]:
    """Frame -> (K, 5) array of id, x1, y1, x2, y2 for ``TUD-Campus`` or ``TUD-Stadtmitte``."""
    with zipfile.ZipFile(motmetrics_wheel()) as wheel:
        text = wheel.read(f"motmetrics/data/{name}/gt.txt").decode()
    rows = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2)
    frames: dict[int, np.ndarray] = {}
    for frame in np.unique(rows[:, 0]).astype(int):
        r = rows[rows[:, 0] == frame]
        frames[int(frame)] = np.stack(
            [r[:, 1], r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5]], axis=1
        )
    return frames


def noisy_detections(
    gt: dict[int, np.ndarray],
    seed: int,
    miss: float = 0.15,
    jitter: float = 0.04,
    false_per_frame: float = 0.5,
    width: int = 640,
    height: int = 480,
) -> dict[int, np.ndarray]:
    """Detector-like boxes from ground truth: misses, jitter, weak scores, false positives.

    A tenth of the boxes that are kept get a weak score (0.15-0.45), as a partly
    occluded person gets from a real detector; false positives score 0.2-0.7.
    """
    rng = np.random.default_rng(seed)
    out: dict[int, np.ndarray] = {}
    for frame in sorted(gt):
        boxes = gt[frame][:, 1:5].astype(np.float32)
        boxes = boxes[rng.random(len(boxes)) >= miss]
        w = (boxes[:, 2] - boxes[:, 0])[:, None]
        h = (boxes[:, 3] - boxes[:, 1])[:, None]
        boxes = boxes + rng.normal(0, jitter, boxes.shape).astype(np.float32) * np.hstack(
            [w, h, w, h]
        )
        scores = rng.uniform(0.6, 0.95, len(boxes))
        weak = rng.random(len(boxes)) < 0.1
        scores[weak] = rng.uniform(0.15, 0.45, int(weak.sum()))
        fakes = []
        for _ in range(rng.poisson(false_per_frame)):
            fw, fh = rng.uniform(30, 80), rng.uniform(60, 200)
            x, y = rng.uniform(0, width - fw), rng.uniform(0, height - fh)
            fakes.append([x, y, x + fw, y + fh, rng.uniform(0.2, 0.7)])
        dets = np.hstack([boxes, scores[:, None].astype(np.float32)])
        if fakes:
            dets = np.vstack([dets, np.asarray(fakes, dtype=np.float32)])
        out[frame] = dets.astype(np.float32)
    return out


def test_vtest_is_the_real_footage() -> None:
    import cv2

    capture = cv2.VideoCapture(str(extract_vtest()))
    try:
        assert capture.isOpened()
        assert int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) == 768
        assert int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == 576
        assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 795
    finally:
        capture.release()


def test_tud_ground_truth_loads() -> None:
    campus = tud_ground_truth("TUD-Campus")
    assert len(campus) == 71
    ids = {int(i) for boxes in campus.values() for i in boxes[:, 0]}
    assert len(ids) == 8


def vtest_clip(directory: Path, frames: int, name: str = "clip.avi") -> Path:
    """The first ``frames`` frames of vtest.avi re-encoded (MPEG-4 part 2) by ffmpeg."""
    target = directory / name
    got = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(extract_vtest()),
            "-frames:v",
            str(frames),
            "-an",
            "-c:v",
            "mpeg4",
            "-q:v",
            "4",
            str(target),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    if got.returncode != 0:
        raise FixtureDataError(f"ffmpeg could not cut a clip: {got.stderr.decode()[-500:]}")
    return target


VTEST_CALIBRATION = [
    {"image": [100, 180], "floor": [0, 10]},
    {"image": [700, 180], "floor": [16, 10]},
    {"image": [768, 500], "floor": [14, 0]},
    {"image": [0, 500], "floor": [2, 0]},
]
"""A plausible calibration of vtest's path: the far kerb 16 m wide, 10 m away."""
