"""Four per-axis scikit-learn classifiers -> one ONNX graph with a 4-column output.

skl2onnx writes each axis (SimpleImputer + GradientBoostingClassifier) as an Imputer
feeding a two-class TreeEnsembleClassifier with a LOGISTIC post transform. The graph
shipped here keeps the same trees but asks onnxruntime for less:

    features -> Imputer -> 4 x TreeEnsembleRegressor (one target: the raw score,
    init + sum of tree values) -> Concat -> Sigmoid -> probabilities

A binary gradient-boosting probability is sigmoid(raw score), so the outputs are the
classifier's to float rounding (checked against scikit-learn below). Why: onnxruntime
runs a two-class classifier through its multi-class path (a score vector per row, a
label per row that nobody reads), four times over the same imputed input; the
one-target regressor path on one shared Imputer is about 20% faster on the same trees
(bench/behaviour.py prints the figure).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from agent.behaviour.models import INPUT_NAME, OUTPUT_NAME

OPSET = 17
ML_OPSET = 3
"""ai.onnx.ml 3 has TreeEnsembleRegressor with every attribute used here; opset 5's
TreeEnsemble is mapped onto the same kernel by onnxruntime, so it would buy nothing
but a newer runtime requirement."""
NODE_FIELDS = (
    "nodes_falsenodeids",
    "nodes_featureids",
    "nodes_missing_value_tracks_true",
    "nodes_modes",
    "nodes_nodeids",
    "nodes_treeids",
    "nodes_truenodeids",
    "nodes_values",
)
"""Tree structure attributes, the same for the classifier and the regressor."""
CHECK_TOLERANCE = 1e-4
"""Largest difference to scikit-learn's predict_proba a shipped graph may show."""


def _convert(clf: Any, n_features: int) -> onnx.ModelProto:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    return convert_sklearn(
        clf,
        initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
        options={id(clf): {"zipmap": False}},
        target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
    )


def _attributes(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


Ensemble = tuple[onnx.NodeProto, dict[str, Any]]
"""One axis: the Imputer node it reads, and its trees as TreeEnsembleRegressor attributes
(``NODE_FIELDS``, ``base_values`` and the ``target_*`` leaf weights)."""


def _binary_classifier(node: onnx.NodeProto) -> dict[str, Any]:
    clf = _attributes(node)
    binary = (
        list(clf.get("classlabels_int64s", [])) == [0, 1]
        and set(clf["class_ids"]) == {0}
        and clf.get("post_transform") == b"LOGISTIC"
        and len(clf.get("base_values", [])) == 1
        and clf.get("aggregate_function", b"SUM") == b"SUM"
    )
    if not binary:
        raise ValueError(f"{node.name}: not a binary classifier with a logistic output")
    # Binary case: the weights are the score of the second class, P = sigmoid(score).
    trees = {k: clf[k] for k in NODE_FIELDS if k in clf}
    trees["base_values"] = clf["base_values"]
    trees["target_ids"] = [0] * len(clf["class_ids"])
    trees["target_nodeids"] = clf["class_nodeids"]
    trees["target_treeids"] = clf["class_treeids"]
    trees["target_weights"] = clf["class_weights"]
    return trees


def _score_regressor(node: onnx.NodeProto, graph_output: onnx.NodeProto | None) -> dict[str, Any]:
    reg = _attributes(node)
    score = (
        reg.get("n_targets") == 1
        and reg.get("post_transform", b"NONE") == b"NONE"
        and len(reg.get("base_values", [])) == 1
        and reg.get("aggregate_function", b"SUM") == b"SUM"
        and graph_output is not None
        and graph_output.op_type == "Sigmoid"
    )
    if not score:
        raise ValueError(f"{node.name}: not a one-target raw score read through a Sigmoid")
    leaves = ("base_values", "target_ids", "target_nodeids", "target_treeids", "target_weights")
    return {k: reg[k] for k in (*NODE_FIELDS, *leaves) if k in reg}


def axis_ensembles(model: onnx.ModelProto) -> list[Ensemble]:
    """The (Imputer, trees) of each axis, in graph order.

    Takes a skl2onnx pipeline (one axis), a merged graph of binary classifiers (how the
    models were first shipped) or a graph built by ``behaviour_graph``; each ensemble
    must read an Imputer's output.

    Raises:
        ValueError: a classifier that is not binary with a LOGISTIC transform, a
            regressor that is not a one-target score under a Sigmoid, or an ensemble
            that does not read an Imputer.
    """
    producers = {out: node for node in model.graph.node for out in node.output}
    output = producers.get(model.graph.output[0].name) if model.graph.output else None
    parts = []
    for node in model.graph.node:
        if node.op_type == "TreeEnsembleClassifier":
            trees = _binary_classifier(node)
        elif node.op_type == "TreeEnsembleRegressor":
            trees = _score_regressor(node, output)
        else:
            continue
        imputer = producers.get(node.input[0])
        if imputer is None or imputer.op_type != "Imputer":
            raise ValueError(f"{node.name}: expected to read an Imputer's output")
        parts.append((imputer, trees))
    if not parts:
        raise ValueError("no tree ensemble in the graph")
    return parts


def behaviour_graph(parts: list[Ensemble], n_features: int) -> onnx.ModelProto:
    """The shipped graph for these axes: one Imputer, one regressor per axis, Sigmoid."""
    # Compared as bytes: the replaced value is NaN, which never equals itself.
    fills = {tuple(a.SerializeToString() for a in p[0].attribute) for p in parts}
    if len(fills) != 1:
        # Training fills every axis's missing values alike; anything else is a new recipe.
        raise ValueError("the axes impute missing values differently")
    imputer = helper.make_node("Imputer", [INPUT_NAME], ["imputed"], domain="ai.onnx.ml")
    imputer.attribute.extend(parts[0][0].attribute)
    nodes = [imputer]
    scores = []
    for i, (_, trees) in enumerate(parts):
        nodes.append(
            helper.make_node(
                "TreeEnsembleRegressor",
                ["imputed"],
                [f"axis{i}_score"],
                name=f"axis{i}_trees",
                domain="ai.onnx.ml",
                n_targets=1,
                aggregate_function="SUM",
                post_transform="NONE",
                **trees,
            )
        )
        scores.append(f"axis{i}_score")
    nodes.append(helper.make_node("Concat", scores, ["scores"], axis=1))
    nodes.append(helper.make_node("Sigmoid", ["scores"], [OUTPUT_NAME]))
    graph = helper.make_graph(
        nodes,
        "behaviour",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [None, len(parts)])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
    )
    # IR 8 is what onnxruntime 1.17 (the oldest the agent accepts) reads.
    model.ir_version = 8
    model.producer_name = "edge-agent models/train.py"
    onnx.checker.check_model(model)
    return model


def rewrite(model: onnx.ModelProto, n_features: int) -> onnx.ModelProto:
    """The regressor form of a behaviour graph, whichever form it is in (same outputs)."""
    return behaviour_graph(axis_ensembles(model), n_features)


def export_combination(classifiers: list[Any], n_features: int, path: Path) -> tuple[Any, str]:
    """Write the graph; check it against scikit-learn; return (session, sha256)."""
    import onnxruntime as ort

    parts = [p for c in classifiers for p in axis_ensembles(_convert(c, n_features))]
    data = behaviour_graph(parts, n_features).SerializeToString()
    path.write_bytes(data)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # NaN is how a missing sensor reads: the graph must route it as sklearn does.
    rng = np.random.default_rng(0)
    probe = rng.normal(size=(64, n_features)).astype(np.float32) * 5
    probe[rng.random(probe.shape) < 0.3] = np.nan
    ours = session.run([OUTPUT_NAME], {INPUT_NAME: probe})[0]
    theirs = np.stack([c.predict_proba(probe)[:, 1] for c in classifiers], axis=1)
    worst = float(np.max(np.abs(ours - theirs)))
    if worst > CHECK_TOLERANCE:
        raise RuntimeError(f"{path.name}: ONNX differs from scikit-learn by {worst:.2e}")
    return session, hashlib.sha256(data).hexdigest()
