"""Validation of the public sale JSON and the internal wire form: every bad-input class is named."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from blackfriday.sale import (
    MAX_PRICE,
    MAX_PRODUCT_ID_CHARS,
    MAX_QUANTITY,
    Category,
    InvalidSale,
    Sale,
    loads_strict,
    sale_from_json,
    validate_purchase,
)

GOOD: dict[str, Any] = {"categoria": 4, "producto_id": "Labial-Matte", "precio": 120.5, "cantidad_vendida": 2}


def errors_of(body: object) -> dict[str, str]:
    with pytest.raises(InvalidSale) as caught:
        validate_purchase(body)
    return caught.value.errors


def test_a_good_sale_is_accepted_with_canonical_fields() -> None:
    fields = validate_purchase(GOOD)
    assert fields.categoria is Category.Belleza
    assert fields.producto_id == "Labial-Matte"
    assert fields.price_cents == 12050
    assert fields.precio == 120.5
    assert fields.cantidad_vendida == 2


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (1, Category.Electronica),
        (2, Category.Ropa),
        (3, Category.Hogar),
        (4, Category.Belleza),
        ("Belleza", Category.Belleza),
        ("BELLEZA", Category.Belleza),
        ("belleza", Category.Belleza),
        ("electrónica".replace("ó", "o"), Category.Electronica),
        ("hOgAr", Category.Hogar),
    ],
)
def test_category_as_number_or_name_in_any_case(given: object, expected: Category) -> None:
    assert validate_purchase({**GOOD, "categoria": given}).categoria is expected


@pytest.mark.parametrize("bad", [0, 5, -1, "Juguetes", "", "4", 4.0, True, None, [4], {"id": 4}, " Belleza"])
def test_unknown_or_mistyped_category_is_named(bad: object) -> None:
    assert set(errors_of({**GOOD, "categoria": bad})) == {"categoria"}


@pytest.mark.parametrize("field", ["categoria", "producto_id", "precio", "cantidad_vendida"])
def test_each_missing_field_is_named(field: str) -> None:
    body = {k: v for k, v in GOOD.items() if k != field}
    assert errors_of(body) == {field: "is required"}


def test_every_bad_field_is_named_at_once() -> None:
    errors = errors_of({"categoria": 9, "producto_id": "", "precio": -1, "cantidad_vendida": 0})
    assert set(errors) == {"categoria", "producto_id", "precio", "cantidad_vendida"}


def test_unknown_fields_are_named() -> None:
    assert errors_of({**GOOD, "precios": 3}) == {"precios": "unknown field"}


@pytest.mark.parametrize(
    "bad", ["", "   ", 7, None, "x" * (MAX_PRODUCT_ID_CHARS + 1), "tab\there", "new\nline", ["a"], True]
)
def test_bad_product_id_is_named(bad: object) -> None:
    assert set(errors_of({**GOOD, "producto_id": bad})) == {"producto_id"}


def test_product_id_at_the_length_limit_and_unicode_is_fine() -> None:
    assert validate_purchase({**GOOD, "producto_id": "ñ" * MAX_PRODUCT_ID_CHARS}).producto_id == "ñ" * 64


@pytest.mark.parametrize(
    "bad",
    [
        *(0, -0.01, -5, 0.004, math.inf, -math.inf, math.nan, MAX_PRICE + 0.01, "12.5", None, True, [1]),
        # integers beyond a float's range (a 310-digit price once answered 500: OverflowError), the float limits
        *(10**309, 10**310 - 1, -(10**309), MAX_PRICE + 1, 1.7976931348623157e308, 5e-324),
    ],
)
def test_non_finite_non_positive_or_mistyped_price_is_named(bad: object) -> None:
    assert set(errors_of({**GOOD, "precio": bad})) == {"precio"}


@pytest.mark.parametrize(
    ("given", "cents"),
    [
        (120.5, 12050),
        (120, 12000),
        (0.01, 1),
        (0.005, 1),
        (99.999, 10000),
        (0.125, 13),
        (19.99, 1999),
        (MAX_PRICE, 100_000_000),
    ],
)
def test_price_is_kept_in_cents_rounded_half_up(given: float, cents: int) -> None:
    assert validate_purchase({**GOOD, "precio": given}).price_cents == cents


@pytest.mark.parametrize("bad", [0, -1, MAX_QUANTITY + 1, 2.0, 2.5, "2", None, True, False])
def test_quantity_below_one_or_not_an_integer_is_named(bad: object) -> None:
    assert set(errors_of({**GOOD, "cantidad_vendida": bad})) == {"cantidad_vendida"}


@pytest.mark.parametrize("bad", [[], "sale", 42, None, [GOOD]])
def test_a_body_that_is_not_an_object_is_named(bad: object) -> None:
    assert set(errors_of(bad)) == {"body"}


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", '{"precio": NaN}'])
def test_strict_json_refuses_nan_and_infinity(text: str) -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        loads_strict(text)


def test_wire_form_round_trips_and_carries_the_canonical_name() -> None:
    sale = Sale.accept(validate_purchase({**GOOD, "categoria": "belleza"}), "id-1", 1_700_000_000_000)
    wire = json.loads(sale.to_json())
    assert wire == {
        "id": "id-1",
        "accepted_at_ms": 1_700_000_000_000,
        "categoria": "Belleza",
        "producto_id": "Labial-Matte",
        "precio": 120.5,
        "cantidad_vendida": 2,
    }
    assert sale_from_json(sale.to_json()) == sale


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": ""}, "id"),
        ({"id": 5}, "id"),
        ({"id": "x" * 65}, "id"),
        ({"accepted_at_ms": -1}, "accepted_at_ms"),
        ({"accepted_at_ms": "now"}, "accepted_at_ms"),
        ({"accepted_at_ms": True}, "accepted_at_ms"),
        ({"accepted_at_ms": 2**63}, "accepted_at_ms"),  # beyond the gRPC message's int64
        ({"accepted_at_ms": 10**310}, "accepted_at_ms"),
        ({"precio": 10**310}, "precio"),
        ({"precio": 0}, "precio"),
    ],
)
def test_bad_wire_records_are_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    wire = {"id": "id-1", "accepted_at_ms": 1, **GOOD, **change}
    with pytest.raises(InvalidSale) as caught:
        sale_from_json(json.dumps(wire).encode())
    assert set(caught.value.errors) == {field}


def test_a_wire_record_needs_its_id_and_timestamp() -> None:
    with pytest.raises(InvalidSale) as caught:
        sale_from_json(json.dumps(GOOD).encode())
    assert set(caught.value.errors) == {"id", "accepted_at_ms"}
