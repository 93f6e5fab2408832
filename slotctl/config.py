"""Settings (pydantic-settings) and where each value came from.

Precedence, lowest to highest: built-in defaults, ``slotctl.toml``, ``SLOTCTL_*``
environment variables, command-line options. The layers are read with
pydantic-settings' own sources and merged here so that ``slotctl config show``
can tell the source of every value.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from slotctl.bounds import CAPACITY, EXPIRY_MINUTES, PERIOD_DAYS, SLOT_MINUTES
from slotctl.errors import InvalidValue, Unavailable
from slotctl.parsing import validate_timezone

CONFIG_FILE_NAME = "slotctl.toml"
ENV_PREFIX = "SLOTCTL_"


def data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "slotctl"


def default_database_path() -> Path:
    return data_dir() / "slotctl.db"


def default_database_url() -> str:
    return f"sqlite:///{default_database_path()}"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (containers)
        return "unknown"


def _not_a_bool(value: Any) -> Any:
    """TOML's ``true`` is not a number (pydantic would read it as 1)."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    return value


def _utf8(value: Any) -> Any:
    """Text that UTF-8 can carry: an environment variable of non-UTF-8 bytes cannot."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("not UTF-8 text") from None
    return value


Whole = Annotated[int, BeforeValidator(_not_a_bool)]
Seconds = Annotated[float, BeforeValidator(_not_a_bool)]
Text = Annotated[StrictStr, AfterValidator(_utf8)]


class Settings(BaseSettings):
    """Every setting of slotctl; ``slotctl.toml.example`` documents each one."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    database_url: Text = Field(default_factory=default_database_url)
    default_timezone: Text = "UTC"
    slot_minutes: Whole = Field(default=30, ge=SLOT_MINUTES.low, le=SLOT_MINUTES.high)
    slot_capacity: Whole = Field(default=1, ge=CAPACITY.low, le=CAPACITY.high)
    pending_expiry_minutes: Whole = Field(default=30, ge=EXPIRY_MINUTES.low, le=EXPIRY_MINUTES.high)
    generate_days: Whole = Field(default=30, ge=PERIOD_DAYS.low, le=PERIOD_DAYS.high)
    actor: Text = Field(default_factory=_os_user, min_length=1, max_length=100)
    busy_timeout: Seconds = Field(default=10.0, gt=0, le=600)

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            return validate_timezone(value)
        except InvalidValue as exc:
            raise ValueError(exc.message) from None

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The layers are merged by load_settings(), which passes them as init values.
        return (init_settings,)

    @property
    def uses_default_database(self) -> bool:
        return self.database_url == default_database_url()


@dataclass
class LoadedSettings:
    settings: Settings
    sources: dict[str, str] = field(default_factory=dict)
    config_file: Path | None = None


def find_config_file(explicit: Path | None) -> Path | None:
    """``--config`` / ``SLOTCTL_CONFIG``, else ``./slotctl.toml``, else the XDG one."""
    if explicit is None and os.environ.get("SLOTCTL_CONFIG"):
        explicit = Path(os.environ["SLOTCTL_CONFIG"])
    if explicit is not None:
        if not explicit.is_file():
            raise Unavailable(f"config file {explicit} does not exist")
        return explicit
    local = Path.cwd() / CONFIG_FILE_NAME
    if local.is_file():
        return local
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    user = Path(xdg) / "slotctl" / CONFIG_FILE_NAME
    return user if user.is_file() else None


def _read_file(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        values = TomlConfigSettingsSource(Settings, toml_file=path)()
    except tomllib.TOMLDecodeError as exc:
        raise Unavailable(f"bad config file {path}: {exc}") from None
    except UnicodeDecodeError:
        raise Unavailable(f"bad config file {path}: not UTF-8 text") from None
    except OSError as exc:
        raise Unavailable(f"cannot read config file {path}: {exc.strerror}") from None
    return dict(values)


def load_settings(config_file: Path | None = None, **options: Any) -> LoadedSettings:
    """Merge defaults, file, environment and options (``None`` options are unset)."""
    path = find_config_file(config_file)
    layers: list[tuple[str, dict[str, Any]]] = []
    if path is not None:
        layers.append((f"file {path}", _read_file(path)))
    env_values = EnvSettingsSource(Settings)()
    layers.append(("env", dict(env_values)))
    layers.append(("option", {k: v for k, v in options.items() if v is not None}))

    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for label, values in layers:
        for key, value in values.items():
            merged[key] = value
            if label == "env":
                sources[key] = f"env {ENV_PREFIX}{key.upper()}"
            elif label == "option":
                sources[key] = f"option --{key.replace('_', '-')}"
            else:
                sources[key] = label
    try:
        settings = Settings(**merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else "?"
        where = sources.get(key, "config")
        message = f"invalid setting {key} ({where}): {first['msg']}"
        if where.startswith("option"):
            raise InvalidValue(message) from None
        raise Unavailable(message) from None
    for name in Settings.model_fields:
        sources.setdefault(name, "default")
    return LoadedSettings(settings=settings, sources=sources, config_file=path)


def mask_url(url: str) -> str:
    """Hide the password of a database URL."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return url
    secret_keys = [key for key in parsed.query if key.lower() in ("password", "passwd")]
    if secret_keys:
        parsed = parsed.update_query_dict(dict.fromkeys(secret_keys, "***"))
    return parsed.render_as_string(hide_password=True)
