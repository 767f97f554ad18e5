"""The shipped behaviour graph: classifier trees run as one-target regressors + Sigmoid.

models/onnx_export.py rewrites skl2onnx's per-axis TreeEnsembleClassifier graphs into
one Imputer, one TreeEnsembleRegressor per axis, Concat and Sigmoid, because
onnxruntime evaluates that form faster. These tests hold it to the classifier's
outputs: on a graph built here from real ONNX nodes (run by onnxruntime both ways),
and, where scikit-learn is installed, on a real trained pipeline.
"""

from __future__ import annotations

import importlib.util
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from agent.behaviour.models import AXES, INPUT_NAME, MANIFEST, OUTPUT_NAME, shipped_models_dir
from agent.fusion.features import FEATURES


def _load_export() -> Any:
    """models/ is a folder of scripts, not a package: load the exporter by path, so the
    other scripts' module names (train, evaluate) stay off sys.path for every other test."""
    path = Path(__file__).resolve().parent.parent / "models" / "onnx_export.py"
    spec = importlib.util.spec_from_file_location("edge_agent_onnx_export", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


onnx_export = _load_export()
axis_ensembles = onnx_export.axis_ensembles
export_combination = onnx_export.export_combination
rewrite = onnx_export.rewrite

N_FEATURES = 3
FILL = -1.0


def stump_classifier(
    axis: int, feature: int, threshold: float, weights: tuple[float, float], base: float
) -> list[onnx.NodeProto]:
    """Imputer + a one-split, two-tree binary classifier as skl2onnx writes it."""
    imputer = helper.make_node(
        "Imputer",
        [INPUT_NAME],
        [f"axis{axis}_imputed"],
        domain="ai.onnx.ml",
        imputed_value_floats=[FILL] * N_FEATURES,
        replaced_value_float=math.nan,
    )
    # Tree 0 splits on `feature`; tree 1 is a single split on feature 0 at 10.
    clf = helper.make_node(
        "TreeEnsembleClassifier",
        [f"axis{axis}_imputed"],
        [f"axis{axis}_label", f"axis{axis}_proba"],
        domain="ai.onnx.ml",
        nodes_treeids=[0, 0, 0, 1, 1, 1],
        nodes_nodeids=[0, 1, 2, 0, 1, 2],
        nodes_featureids=[feature, 0, 0, 0, 0, 0],
        nodes_values=[threshold, 0.0, 0.0, 10.0, 0.0, 0.0],
        nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_LEQ", "LEAF", "LEAF"],
        nodes_truenodeids=[1, 0, 0, 1, 0, 0],
        nodes_falsenodeids=[2, 0, 0, 2, 0, 0],
        nodes_missing_value_tracks_true=[0] * 6,
        nodes_hitrates=[1.0] * 6,
        class_treeids=[0, 0, 1, 1],
        class_nodeids=[1, 2, 1, 2],
        class_ids=[0, 0, 0, 0],
        class_weights=[weights[0], weights[1], 0.25, -0.25],
        classlabels_int64s=[0, 1],
        base_values=[base],
        post_transform="LOGISTIC",
    )
    return [imputer, clf]


def classifier_graph() -> onnx.ModelProto:
    """Two axes in the classifier form the models were shipped in before."""
    second = helper.make_tensor("second_pole", TensorProto.INT64, [1], [1])
    nodes = stump_classifier(0, 1, 0.5, (-1.0, 2.0), 0.1)
    nodes += stump_classifier(1, 2, -0.5, (0.5, -1.5), -0.3)
    nodes += [
        helper.make_node("Gather", ["axis0_proba", "second_pole"], ["p0"], axis=1),
        helper.make_node("Gather", ["axis1_proba", "second_pole"], ["p1"], axis=1),
        helper.make_node("Concat", ["p0", "p1"], [OUTPUT_NAME], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "old",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [None, N_FEATURES])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [None, 2])],
        initializer=[second],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run([OUTPUT_NAME], {INPUT_NAME: x})[0])


def op_counts(model: onnx.ModelProto) -> Counter[str]:
    return Counter(n.op_type for n in model.graph.node)


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_rewrite_gives_the_classifier_probabilities_with_nan_routed_alike() -> None:
    old = classifier_graph()
    new = rewrite(old, N_FEATURES)
    assert op_counts(new) == Counter(
        {"Imputer": 1, "TreeEnsembleRegressor": 2, "Concat": 1, "Sigmoid": 1}
    )
    again = rewrite(new, N_FEATURES)  # the regressor form reads back as itself
    assert again.SerializeToString() == new.SerializeToString()
    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, N_FEATURES)).astype(np.float32) * 3
    x[rng.random(x.shape) < 0.3] = np.nan
    assert np.max(np.abs(run(new, x) - run(old, x))) < 1e-6
    # By hand. Axis 0: missing feature 1 reads -1 <= 0.5, left leaf -1.0. Axis 1: feature
    # 2 = 0 > -0.5, right leaf -1.5. Both: feature 0 = 20 > 10, right leaf -0.25.
    row = np.array([[20.0, np.nan, 0.0]], dtype=np.float32)
    expected = [sigmoid(0.1 - 1.0 - 0.25), sigmoid(-0.3 - 1.5 - 0.25)]
    assert np.allclose(run(new, row)[0], expected, atol=1e-6)


def test_every_shipped_model_keeps_its_probabilities_in_the_regressor_form() -> None:
    # Before the 09:45 retrain the shipped graphs are classifiers, after it regressors:
    # either way the rewrite must be exact, and what ships is evaluated as regressors.
    manifest = json.loads((shipped_models_dir() / MANIFEST).read_text())
    rng = np.random.default_rng(7)
    probe = np.abs(rng.normal(size=(400, len(FEATURES)))).astype(np.float32) * 3
    probe[rng.random(probe.shape) < 0.3] = np.nan
    for entry in manifest["models"]:
        shipped = onnx.load(str(shipped_models_dir() / entry["file"]))
        fast = rewrite(shipped, len(FEATURES))
        assert set(op_counts(fast)) == {"Imputer", "TreeEnsembleRegressor", "Concat", "Sigmoid"}
        assert op_counts(fast)["TreeEnsembleRegressor"] == len(AXES), entry["file"]
        assert np.max(np.abs(run(fast, probe) - run(shipped, probe))) < 1e-5, entry["file"]


def test_a_classifier_that_is_not_binary_logistic_is_refused() -> None:
    old = classifier_graph()
    clf = next(n for n in old.graph.node if n.op_type == "TreeEnsembleClassifier")
    for a in clf.attribute:
        if a.name == "post_transform":
            a.s = b"NONE"
    with pytest.raises(ValueError, match="not a binary classifier with a logistic output"):
        axis_ensembles(old)


def test_a_regressor_whose_score_is_transformed_twice_is_refused() -> None:
    new = rewrite(classifier_graph(), N_FEATURES)
    trees = next(n for n in new.graph.node if n.op_type == "TreeEnsembleRegressor")
    for a in trees.attribute:
        if a.name == "post_transform":
            a.s = b"LOGISTIC"
    with pytest.raises(ValueError, match="not a one-target raw score read through a Sigmoid"):
        axis_ensembles(new)


def test_axes_with_different_imputation_are_refused() -> None:
    old = classifier_graph()
    imputer = next(n for n in old.graph.node if n.op_type == "Imputer")
    for a in imputer.attribute:
        if a.name == "imputed_value_floats":
            a.floats[:] = [0.0] * N_FEATURES
    with pytest.raises(ValueError, match="impute missing values differently"):
        rewrite(old, N_FEATURES)


def test_export_of_trained_pipelines_matches_scikit_learn(tmp_path: Path) -> None:
    pytest.importorskip("skl2onnx")
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    n_features = 6
    x = np.abs(rng.normal(size=(400, n_features))).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan
    filled = np.nan_to_num(x, nan=FILL)
    targets = [filled[:, 0] > 0.7, filled[:, 1] + filled[:, 2] > 1.2, filled[:, 3] < 0.1]
    pipelines: list[Any] = []
    for axis, y in enumerate(targets):
        clf = make_pipeline(
            SimpleImputer(strategy="constant", fill_value=FILL, keep_empty_features=True),
            GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=axis),
        )
        pipelines.append(clf.fit(x, y.astype(int)))
    path = tmp_path / "behaviour-test.onnx"
    session, sha = export_combination(pipelines, n_features, path)
    written = onnx.load(str(path))
    assert op_counts(written)["TreeEnsembleRegressor"] == 3
    assert op_counts(written)["TreeEnsembleClassifier"] == 0
    assert len(sha) == 64
    probe = np.abs(rng.normal(size=(300, n_features))).astype(np.float32) * 2
    probe[rng.random(probe.shape) < 0.3] = np.nan
    ours = session.run([OUTPUT_NAME], {INPUT_NAME: probe})[0]
    theirs = np.stack([p.predict_proba(probe)[:, 1] for p in pipelines], axis=1)
    assert np.max(np.abs(ours - theirs)) < 1e-5
