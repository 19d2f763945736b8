"""Find and read a tracker file: a fast path for valid files, a careful one that finds lines.

A valid file is read with libyaml's C parser (ten times faster). Anything doubtful goes
through ruamel.yaml's round-trip loader, which remembers the line of every key, so that an
error at ``indicators[3].forecasts.orchard-2018.p`` is reported as
``indicators.yaml:57: indicators[3].forecasts.orchard-2018.p: ...``. Relative paths in the
file resolve against its folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ValidationError

from watch.config.checks import cross_check
from watch.config.model import Config
from watch.config.problems import problem
from watch.errors import ConfigProblem, InvalidConfigFile

DEFAULT_CONFIG = "indicators.yaml"


def default_config_path() -> Path:
    return Path(os.environ.get("WATCH_CONFIG") or DEFAULT_CONFIG)


def load_config(path: Path | str | None = None) -> Config:
    """Read, validate and cross-check a tracker file; raise InvalidConfigFile with lines."""
    path = Path(path) if path else default_config_path()
    config = _load_fast(path)
    if config is not None:
        return config.model_copy(update={"path": path.resolve()})
    raw = _read_yaml(path)
    try:
        config = Config.model_validate(_plain(raw))
    except ValidationError as exc:
        raise InvalidConfigFile(path, [problem(raw, err) for err in exc.errors()]) from None
    problems = cross_check(config, raw)
    if problems:
        raise InvalidConfigFile(path, problems)
    return config.model_copy(update={"path": path.resolve()})


def _load_fast(path: Path) -> Config | None:
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

        data = yaml.load(path.read_text(encoding="utf-8"), Loader=StrictLoader)
        config = Config.model_validate(data)
    except Exception:  # any problem at all: let the careful loader find and report it
        return None
    return None if cross_check(config, {}) else config


def read_with_lines(path: Path) -> Any:
    """The file as ruamel's round-trip document, whose nodes know their lines (see
    watch.config.problems.line_of); for checks that run after loading, such as examples."""
    return _read_yaml(path)


def _read_yaml(path: Path) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidConfigFile(path, [ConfigProblem(None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidConfigFile(path, [ConfigProblem(None, "", f"cannot read: {exc}")]) from None
    yaml = YAML(typ="rt")
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
