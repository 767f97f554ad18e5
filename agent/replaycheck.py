"""Compare a replay's events with a fixture's expected events, readably.

Events are matched by id (the deterministic CloudEvents id), so a diff names the
event (type, subject, window) and the field paths that differ rather than dumping
two long JSON lines.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.publish.sink import Event

MAX_PROBLEMS = 30
"""Past this the rest is summarised: a broken change breaks every window."""


def read_expected(path: Path) -> list[Event]:
    events = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except ValueError:
            raise ValueError(f"line {number} is not JSON") from None
    return events


def _label(event: Event) -> str:
    window = event.get("data", {}).get("window", {})
    return f"{event.get('type')} {event.get('subject')} @ {window.get('start', event.get('time'))}"


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in b:
                out.append(f"{sub}: expected {json.dumps(a[key])}, missing")
            elif key not in a:
                out.append(f"{sub}: unexpected {json.dumps(b[key])}")
            else:
                _diff(a[key], b[key], sub, out)
    elif a != b or type(a) is not type(b):
        out.append(f"{path}: expected {json.dumps(a)}, got {json.dumps(b)}")


def compare(expected: list[Event], got: list[Event]) -> list[str]:
    """Human-readable differences; empty when the two lists are equal, order included."""
    problems: list[str] = []
    exp_by_id = {e.get("id"): e for e in expected}
    got_by_id = {e.get("id"): e for e in got}
    for e in expected:
        if e.get("id") not in got_by_id:
            problems.append(f"missing: {_label(e)} (id {e.get('id')})")
    for g in got:
        if g.get("id") not in exp_by_id:
            problems.append(f"unexpected: {_label(g)} (id {g.get('id')})")
    for e in expected:
        match = got_by_id.get(e.get("id"))
        if match is None:
            continue
        g = match
        fields: list[str] = []
        _diff(e, g, "", fields)
        problems.extend(f"changed: {_label(e)}: {f}" for f in fields)
    if not problems and [e.get("id") for e in expected] != [g.get("id") for g in got]:
        problems.append("same events in a different order")
    if len(problems) > MAX_PROBLEMS:
        rest = len(problems) - MAX_PROBLEMS
        problems = [*problems[:MAX_PROBLEMS], f"... and {rest} more differences"]
    return problems
