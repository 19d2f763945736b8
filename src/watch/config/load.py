"""Find and read a tracker file: a fast path for valid files, a careful one that finds lines.

A valid file is read with libyaml's C parser (ten times faster). Anything doubtful goes
through ruamel.yaml's round-trip loader, which remembers the line of every key, so that an
error at ``indicators[3].forecasts.orchard-2018.p`` is reported as
``indicators.yaml:57: indicators[3].forecasts.orchard-2018.p: ...``. Relative paths in the
file resolve against its folder.

Before either parser runs, the file must be under MAX_FILE_BYTES and be UTF-8 text, and its
YAML aliases must not expand past MAX_EXPANDED_NODES: a tracker is tens of kilobytes, so a
50 MB file or a "billion laughs" alias bomb is refused at once instead of eating memory.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ValidationError

from watch.config.checks import cross_check
from watch.config.model import MIN_POLL_INTERVAL, Config
from watch.config.problems import field_path, line_of, problem
from watch.errors import ConfigProblem, InvalidConfigFile

DEFAULT_CONFIG = "indicators.yaml"
MAX_FILE_BYTES = 2_000_000  # the shipped tracker is 44 kB
MAX_EXPANDED_NODES = 200_000  # YAML nodes once every alias is expanded


def default_config_path() -> Path:
    return Path(os.environ.get("WATCH_CONFIG") or DEFAULT_CONFIG)


def load_config(path: Path | str | None = None) -> Config:
    """Read, validate and cross-check a tracker file; raise InvalidConfigFile with lines."""
    path = Path(path) if path else default_config_path()
    text = _read_text(path)
    config = _load_fast(path, text)
    if config is not None:
        return config.model_copy(update={"path": path.resolve()})
    raw = _read_yaml(path, text)
    try:
        config = Config.model_validate(_plain(raw))
    except ValidationError as exc:
        raise InvalidConfigFile(path, [problem(raw, err) for err in exc.errors()]) from None
    problems = cross_check(config, raw)
    if problems:
        raise InvalidConfigFile(path, problems)
    return config.model_copy(update={"path": path.resolve()})


def config_warnings(config: Config) -> list[ConfigProblem]:
    """What the file asks that watch will not do as written (it still loads): today, a poll
    `interval` under MIN_POLL_INTERVAL, which polling raises to it. Lines come from a careful
    re-read, done only when there is something to say."""
    short = [
        (loc, interval)
        for loc, interval in [(("defaults", "interval"), config.defaults.interval)]
        + [(("feeds", i, "interval"), feed.interval) for i, feed in enumerate(config.feeds)]
        if interval is not None and interval < MIN_POLL_INTERVAL
    ]
    if not short or config.path is None:
        return []
    raw = _read_yaml(config.path, _read_text(config.path))
    minutes = int(MIN_POLL_INTERVAL.total_seconds() // 60)
    return [
        ConfigProblem(
            line_of(raw, loc),
            field_path(loc),
            f"warning: {_seconds(interval)} is under the {minutes}-minute minimum; "
            f"polled every {minutes} minutes",
        )
        for loc, interval in short
    ]


def _seconds(interval: timedelta) -> str:
    return f"{interval.total_seconds():g}s"


def _read_text(path: Path) -> str:
    """The file as text: refused when missing, too big or not UTF-8 (with the bad byte's line)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            message = (
                f"file too large: {size:,} bytes (a tracker file is at most {MAX_FILE_BYTES:,})"
            )
            raise InvalidConfigFile(path, [ConfigProblem(None, "", message)])
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidConfigFile(path, [ConfigProblem(None, "", "file not found")]) from None
    except IsADirectoryError:
        raise InvalidConfigFile(path, [ConfigProblem(None, "", "a folder, not a file")]) from None
    except OSError as exc:
        problem_ = ConfigProblem(None, "", f"cannot read: {exc.strerror or exc}")
        raise InvalidConfigFile(path, [problem_]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start : exc.start + 1].hex()
        message = f"not UTF-8 text: byte 0x{byte} at column {column} (a binary file?)"
        raise InvalidConfigFile(path, [ConfigProblem(line, "", message)]) from None


def _check_expansion(node: Any, path: Path) -> None:
    """Refuse a document whose aliases expand past MAX_EXPANDED_NODES (an alias bomb).

    Aliases share one node object, so the expanded size is counted once per distinct node.
    """
    sizes: dict[int, int] = {}

    def size(current: Any) -> int:
        known = sizes.get(id(current))
        if known is not None:
            return known
        sizes[id(current)] = 1  # a recursive alias counts once rather than looping
        total = 1
        if isinstance(current.value, list):
            for item in current.value:
                if isinstance(item, tuple):
                    total += size(item[0]) + size(item[1])
                else:
                    total += size(item)
        sizes[id(current)] = total
        return total

    if size(node) > MAX_EXPANDED_NODES:
        line = node.start_mark.line + 1
        message = (
            f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} values "
            "(an alias bomb?); refused"
        )
        raise InvalidConfigFile(path, [ConfigProblem(line, "", message)])


def _load_fast(path: Path, text: str) -> Config | None:
    """A valid file read with libyaml's C parser (ten times faster); None on any doubt.

    The slow path below (ruamel's round-trip loader, YAML 1.2, with lines) decides every file
    this one does not accept, so the two can differ only in speed and error messages.
    """
    try:
        import yaml

        class StrictLoader(yaml.CSafeLoader):
            # YAML 1.2 booleans, as the careful loader reads them: `on`, `yes`, `no` stay words.
            yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {
                first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
                for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
            }

            def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
                keys = [self.construct_object(key, deep=True) for key, _ in node.value]
                if len(keys) != len(set(keys)):
                    raise ValueError("duplicate key")  # PyYAML would keep the last silently
                return super().construct_mapping(node, deep=deep)

        StrictLoader.add_implicit_resolver(
            "tag:yaml.org,2002:bool",
            re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
            list("tTfF"),
        )

        loader = StrictLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_expansion(node, path)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
        config = Config.model_validate(data)
    except InvalidConfigFile:
        raise
    except Exception:  # any problem at all: let the careful loader find and report it
        return None
    return None if cross_check(config, {}) else config


def read_with_lines(path: Path) -> Any:
    """The file as ruamel's round-trip document, whose nodes know their lines (see
    watch.config.problems.line_of); for checks that run after loading, such as examples."""
    return _read_yaml(path, _read_text(path))


def _read_yaml(path: Path, text: str) -> Any:
    """The careful parse: ruamel's round trip (every key keeps its line).

    Timestamps stay strings here, so a bad date (`2019-13-01`) reaches the schema and is
    reported with its line and field instead of as an unplaced YAML error.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import RoundTripConstructor
    from ruamel.yaml.error import MarkedYAMLError

    class DatesAsText(RoundTripConstructor):
        pass

    DatesAsText.add_constructor("tag:yaml.org,2002:timestamp", DatesAsText.construct_yaml_str)
    yaml = YAML(typ="rt")
    yaml.Constructor = DatesAsText
    yaml.allow_duplicate_keys = False
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise InvalidConfigFile(path, [ConfigProblem(line, "", f"YAML syntax: {what}")]) from None
    except Exception as exc:  # ruamel raises a few unmarked errors (e.g. duplicate keys)
        raise InvalidConfigFile(path, [ConfigProblem(None, "", f"YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise InvalidConfigFile(path, [ConfigProblem(1, "", "expected a mapping at the top")])
    return data


def _plain(node: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists (dates and numbers kept)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if type(node).__module__.startswith("ruamel"):
        for base in (bool, int, float, str):
            if isinstance(node, base):
                return base(node)
    return node
