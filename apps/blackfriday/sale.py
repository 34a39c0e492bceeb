"""The sale: its categories, its validation and its one JSON form.

Every hop speaks the same JSON object (api -> bridge over HTTP, writer -> Kafka -> consumer):

    {"id": "...", "accepted_at_ms": 1764400000000, "categoria": "Belleza",
     "producto_id": "Labial-Matte", "precio": 120.5, "cantidad_vendida": 2}

The public POST /purchase body is the seed's shape (no id, no timestamp); ``categoria`` may be 1-4 or the
category name in any case. Prices are kept as integer cents inside the pipeline so that every sum in Valkey
is exact; a price with more than two decimals is rounded to the cent (half up) when accepted.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

MAX_PRODUCT_ID_CHARS: Final = 64
MAX_PRICE: Final = 1_000_000
MAX_QUANTITY: Final = 10_000
MAX_SALE_ID_CHARS: Final = 64
#: The gRPC message carries the acceptance time as an int64.
MAX_ACCEPTED_AT_MS: Final = 2**63 - 1
#: Most sales in one batch on any hop (api -> bridge request, bridge -> writer gRPC call).
MAX_BATCH: Final = 1000

PUBLIC_FIELDS: Final = ("categoria", "producto_id", "precio", "cantidad_vendida")
WIRE_FIELDS: Final = ("id", "accepted_at_ms", *PUBLIC_FIELDS)


class Category(enum.IntEnum):
    """The seed's CategoriaProducto; the names are the canonical ones stored everywhere."""

    Electronica = 1
    Ropa = 2
    Hogar = 3
    Belleza = 4

    @classmethod
    def parse(cls, value: object) -> Category:
        """1-4 or a category name in any case; ValueError otherwise."""
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        elif isinstance(value, str):
            for member in cls:
                if member.name.lower() == value.lower():
                    return member
        raise ValueError(CATEGORY_MESSAGE)


CATEGORY_NAMES: Final = tuple(c.name for c in Category)
CATEGORY_MESSAGE: Final = "must be 1-4 or one of " + ", ".join(CATEGORY_NAMES) + " (any case)"
PRODUCT_MESSAGE: Final = (
    f"must be a non-empty string of at most {MAX_PRODUCT_ID_CHARS} characters without control characters"
)
PRICE_MESSAGE: Final = f"must be a finite number greater than 0 and at most {MAX_PRICE} (rounded to cents)"
QUANTITY_MESSAGE: Final = f"must be an integer from 1 to {MAX_QUANTITY}"


class InvalidSale(ValueError):
    """A sale that fails validation; ``errors`` maps each bad field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Stored:
    """Where Kafka stored a sale: the writer's ack, carried back to the api's caller."""

    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class SaleFields:
    """The four business fields of a sale, validated and canonical."""

    categoria: Category
    producto_id: str
    price_cents: int
    cantidad_vendida: int

    @property
    def precio(self) -> float:
        return self.price_cents / 100


@dataclass(frozen=True, slots=True)
class Sale:
    """A sale accepted by the api: its fields plus the id and time the api gave it."""

    id: str
    accepted_at_ms: int
    categoria: Category
    producto_id: str
    price_cents: int
    cantidad_vendida: int

    @classmethod
    def accept(cls, fields: SaleFields, sale_id: str, accepted_at_ms: int) -> Sale:
        return cls(
            id=sale_id,
            accepted_at_ms=accepted_at_ms,
            categoria=fields.categoria,
            producto_id=fields.producto_id,
            price_cents=fields.price_cents,
            cantidad_vendida=fields.cantidad_vendida,
        )

    @property
    def precio(self) -> float:
        return self.price_cents / 100

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "accepted_at_ms": self.accepted_at_ms,
            "categoria": self.categoria.name,
            "producto_id": self.producto_id,
            "precio": self.precio,
            "cantidad_vendida": self.cantidad_vendida,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_wire(), ensure_ascii=False, separators=(",", ":")).encode()


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _price_cents(value: object) -> int:
    if not _is_number(value):
        raise ValueError(PRICE_MESSAGE)
    assert isinstance(value, int | float)
    # An int is compared as an int: JSON integers have no size limit, and one beyond a float's range
    # (10**309) would make math.isfinite raise OverflowError.
    if isinstance(value, int):
        if not 0 < value <= MAX_PRICE:
            raise ValueError(PRICE_MESSAGE)
        return value * 100
    if not math.isfinite(value) or value <= 0 or value > MAX_PRICE:
        raise ValueError(PRICE_MESSAGE)
    try:
        cents = int((Decimal(repr(value)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation as exc:  # pragma: no cover - finite floats always convert
        raise ValueError(PRICE_MESSAGE) from exc
    if cents < 1:
        raise ValueError(PRICE_MESSAGE)
    return cents


def _product_id(value: object) -> str:
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > MAX_PRODUCT_ID_CHARS
        or any(not ch.isprintable() for ch in value)
    ):
        raise ValueError(PRODUCT_MESSAGE)
    return value


def _quantity(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_QUANTITY:
        raise ValueError(QUANTITY_MESSAGE)
    return value


_PARSERS: Final = {
    "categoria": Category.parse,
    "producto_id": _product_id,
    "precio": _price_cents,
    "cantidad_vendida": _quantity,
}


def _check_fields(obj: dict[str, Any], allowed: tuple[str, ...], errors: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in allowed:
        parser = _PARSERS.get(name)
        if name not in obj:
            errors[name] = "is required"
        elif parser is not None:
            try:
                values[name] = parser(obj[name])
            except ValueError as exc:
                errors[name] = str(exc)
    for name in obj:
        if name not in allowed:
            errors[str(name)] = "unknown field"
    return values


def validate_purchase(obj: object) -> SaleFields:
    """Validate the public POST /purchase body; raises InvalidSale naming every bad field."""
    if not isinstance(obj, dict):
        raise InvalidSale({"body": "must be a JSON object with " + ", ".join(PUBLIC_FIELDS)})
    errors: dict[str, str] = {}
    values = _check_fields(obj, PUBLIC_FIELDS, errors)
    if errors:
        raise InvalidSale(errors)
    return SaleFields(
        categoria=values["categoria"],
        producto_id=values["producto_id"],
        price_cents=values["precio"],
        cantidad_vendida=values["cantidad_vendida"],
    )


def sale_from_wire(obj: object) -> Sale:
    """Validate the internal JSON form (with id and accepted_at_ms); raises InvalidSale."""
    if not isinstance(obj, dict):
        raise InvalidSale({"body": "must be a JSON object with " + ", ".join(WIRE_FIELDS)})
    errors: dict[str, str] = {}
    values = _check_fields(obj, WIRE_FIELDS, errors)
    sale_id = obj.get("id")
    if "id" in obj and (
        not isinstance(sale_id, str) or not sale_id or len(sale_id) > MAX_SALE_ID_CHARS or not sale_id.isascii()
    ):
        errors["id"] = f"must be a non-empty ASCII string of at most {MAX_SALE_ID_CHARS} characters"
    accepted = obj.get("accepted_at_ms")
    if "accepted_at_ms" in obj and (
        not isinstance(accepted, int) or isinstance(accepted, bool) or not 0 <= accepted <= MAX_ACCEPTED_AT_MS
    ):
        errors["accepted_at_ms"] = "must be an integer from 0 to 2^63-1 (milliseconds since the epoch)"
    if errors:
        raise InvalidSale(errors)
    assert isinstance(sale_id, str)
    assert isinstance(accepted, int)
    return Sale(
        id=sale_id,
        accepted_at_ms=accepted,
        categoria=values["categoria"],
        producto_id=values["producto_id"],
        price_cents=values["precio"],
        cantidad_vendida=values["cantidad_vendida"],
    )


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are all different: with a repeated key, parsers disagree on which value wins."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def loads_strict(data: bytes | str) -> Any:
    """json.loads that refuses NaN and Infinity (Python takes them by default) and repeated keys.

    ValueError on bad JSON, too deep nesting included (Python's parser would raise RecursionError).
    """
    try:
        return json.loads(data, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def sale_from_json(data: bytes) -> Sale:
    """Decode one Kafka record value; ValueError (InvalidSale for bad fields) when it is not a sale.

    Records are the writer's own JSON: parsed by the C parser alone (no per-object hook), NaN and too
    deep nesting still refused; every field is still checked.
    """
    try:
        document = json.loads(data, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    return sale_from_wire(document)
