"""What each kind of setting accepts: an environment variable's text parsed into its value, or a
SettingsError whose message starts with the variable's name (blackfriday.settings declares the settings)."""

from __future__ import annotations

import math
import re
from typing import Any, Final

from blackfriday.sale import Category


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message starts with the variable's name."""


_HOSTPORT: Final = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")
# host:port, or a gRPC name-resolver target: dns:///writer-headless:50051 (every address of a name), or
# ipv4:10.0.0.1:50051,10.0.0.2:50051 (a fixed list): the channel balances calls over them.
_TARGET: Final = re.compile(
    r"^(dns:(//[^/]*/)?[A-Za-z0-9_.-]+:\d{1,5}"
    r"|(ipv4|ipv6):[A-Za-z0-9_.\[\]:-]+:\d{1,5}(,[A-Za-z0-9_.\[\]:-]+:\d{1,5})*"
    r"|unix:[^\s]+"
    r"|[A-Za-z0-9_.\[\]:-]+:\d{1,5})$"
)
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _integer(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"{name}: expected an integer, got {value!r}") from None


def _number(name: str, value: str) -> float:
    try:
        result = float(value)
    except ValueError:
        raise SettingsError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(result):
        raise SettingsError(f"{name}: expected a finite number, got {value!r}")
    return result


def _hostport(name: str, value: str) -> str:
    match = _HOSTPORT.match(value)
    if match is None or not 0 < int(match["port"]) <= 65535:
        raise SettingsError(f"{name}: expected host:port, got {value!r}")
    return value


def split_hostports(name: str, value: str) -> list[str]:
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise SettingsError(f"{name}: expected a comma-separated list of host:port, got {value!r}")
    for item in items:
        match = _HOSTPORT.match(item)
        if match is None or not 0 < int(match["port"]) <= 65535:
            raise SettingsError(f"{name}: expected host:port in the list, got {item!r}")
    return items


def _valkey(name: str, value: str) -> str:
    """host:port, or sentinel://host:port[,host:port...]/<primary name> (the primary found through Sentinel)."""
    if value.startswith("sentinel://"):
        sentinels, slash, primary = value.removeprefix("sentinel://").partition("/")
        if not slash or not re.fullmatch(r"[A-Za-z0-9_.-]+", primary):
            raise SettingsError(f"{name}: expected sentinel://host:port[,host:port...]/<primary name>, got {value!r}")
        split_hostports(name, sentinels)
        return value
    try:
        return _hostport(name, value)
    except SettingsError:
        raise SettingsError(
            f"{name}: expected host:port or sentinel://host:port[,host:port...]/<primary name>, got {value!r}"
        ) from None


def _url(name: str, value: str) -> str:
    value = value.rstrip("/")
    if not re.match(r"^https?://[^/\s]+", value):
        raise SettingsError(f"{name}: expected an http:// or https:// URL, got {value!r}")
    return value


def _target(name: str, value: str) -> str:
    if not _TARGET.match(value):
        raise SettingsError(f"{name}: expected host:port, dns:///host:port or ipv4:host:port,host:port, got {value!r}")
    return value


def _category(name: str, value: str) -> Category:
    try:
        return Category.parse(int(value) if value.isdigit() else value)
    except ValueError:
        names = ", ".join(c.name for c in Category)
        raise SettingsError(f"{name}: expected 1-4 or a category name ({names}), got {value!r}") from None


def _log_level(name: str, value: str) -> str:
    if value.upper() not in LOG_LEVELS:
        raise SettingsError(f"{name}: expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return value.upper()


PARSERS: Final[dict[str, Any]] = {
    "text": lambda name, value: value,
    "integer": _integer,
    "port": _integer,
    "number": _number,
    "hostport": _hostport,
    "valkey": _valkey,
    "hostports": lambda name, value: value,  # split and checked by Env.read (split_hostports), for the default too
    "url": _url,
    "target": _target,
    "category": _category,
    "log_level": _log_level,
    "choice": lambda name, value: value,  # matched against the spec's choices (any case) by Env.read
}
