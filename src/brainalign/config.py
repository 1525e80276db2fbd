"""Config machinery shared by every YAML config (pydantic, ``yaml.safe_load``).

:class:`Strict` is the base of every config section; :func:`load_config` / :func:`parse_config` /
:func:`coerce_config` validate a file, a dict or an object and raise :class:`~brainalign.errors.ConfigError`
naming every bad key, the bad value and the allowed values. The schemas live with their users:
training and sweep configs in :mod:`brainalign.align.config`, study configs in
:mod:`brainalign.studies.config`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Mapping, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from brainalign import MAX_SEED
from brainalign.errors import ConfigError
from brainalign.inputs import read_text

class Strict(BaseModel):
    """Base of every config section: unknown keys are errors, numbers are finite (``.inf``/``.nan`` are
    refused), values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


#: A random seed, 0..:data:`brainalign.MAX_SEED`.
Seed = Annotated[int, Field(ge=0, le=MAX_SEED, description=f"random seed, 0..{MAX_SEED}")]


ConfigT = TypeVar("ConfigT", bound=BaseModel)


def parse_config(kind: type[ConfigT], raw: Any, source: str = "config") -> ConfigT:
    """Validate ``raw`` (a dict) as ``kind``; raise :class:`ConfigError` naming every bad key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of keys to values at the top level, got {type(raw).__name__}")
    try:
        return kind.model_validate(raw)
    except PydanticValidationError as error:
        lines = [_describe(kind, item) for item in error.errors()]
        raise ConfigError(f"{source}: invalid config:\n" + "\n".join(lines)) from None


def load_config(kind: type[ConfigT], path: str | os.PathLike[str]) -> ConfigT:
    """Read a YAML file (``yaml.safe_load``) and validate it as ``kind``."""
    file = Path(path)
    if file.is_dir():
        raise ConfigError(f"config file {file} is a folder, not a file; pass the path of a YAML config")
    if not file.is_file():
        raise ConfigError(f"config file {file} does not exist; pass the path of a YAML config")
    try:
        raw = yaml.safe_load(read_text(file, "config file", "save it as UTF-8 YAML"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{file}: not valid YAML ({error}); fix the syntax at the position shown") from None
    if raw is None:
        raise ConfigError(f"config file {file} holds no settings (empty or only comments); write the keys to use "
                          "(see configs/ for examples), a config never runs on defaults alone")
    return parse_config(kind, raw, str(file))


def coerce_config(
    kind: type[ConfigT], config: BaseModel | Mapping[str, Any] | str | os.PathLike[str], source: str
) -> ConfigT:
    """A ``kind`` config from itself, a dict (validated, errors naming ``source``), or a YAML path."""
    if isinstance(config, kind):
        return config
    if isinstance(config, Mapping):
        return parse_config(kind, dict(config), source)
    if isinstance(config, BaseModel):
        raise ConfigError(f"{source}: expected a {kind.__name__}, a mapping or a YAML path, got {type(config).__name__}")
    return load_config(kind, config)


def config_to_yaml(config: BaseModel) -> str:
    """The config as YAML text (every default filled in), readable back with :func:`load_config`."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def _describe(kind: type[BaseModel], item: Mapping[str, Any]) -> str:
    key = ".".join(str(part) for part in item["loc"]) or "(top level)"
    if item["type"] == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(kind, item["loc"][:-1]))
        return f"  - unknown key '{key}'; allowed keys here are: {allowed}"
    if item["type"] == "literal_error":
        allowed = item.get("ctx", {}).get("expected", "")
        return f"  - '{key}': got {item.get('input')!r}; allowed values are {allowed}"
    if item["type"] == "missing":
        return f"  - '{key}' is required but missing"
    return f"  - '{key}': {item['msg']} (got {item.get('input')!r})"


def _allowed_keys(kind: type[BaseModel], parents: tuple[Any, ...]) -> list[str]:
    """Field names of the section at ``parents`` (a path of keys below ``kind``)."""
    section: Any = kind
    for part in parents:
        field = section.model_fields.get(part) if _is_model(section) else None
        nested = [arg for arg in (field.annotation, *get_args(field.annotation)) if _is_model(arg)] if field else []
        if not nested:
            return []
        section = nested[0]
    return list(section.model_fields)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
