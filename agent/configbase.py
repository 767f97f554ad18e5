"""The base every config model derives from, and helpers for config fields.

Kept apart from ``agent.config`` so that each source module can own its config
model without importing the whole config (which imports the sources).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo


class Model(BaseModel):
    """A strict, immutable config section: unknown fields are errors, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve(value: Path, info: ValidationInfo) -> Path:
    """Resolve a relative path against the directory of the config file."""
    context: dict[str, Any] = info.context or {}
    base = context.get("base_dir")
    if value.is_absolute() or base is None:
        return value
    return Path(base) / value


ConfigPath = Annotated[Path, AfterValidator(_resolve)]
"""A path; relative ones are taken from the config file's directory."""


def _must_exist(value: Path) -> Path:
    if not value.exists():
        raise ValueError(f"no such file: {value}")
    return value


ExistingPath = Annotated[ConfigPath, AfterValidator(_must_exist)]
"""A path that must exist when the config is checked."""

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""Ids appear in MQTT topics and event keys: no slashes, wildcards or spaces."""


def first_repeat(values: Iterable[Hashable]) -> Hashable | None:
    """The first value seen twice, or None: for "listed twice" config errors."""
    seen: set[Hashable] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None
