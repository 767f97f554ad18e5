"""``edge-agent inspect VIDEO [--annotate OUT.png]`` on real footage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.test_vision_fixtures import VTEST_CALIBRATION, vtest_clip


def inspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", "inspect", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_inspect_summarises_a_video_with_its_sidecar(tmp_path: Path) -> None:
    clip = vtest_clip(tmp_path, 30)
    sidecar = clip.with_name(clip.name + ".camera.toml")
    lines = ["fps = 10", "[tracker]", "confirm_frames = 2"]
    for point in VTEST_CALIBRATION:
        lines += ["[[calibration]]", f"image = {point['image']}", f"floor = {point['floor']}"]
    lines += ["[[lines]]", 'id = "path"', "start = [8, 0]", "end = [8, 10]"]
    sidecar.write_text("\n".join(lines) + "\n")
    got = inspect(str(clip))
    assert got.returncode == 0, got.stderr
    summary = json.loads(got.stdout)
    assert summary["format"] == "video"
    assert summary["frames"] == 30
    assert summary["fps"] == 10.0
    assert summary["resolution"] == [768, 576]
    assert 2 <= summary["persons_per_frame"]["median"] <= 6
    assert 3 <= summary["confirmed_tracks"] <= 7
    assert set(summary["crossings"]) == {"path"}
    assert summary["detector"] == "nanodet"
    assert summary["ms_per_frame"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [clip.name, sidecar.name]


def test_annotate_writes_one_png_when_asked(tmp_path: Path) -> None:
    clip = vtest_clip(tmp_path, 15)
    out = tmp_path / "check.png"
    got = inspect(str(clip), "--annotate", str(out))
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["annotated"]["file"] == str(out)
    assert out.read_bytes().startswith(b"\x89PNG")
    text = tmp_path / "notes.jsonl"
    text.write_text('{"type": "track", "t": 1, "track": 1, "x": 0, "y": 0}\n')
    refused = inspect(str(text), "--annotate", str(tmp_path / "no.png"))
    assert refused.returncode != 0
    assert "video files only" in refused.stderr
    assert not (tmp_path / "no.png").exists()


def test_a_bad_sidecar_is_named(tmp_path: Path) -> None:
    clip = vtest_clip(tmp_path, 5)
    clip.with_name(clip.name + ".camera.toml").write_text("fps = -3\n")
    got = inspect(str(clip))
    assert got.returncode == 0
    error = json.loads(got.stdout)["error"]
    assert "camera.toml: fps:" in error
