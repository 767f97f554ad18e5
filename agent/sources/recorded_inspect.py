"""Summaries of recorded observation files for ``edge-agent inspect``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from agent.observations import DeviceSighting, ItemEvent, TrackEnd, TrackPoint
from agent.sources.recorded import RecordError, read_records

MAX_PROBLEMS_LISTED = 50
"""A badly broken file would otherwise print one problem per line it has."""


def looks_recorded(path: Path) -> bool:
    """A .jsonl file whose first non-blank line is a JSON object with a 'type'."""
    if path.suffix not in (".jsonl", ".ndjson"):
        return False
    with path.open("rb") as f:
        for raw in f:
            if raw.strip():
                try:
                    first = json.loads(raw)
                except ValueError:
                    return True  # ours by name; the summary will list the problem
                return isinstance(first, dict) and first.get("type") in (
                    "track",
                    "track_end",
                    "device",
                    "item",
                )
    return True


def summarise(path: Path) -> dict[str, Any]:
    kinds: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    problems: list[dict[str, Any]] = []
    problem_count = 0
    first: float | None = None
    last: float | None = None
    out_of_order = 0
    tracks: set[tuple[str, int]] = set()
    tokens: set[str] = set()
    actions: Counter[str] = Counter()
    for number, _, item in read_records(path, "recorded"):
        if isinstance(item, RecordError):
            problem_count += 1
            if len(problems) < MAX_PROBLEMS_LISTED:
                problems.append({"line": number, "reason": str(item)})
            continue
        sources[item.source] += 1
        if last is not None and item.t < last:
            out_of_order += 1
        first = item.t if first is None else min(first, item.t)
        last = item.t if last is None else max(last, item.t)
        if isinstance(item, TrackPoint):
            kinds["track"] += 1
            tracks.add((item.source, item.track))
        elif isinstance(item, TrackEnd):
            kinds["track_end"] += 1
        elif isinstance(item, DeviceSighting):
            kinds["device"] += 1
            tokens.add(item.token)
        elif isinstance(item, ItemEvent):
            kinds["item"] += 1
            actions[item.action] += 1
    return {
        "observations": sum(kinds.values()),
        "by_type": dict(sorted(kinds.items())),
        "by_source": dict(sorted(sources.items())),
        "time_span": None
        if first is None or last is None
        else {"first": first, "last": last, "seconds": round(last - first, 3)},
        "out_of_order": out_of_order,
        "distinct_tracks": len(tracks),
        "distinct_device_tokens": len(tokens),
        "item_actions": dict(sorted(actions.items())),
        "problems": problem_count,
        "problem_lines": problems,
    }
