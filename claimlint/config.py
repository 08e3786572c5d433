"""The project's settings: `claimlint.toml`, or `[tool.claimlint]` in pyproject.toml.

The first folder, from the current one upwards, holding either file gives the configuration
(claimlint.toml wins in a folder holding both). Paths in it are relative to its folder.
The command line overrides it; each effective setting remembers where it came from.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from claimlint.dsl.resolve import did_you_mean
from claimlint.errors import ClaimlintError, Diagnostic

DEFAULT_ORIGIN = "défaut"
COMMAND_LINE_ORIGIN = "ligne de commande"


def _string(value: Any) -> bool:
    return isinstance(value, str)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _table(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


@attrs.frozen
class Key:
    """A key of the configuration: the `check` parameter it fills and its TOML kind."""

    param: str
    kind: str  # "str", "path", "list", "table" or "secret" (a string never shown)
    bare: bool = False  # the option may be given without its value (BARE)

    @property
    def check(self) -> Callable[[Any], bool]:
        return {
            "str": _string,
            "path": _string,
            "list": _strings,
            "table": _table,
            "secret": _string,
        }[self.kind]

    @property
    def expected(self) -> str:
        return {
            "str": "une chaîne",
            "path": "un chemin (chaîne)",
            "list": "une liste de chaînes",
            "table": "une table de chaînes",
            "secret": "une chaîne",
        }[self.kind]


KEYS: dict[str, Key] = {
    "rulebook": Key("rulebook_spec", "str"),
    "providers": Key("providers", "path"),
    "format": Key("fmt", "str"),
    "fail-on": Key("fail_on", "str"),
    "engine": Key("engine", "str"),
    "memory-limit": Key("memory_limit", "str"),
    "map": Key("renames", "table"),
    "select": Key("select", "list"),
    "ignore": Key("ignore", "list"),
    "severity": Key("severities", "table"),
    "waivers": Key("waivers_file", "path"),
    "baseline": Key("baseline_file", "path"),
    "history": Key("history_path", "path", bare=True),
    "pseudonym-key": Key("pseudonym_key", "secret"),  # CLAIMLINT_PSEUDONYM_KEY overrides it
}

# An option given without its value on the command line (`check --history`): it takes the
# configured value, else the command's default.
BARE = ""


@attrs.frozen
class Config:
    """The settings read from one file, as `check` parameter values."""

    file: Path | None = None
    values: dict[str, Any] = attrs.field(factory=dict)  # TOML key -> check value

    @property
    def origin(self) -> str:
        if self.file is None:
            return DEFAULT_ORIGIN
        return _display(self.file)


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)


def find_config(start: Path | None = None) -> Path | None:
    """The first claimlint.toml, or pyproject.toml with [tool.claimlint], from start upwards."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        own = candidate / "claimlint.toml"
        if own.is_file():
            return own
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and "claimlint" in _read(pyproject).get("tool", {}):
            return pyproject
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except OSError as err:
        raise ClaimlintError(f"{path} : lecture impossible ({err.strerror or err})") from None
    except tomllib.TOMLDecodeError as err:
        raise ClaimlintError(f"{path} : TOML invalide ({err})") from None


def load_config(path: str | Path | None = None, *, disabled: bool = False) -> Config:
    """The configuration of the given file, else of the one found from the current folder."""
    if disabled:
        return Config()
    if path is None:
        found = find_config()
        if found is None:
            return Config()
        path = found
    path = Path(path)
    if not path.is_file():
        raise ClaimlintError(f"{path} : fichier de configuration introuvable")
    data = _read(path)
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("claimlint", {})
        where = "[tool.claimlint]"
    else:
        table, where = data, ""
    if not isinstance(table, dict):
        raise ClaimlintError(f"{path} : {where or 'la configuration'} doit être une table")
    prefix = f"{path} {where}".rstrip()
    values: dict[str, Any] = {}
    for key, value in table.items():
        spec = KEYS.get(key)
        if spec is None:
            raise ClaimlintError(
                Diagnostic(
                    f"{prefix} : clé « {key} » inconnue",
                    hint=did_you_mean(key, KEYS) or f"clés possibles : {', '.join(KEYS)}",
                )
            )
        if not spec.check(value):
            raise ClaimlintError(
                f"{prefix} : la clé « {key} » attend {spec.expected}, pas {value!r}"
            )
        values[key] = _convert(spec, value, path.parent)
    return Config(path, values)


def _convert(spec: Key, value: Any, folder: Path) -> Any:
    if spec.kind == "path":
        return _display(folder / value)
    if spec.kind == "list":
        return tuple(value)
    if spec.kind == "table":
        return tuple(f"{k}={v}" for k, v in value.items())
    if spec.param == "rulebook_spec" and (folder / value).exists():
        return _display(folder / value)  # a rulebook file or folder beside the config
    return value


@attrs.frozen
class Setting:
    key: str
    value: Any
    origin: str

    def render(self) -> str:
        if self.value is None or self.value == ():
            shown = "—"
        elif KEYS[self.key].kind == "secret":
            shown = "(masquée)"
        elif isinstance(self.value, tuple):
            shown = ", ".join(self.value)
        else:
            shown = str(self.value)
        return f"{self.key} = {shown}   ({self.origin})"


def effective(
    config: Config, params: dict[str, Any], from_command_line: Callable[[str], bool]
) -> tuple[dict[str, Any], list[Setting]]:
    """The parameters with the configuration filled in where the command line said nothing,
    and each configurable setting with its value and origin."""
    params = dict(params)
    settings = []
    for key, spec in KEYS.items():
        bare = spec.bare and params.get(spec.param) == BARE and key in config.values
        if from_command_line(spec.param) and not bare:
            origin = COMMAND_LINE_ORIGIN
        elif key in config.values:
            params[spec.param] = config.values[key]
            origin = config.origin
        else:
            origin = DEFAULT_ORIGIN
        settings.append(Setting(key, params.get(spec.param), origin))
    return params, settings
