"""Behaviour models: checked before use, refused with one line, batched, replaceable."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from agent.behaviour.models import (
    AXES,
    MANIFEST,
    ModelError,
    ModelHolder,
    load_model,
    shipped_models_dir,
)
from agent.fusion.features import FEATURES, SensorSet

ALL = SensorSet(camera=True, rfid=True, wifi=True)


@pytest.fixture
def models(tmp_path: Path) -> Path:
    target = tmp_path / "models"
    shutil.copytree(shipped_models_dir(), target)
    return target


def manifest(directory: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((directory / MANIFEST).read_text())


def test_shipped_models_load_and_give_one_probability_per_axis() -> None:
    model = load_model(shipped_models_dir(), ALL)
    assert model.sensors == ("camera", "rfid", "wifi")
    rng = np.random.default_rng(0)
    batch = np.abs(rng.normal(size=(257, len(FEATURES)))).astype(np.float32)
    batch[rng.random(batch.shape) < 0.2] = np.nan  # missing values are part of the input
    probs = model.predict(batch)
    assert probs.shape == (257, len(AXES))
    assert np.all((probs >= 0) & (probs <= 1))
    assert np.allclose(model.predict(batch[:1]), probs[:1])  # batching changes nothing
    assert model.predict(batch[:0]).shape == (0, len(AXES))


def test_every_sensor_combination_picks_a_model_it_can_feed() -> None:
    assert load_model(shipped_models_dir(), SensorSet(True, False, False)).sensors == ("camera",)
    assert load_model(shipped_models_dir(), SensorSet(True, False, True)).sensors == (
        "camera",
        "wifi",
    )
    with pytest.raises(ModelError, match="no model for sensors"):
        load_model(shipped_models_dir(), SensorSet(False, False, False))


def test_checksum_mismatch_is_refused(models: Path) -> None:
    entry = next(
        m for m in manifest(models)["models"] if m["sensors"] == ["camera", "rfid", "wifi"]
    )
    onnx_file = models / entry["file"]
    onnx_file.write_bytes(onnx_file.read_bytes() + b"\0")
    with pytest.raises(ModelError) as e:
        load_model(models, ALL)
    assert str(e.value).startswith(f"{onnx_file}: sha256 ")
    assert str(e.value).endswith("... does not match the manifest")


def test_feature_schema_mismatch_is_refused(models: Path) -> None:
    m = manifest(models)
    m["feature_schema"] = 999
    (models / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(ModelError, match="feature schema 999 does not match"):
        load_model(models, ALL)
    m["feature_schema"] = manifest(shipped_models_dir())["feature_schema"]
    m["features"] = m["features"][::-1]
    (models / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(ModelError, match="feature names differ"):
        load_model(models, ALL)


def test_a_bad_update_keeps_the_running_model(
    models: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = ModelHolder.start(models, ALL)
    running = holder.model
    assert running is not None
    broken = tmp_path / "broken"
    shutil.copytree(models, broken)
    (broken / MANIFEST).write_text("{not json")
    with caplog.at_level(logging.ERROR):
        assert holder.replace(broken, ALL) is False
    assert holder.model is running
    assert [r.getMessage() for r in caplog.records] == [
        f"model update refused: {broken / MANIFEST}: not valid JSON; keeping "
        f"{running.name} {running.version}"
    ]
    assert holder.replace(models, ALL) is True


def test_a_bad_configured_model_falls_back_to_the_shipped_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        holder = ModelHolder.start(tmp_path / "nowhere", ALL)
    assert holder.model is not None
    assert len(caplog.records) == 1
    assert "using the shipped model" in caplog.records[0].getMessage()
