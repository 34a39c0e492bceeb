"""Reading settings from environment variables: every bad value stops start-up naming the variable.

Each service has one frozen settings dataclass built by its ``from_env`` with these helpers. The
variables and their defaults are listed in docs/configuration.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Final

from blackfriday.sale import Category


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message starts with the variable's name."""


_HOSTPORT: Final = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")
_LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Env:
    """A view of the environment with typed, validated getters."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def raw(self, name: str) -> str | None:
        value = self._environ.get(name)
        return None if value is None or value.strip() == "" else value.strip()

    def text(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None else value

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.raw(name)
        if value is None:
            result = default
        else:
            try:
                result = int(value)
            except ValueError:
                raise SettingsError(f"{name}: expected an integer, got {value!r}") from None
        _check_range(name, result, minimum, maximum)
        return result

    def number(self, name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
        value = self.raw(name)
        if value is None:
            result = default
        else:
            try:
                result = float(value)
            except ValueError:
                raise SettingsError(f"{name}: expected a number, got {value!r}") from None
            if not math.isfinite(result):
                raise SettingsError(f"{name}: expected a finite number, got {value!r}")
        _check_range(name, result, minimum, maximum)
        return result

    def port(self, name: str, default: int) -> int:
        return self.integer(name, default, minimum=0, maximum=65535)

    def hostport(self, name: str, default: str) -> str:
        value = self.text(name, default)
        match = _HOSTPORT.match(value)
        if match is None or not 0 < int(match["port"]) <= 65535:
            raise SettingsError(f"{name}: expected host:port, got {value!r}")
        return value

    def hostports(self, name: str, default: str) -> list[str]:
        value = self.text(name, default)
        items = [item.strip() for item in value.split(",") if item.strip()]
        if not items:
            raise SettingsError(f"{name}: expected a comma-separated list of host:port, got {value!r}")
        for item in items:
            match = _HOSTPORT.match(item)
            if match is None or not 0 < int(match["port"]) <= 65535:
                raise SettingsError(f"{name}: expected host:port in the list, got {item!r}")
        return items

    def url(self, name: str, default: str) -> str:
        value = self.text(name, default).rstrip("/")
        if not re.match(r"^https?://[^/\s]+", value):
            raise SettingsError(f"{name}: expected an http:// or https:// URL, got {value!r}")
        return value

    def category(self, name: str, default: Category) -> Category:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return Category.parse(int(value) if value.isdigit() else value)
        except ValueError:
            names = ", ".join(c.name for c in Category)
            raise SettingsError(f"{name}: expected 1-4 or a category name ({names}), got {value!r}") from None

    def log_level(self, name: str = "LOG_LEVEL", default: str = "INFO") -> str:
        value = self.text(name, default).upper()
        if value not in _LOG_LEVELS:
            raise SettingsError(f"{name}: expected one of {', '.join(_LOG_LEVELS)}, got {value!r}")
        return value


def _check_range(name: str, value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}: must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name}: must be at most {maximum}, got {value}")


def split_hostport(value: str) -> tuple[str, int]:
    """'host:port' -> (host, port); the value must have passed Env.hostport."""
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)
