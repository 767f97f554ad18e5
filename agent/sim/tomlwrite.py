"""A small TOML writer for the fixture configs the simulator writes.

Only what an agent config holds: tables, arrays of tables, strings, numbers,
booleans and (nested) arrays of those. Keys keep their insertion order, so the
same config always gives the same bytes.

Example:
    >>> print(dumps({"store": {"id": "s1", "zones": [{"id": "a", "polygon": [[0, 0], [1, 0]]}]}}))
    [store]
    id = "s1"
    <BLANKLINE>
    [[store.zones]]
    id = "a"
    polygon = [[0, 0], [1, 0]]
    <BLANKLINE>
"""

from __future__ import annotations

import json
import math
from typing import Any


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError("TOML config values must be finite")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _table(name: str, table: dict[str, Any], out: list[str], array: bool) -> None:
    scalars = [
        (k, v) for k, v in table.items() if not isinstance(v, dict) and not _is_table_array(v)
    ]
    if name:
        out.append(f"[[{name}]]" if array else f"[{name}]")
    out.extend(f"{k} = {_value(v)}" for k, v in scalars)
    if name or scalars:
        out.append("")
    for k, v in table.items():
        child = f"{name}.{k}" if name else k
        if isinstance(v, dict):
            _table(child, v, out, array=False)
        elif _is_table_array(v):
            for item in v:
                _table(child, item, out, array=True)


def dumps(data: dict[str, Any]) -> str:
    out: list[str] = []
    _table("", data, out, array=False)
    return "\n".join(out)
