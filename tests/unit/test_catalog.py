"""The load generator's catalog: the built-in one is valid, samples are valid sales, bad catalogs are named."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from blackfriday.loadgen.catalog import CatalogError, builtin_bytes, load_catalog
from blackfriday.sale import Category, validate_purchase


def test_builtin_catalog_follows_the_seed_mix() -> None:
    catalog = load_catalog()
    weights = {mix.category: mix.weight for mix in catalog.categories}
    assert weights == {Category.Belleza: 3, Category.Electronica: 1, Category.Ropa: 1, Category.Hogar: 1}


def test_samples_are_valid_sales_in_the_catalogs_ranges() -> None:
    catalog = load_catalog()
    rng = random.Random(7)
    counts: dict[int, int] = {}
    for _ in range(3000):
        body = catalog.sample(rng)
        fields = validate_purchase(body)
        counts[body["categoria"]] = counts.get(body["categoria"], 0) + 1
        product = next(p for m in catalog.categories for p in m.products if p.id == fields.producto_id)
        assert product.price[0] <= body["precio"] <= product.price[1]
        assert product.quantity[0] <= body["cantidad_vendida"] <= product.quantity[1]
    assert 0.4 < counts[4] / 3000 < 0.6  # Belleza weighs 3 of 6


def _write(tmp_path: Path, document: Any) -> str:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_a_catalog_file_can_replace_the_builtin(tmp_path: Path) -> None:
    document = json.loads(builtin_bytes())
    document["categories"] = {"Hogar": {"weight": 1, "products": [{"id": "Sofa", "price": [1, 2], "quantity": [1, 1]}]}}
    catalog = load_catalog(_write(tmp_path, document))
    assert catalog.sample(random.Random(1))["producto_id"] == "Sofa"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "other"}, "not a black-friday catalog"),
        ({"version": 2}, "unsupported catalog version"),
        ({"categories": {}}, "non-empty object"),
        ({"categories": {"Juguetes": {"products": []}}}, "categories.Juguetes"),
        ({"categories": {"Hogar": {"weight": 0, "products": []}}}, "categories.Hogar.weight"),
        ({"categories": {"Hogar": {"products": [{"id": "x", "price": [5, 1], "quantity": [1, 1]}]}}}, ".price"),
        ({"categories": {"Hogar": {"products": [{"id": "x", "price": [1, 5], "quantity": [0, 1]}]}}}, ".quantity"),
        ({"categories": {"Hogar": {"products": [{"id": "", "price": [1, 5], "quantity": [1, 1]}]}}}, "producto_id"),
    ],
)
def test_bad_catalogs_say_where(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    document = {**json.loads(builtin_bytes()), **change}
    with pytest.raises(CatalogError, match=message):
        load_catalog(_write(tmp_path, document))


def test_missing_file_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(CatalogError, match="not valid JSON"):
        load_catalog(str(bad))
