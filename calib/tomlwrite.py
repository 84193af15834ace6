"""A small TOML writer for the calibration file: nested dicts of strings, booleans, numbers
and (nested) lists of them. Reading uses the standard library's tomllib."""

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
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if hasattr(v, "tolist"):  # numpy scalars and arrays
        return _value(v.tolist())
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def _table(name: str, table: dict, out: list[str]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    if name:
        out.append(f"[{name}]")
    out.extend(f"{_key(k)} = {_value(v)}" for k, v in scalars.items())
    out.append("")
    for k, v in table.items():
        if isinstance(v, dict):
            _table(f"{name}.{_key(k)}" if name else _key(k), v, out)


def dumps(data: dict) -> str:
    """TOML text of `data` (top-level values must be tables or scalars)."""
    out: list[str] = []
    _table("", data, out)
    return "\n".join(out).lstrip("\n")
