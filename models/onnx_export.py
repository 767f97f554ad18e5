"""Four per-axis scikit-learn classifiers -> one ONNX graph with a 4-column output."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from agent.behaviour.models import INPUT_NAME, OUTPUT_NAME

OPSET = 17


def _convert(clf: Any, n_features: int) -> onnx.ModelProto:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    return convert_sklearn(
        clf,
        initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
        options={id(clf): {"zipmap": False}},
        target_opset={"": OPSET, "ai.onnx.ml": 3},
    )


def merge_axes(models: list[onnx.ModelProto], n_features: int) -> onnx.ModelProto:
    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = [
        helper.make_tensor("second_pole", TensorProto.INT64, [1], [1])
    ]
    columns = []
    for i, model in enumerate(models):
        prefixed = onnx.compose.add_prefix(model, prefix=f"axis{i}_")
        for node in prefixed.graph.node:
            node.input[:] = [INPUT_NAME if x == f"axis{i}_{INPUT_NAME}" else x for x in node.input]
        nodes.extend(prefixed.graph.node)
        initializers.extend(prefixed.graph.initializer)
        # Column 1 of each classifier's N x 2 probabilities: P(second pole).
        probs = f"axis{i}_probabilities"
        column = f"axis{i}_p"
        nodes.append(helper.make_node("Gather", [probs, "second_pole"], [column], axis=1))
        columns.append(column)
    nodes.append(helper.make_node("Concat", columns, [OUTPUT_NAME], axis=1))
    graph = helper.make_graph(
        nodes,
        "behaviour",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [None, len(models)])],
        initializer=initializers,
    )
    merged = helper.make_model(graph, opset_imports=list(models[0].opset_import))
    merged.ir_version = models[0].ir_version
    merged.producer_name = "edge-agent models/train.py"
    onnx.checker.check_model(merged)
    return merged


def export_combination(classifiers: list[Any], n_features: int, path: Path) -> tuple[Any, str]:
    """Write the merged graph; check it against scikit-learn; return (session, sha256)."""
    import onnxruntime as ort

    merged = merge_axes([_convert(c, n_features) for c in classifiers], n_features)
    data = merged.SerializeToString()
    path.write_bytes(data)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # NaN is how a missing sensor reads: the graph must route it as sklearn does.
    rng = np.random.default_rng(0)
    probe = rng.normal(size=(64, n_features)).astype(np.float32) * 5
    probe[rng.random(probe.shape) < 0.3] = np.nan
    ours = session.run([OUTPUT_NAME], {INPUT_NAME: probe})[0]
    theirs = np.stack([c.predict_proba(probe)[:, 1] for c in classifiers], axis=1)
    worst = float(np.max(np.abs(ours - theirs)))
    if worst > 1e-4:
        raise RuntimeError(f"{path.name}: ONNX differs from scikit-learn by {worst:.2e}")
    return session, hashlib.sha256(data).hexdigest()
