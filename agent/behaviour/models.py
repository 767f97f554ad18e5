"""Behaviour models: loaded through a manifest, checked, run in batches.

``manifest.json`` lists one ONNX file per sensor combination with its sha256, the
feature schema it was trained on and its metrics. A model whose checksum or feature
schema does not match is refused with one clear error; ``ModelHolder`` then keeps
the model it had (or the one shipped with the agent).

Each model takes ``features`` (float32, N x len(FEATURES), NaN for missing) and
returns ``probabilities`` (float32, N x 4): for each axis in ``AXES`` the
probability of its second pole (wanderer, indecisive, showroomer, bargain hunter).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agent.fusion.features import FEATURE_SCHEMA, FEATURES, SensorSet

log = logging.getLogger(__name__)

AXES = (
    ("mission", "wanderer"),
    ("decisive", "indecisive"),
    ("shopper", "showroomer"),
    ("brand_conscious", "bargain_hunter"),
)
"""Each axis as (first pole, second pole); models give P(second pole)."""
MANIFEST = "manifest.json"
INPUT_NAME = "features"
OUTPUT_NAME = "probabilities"

Session = Any  # onnxruntime.InferenceSession (untyped library)
SessionFactory = Callable[[str], Session]


class ModelError(ValueError):
    """A model or manifest that must not be used; the message says why, in one line."""


def shipped_models_dir() -> Path:
    """The models packaged with the agent."""
    return Path(str(resources.files("agent.behaviour") / "models"))


def default_session(path: str) -> Session:
    import onnxruntime as ort

    options = ort.SessionOptions()
    # Inference shares two cores with capture and parsing; one thread each way keeps
    # the gateway responsive and is plenty for tree ensembles on small batches.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: str
    sensors: tuple[str, ...]
    session: Session

    def predict(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        if len(features) == 0:
            return np.zeros((0, len(AXES)), dtype=np.float32)
        out = self.session.run([OUTPUT_NAME], {INPUT_NAME: features})[0]
        return np.asarray(out, dtype=np.float32)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_model(
    directory: Path, sensors: SensorSet, session_factory: SessionFactory = default_session
) -> LoadedModel:
    """Load the model for ``sensors`` from ``directory``, checking everything first.

    The model for the exact sensor set is taken; failing that, the one using the
    most of the store's sensors and nothing it lacks.

    Raises:
        ModelError: missing or malformed manifest, no fitting model, checksum or
            feature schema mismatch, or a file onnxruntime cannot load.
    """
    manifest_path = directory / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ModelError(f"{manifest_path}: cannot read: {e.strerror or e}") from None
    except ValueError:
        raise ModelError(f"{manifest_path}: not valid JSON") from None
    if manifest.get("feature_schema") != FEATURE_SCHEMA:
        raise ModelError(
            f"{manifest_path}: feature schema {manifest.get('feature_schema')!r} does not match "
            f"this agent's {FEATURE_SCHEMA}"
        )
    if manifest.get("features") != list(FEATURES):
        raise ModelError(f"{manifest_path}: feature names differ from this agent's")
    have = set(sensors.names)
    candidates = [m for m in manifest.get("models", []) if set(m.get("sensors", [])) <= have]
    if not candidates:
        raise ModelError(f"{manifest_path}: no model for sensors {'+'.join(sorted(have))}")
    entry = max(candidates, key=lambda m: len(m["sensors"]))
    path = directory / entry["file"]
    try:
        actual = _sha256(path)
    except OSError as e:
        raise ModelError(f"{path}: cannot read: {e.strerror or e}") from None
    if actual != entry.get("sha256"):
        raise ModelError(f"{path}: sha256 {actual[:12]}... does not match the manifest")
    try:
        session = session_factory(str(path))
    except Exception as e:  # onnxruntime raises its own exception types
        raise ModelError(f"{path}: onnxruntime cannot load it: {type(e).__name__}") from None
    return LoadedModel(entry["name"], str(entry["version"]), tuple(entry["sensors"]), session)


class ModelHolder:
    """The model in use; replaced only by a model that loads and checks out."""

    def __init__(self, model: LoadedModel | None) -> None:
        self._model = model
        self._lock = threading.Lock()

    @classmethod
    def start(
        cls,
        directory: Path | None,
        sensors: SensorSet,
        session_factory: SessionFactory = default_session,
    ) -> ModelHolder:
        """Load the configured models, falling back to the shipped ones with one error."""
        if not sensors.names:
            log.info("no camera, Wi-Fi or RFID feed configured: characteristics carry no segments")
            return cls(None)
        if directory is not None:
            try:
                return cls(load_model(directory, sensors, session_factory))
            except ModelError as e:
                log.error("behaviour model refused: %s; using the shipped model", e)
        try:
            return cls(load_model(shipped_models_dir(), sensors, session_factory))
        except ModelError as e:
            log.error("behaviour model refused: %s; publishing without segments", e)
            return cls(None)

    @property
    def model(self) -> LoadedModel | None:
        with self._lock:
            return self._model

    def replace(
        self, directory: Path, sensors: SensorSet, session_factory: SessionFactory = default_session
    ) -> bool:
        """Swap in the models in ``directory``; on any problem keep the current one."""
        try:
            new = load_model(directory, sensors, session_factory)
        except ModelError as e:
            log.error("model update refused: %s; keeping %s", e, self._describe())
            return False
        with self._lock:
            self._model = new
        log.info("behaviour model now %s %s", new.name, new.version)
        return True

    def _describe(self) -> str:
        m = self.model
        return "no model" if m is None else f"{m.name} {m.version}"
