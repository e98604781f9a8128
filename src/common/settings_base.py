"""Configuration: environment variables first, then an optional TOML file, then defaults.

Every tier declares its settings as a subclass of :class:`RollcallSettings` with
an ``env_prefix`` (``ROLLCALL_IOT_``, ``ROLLCALL_EDGE_``, ...) and a
``toml_section``. Values come from, in order of precedence:

1. environment variables (``ROLLCALL_IOT_FPS=2``),
2. the TOML file named by ``ROLLCALL_CONFIG_FILE`` (section ``[iot]`` etc.),
3. the defaults in the class, which run locally without any setup.

Invalid values raise :class:`ConfigError` with one line per bad setting.
``python -m common.settings_base`` prints the markdown table of every setting that
README.md embeds, so the documentation cannot drift from the code.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

CONFIG_FILE_ENV = "ROLLCALL_CONFIG_FILE"

S = TypeVar("S", bound="RollcallSettings")


class ConfigError(RuntimeError):
    """Settings that cannot be used; the message names every bad variable."""


class _TomlSectionSource(PydanticBaseSettingsSource):
    """Reads one ``[section]`` of the TOML file named by ROLLCALL_CONFIG_FILE."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        path = os.environ.get(CONFIG_FILE_ENV)
        section = getattr(settings_cls, "toml_section", "")
        if path and section:
            try:
                with open(path, "rb") as fh:
                    doc = tomllib.load(fh)
            except FileNotFoundError:
                raise ConfigError(f"{CONFIG_FILE_ENV}={path}: file not found") from None
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{CONFIG_FILE_ENV}={path}: invalid TOML ({exc})") from None
            data = doc.get(section, {})
            if not isinstance(data, dict):
                raise ConfigError(f"{CONFIG_FILE_ENV}={path}: [{section}] must be a table, not {type(data).__name__}")
            self._data = dict(data)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class RollcallSettings(BaseSettings):
    """Base class for every tier's settings."""

    toml_section: ClassVar[str] = ""
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSectionSource(settings_cls))

    @classmethod
    def env_name(cls, field_name: str) -> str:
        """The environment variable that sets ``field_name``."""
        return f"{cls.model_config.get('env_prefix', '')}{field_name}".upper()


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build settings of type ``cls``; raise ConfigError naming each bad variable."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "?"
            lines.append(f"  {cls.env_name(name)}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError(f"invalid {cls.__name__}:\n" + "\n".join(lines)) from None


def settings_table(classes: list[type[RollcallSettings]]) -> str:
    """Markdown table of every setting of ``classes`` (for README.md)."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for cls in classes:
        for name, info in cls.model_fields.items():
            default = info.get_default(call_default_factory=True)
            shown = "" if default is None else str(default)
            if isinstance(default, (list, tuple)):
                shown = ",".join(str(x) for x in default)
            desc = (info.description or "").replace("|", "\\|")
            rows.append(f"| `{cls.env_name(name)}` | `{shown}` | {desc} |")
    return "\n".join(rows)


def all_settings_classes() -> list[type[RollcallSettings]]:
    """Every settings class of every tier, in README order."""
    from importlib import import_module

    classes: list[type[RollcallSettings]] = []
    for module_name in (
        "common.settings",
        "iot.settings",
        "edge.settings",
        "cloud.settings",
        "rekognition_local.settings",
        "demo_seed.settings",
    ):
        try:
            module = import_module(module_name)
        except ModuleNotFoundError:
            continue
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, RollcallSettings)
                and value is not RollcallSettings
                and value.__module__ == module_name
            ):
                classes.append(value)
    return classes


README_START = "<!-- settings-table:start -->"
README_END = "<!-- settings-table:end -->"


def render_readme(text: str, table: str) -> str:
    """``text`` (README.md) with the region between the settings-table markers replaced by ``table``."""
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    return text[:start] + "\n" + table + "\n" + text[end:]


def main(argv: list[str] | None = None) -> None:
    """Print the settings table, or with ``--write-readme PATH`` refresh it inside README.md."""
    import argparse

    # Import by name: under ``python -m common.settings_base`` this file is ``__main__``, a second copy
    # whose RollcallSettings is not the one the tiers subclass.
    from common import settings_base as config

    parser = argparse.ArgumentParser(prog="rollcall-settings", description=main.__doc__)
    parser.add_argument("--write-readme", metavar="PATH", help="rewrite the settings table in this README")
    args = parser.parse_args(argv)
    table = config.settings_table(config.all_settings_classes())
    if args.write_readme:
        path = Path(args.write_readme)
        path.write_text(config.render_readme(path.read_text(), table))
    else:
        sys.stdout.write(table + "\n")


if __name__ == "__main__":
    main()
