"""Map a pydantic error back to the tracker file: the line, the dotted field, a plain message."""

from __future__ import annotations

from typing import Any

from watch.errors import ConfigProblem


def line_of(raw: Any, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest key or item along `loc` that the file has."""
    node, line = raw, None
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, dict) and part in node:
                if lc is not None:
                    line = lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                if lc is not None:
                    line = lc.item(part)[0] + 1
                node = node[part]
            # pydantic adds union branch names ("str", "Group") to loc: skip them
        except (KeyError, IndexError, TypeError):
            break
    return line


def field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {"phrase", "regex", "group"} or str(part).startswith("function-"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def problem(raw: Any, err: Any) -> ConfigProblem:
    loc = tuple(err["loc"])
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}"
    elif err["type"] == "missing":
        message = "required field is missing"
    return ConfigProblem(line_of(raw, loc), field_path(loc), message.removeprefix("Value error, "))
