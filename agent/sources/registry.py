"""Which class serves each kind of source: one line per feed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.sources.base import Source, SourceContext
from agent.sources.camera import CameraSource
from agent.sources.recorded import RecordedSource
from agent.sources.rfid.source import RfidSource
from agent.sources.wifi.source import WifiSource

SourceFactory = Callable[[Any, SourceContext], Source]

FACTORIES: dict[str, SourceFactory] = {
    "recorded": RecordedSource,
    "rfid": RfidSource,
    "wifi": WifiSource,
    "camera": CameraSource,
}
"""Keyed by the field name in ``agent.config.SourcesConfig``."""


def build_sources(sources_config: Any, context: SourceContext) -> list[Source]:
    """Instantiate every configured source, in config order, kind by kind."""
    built: list[Source] = []
    for kind, factory in FACTORIES.items():
        for source_config in getattr(sources_config, kind):
            built.append(factory(source_config, context))
    return built
