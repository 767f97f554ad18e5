"""edge-agent: anonymous in-store behaviour sensing that publishes only aggregates."""

import os

__version__ = "0.1.0"

# onnxruntime >= 1.29 on Linux writes a device id and uploads usage telemetry unless
# one of these is set before the library loads. An edge agent that promises to send
# nothing but aggregates must not phone home, so they are set at package import.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("ORT_TELEMETRY_DISABLED", "1")
