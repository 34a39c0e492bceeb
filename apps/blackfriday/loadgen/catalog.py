"""The product catalog the load generator draws sales from.

Format (catalog.json beside this file is the default; docs/registry.md, "The catalog artifact", describes it):

    {"kind": "black-friday/catalog", "version": 1,
     "categories": {"Belleza": {"weight": 3,
                                "products": [{"id": "Labial-Matte", "price": [50.0, 300.0], "quantity": [1, 5]}]}}}

A category's weight is its share of the traffic; each product has a price range (currency units, drawn
uniformly and rounded to cents) and a quantity range (integers, inclusive). Every drawn sale is valid for
the api.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from blackfriday.sale import MAX_PRICE, MAX_QUANTITY, Category, InvalidSale, validate_purchase

KIND: Final = "black-friday/catalog"
DEFAULT: Final = "builtin"


class CatalogError(ValueError):
    """A catalog that cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    price: tuple[float, float]
    quantity: tuple[int, int]


@dataclass(frozen=True, slots=True)
class CategoryMix:
    category: Category
    weight: float
    products: tuple[Product, ...]


@dataclass(frozen=True, slots=True)
class Catalog:
    categories: tuple[CategoryMix, ...]

    def sample(self, rng: random.Random) -> dict[str, Any]:
        """A purchase body as the api takes it."""
        mix = rng.choices(self.categories, weights=[c.weight for c in self.categories])[0]
        product = rng.choice(mix.products)
        return {
            "categoria": int(mix.category),
            "producto_id": product.id,
            "precio": round(rng.uniform(*product.price), 2),
            "cantidad_vendida": rng.randint(*product.quantity),
        }


def _range(value: object, where: str, kind: type | tuple[type, ...], low: float, high: float) -> tuple[Any, Any]:
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, kind) and not isinstance(v, bool) for v in value)
        and low <= value[0] <= value[1] <= high
    )
    if not ok:
        raise CatalogError(f"{where}: expected [min, max] with {low} <= min <= max <= {high}, got {value!r}")
    assert isinstance(value, list)
    return value[0], value[1]


def parse_catalog(document: object, source: str = "catalog") -> Catalog:
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise CatalogError(f'{source}: not a black-friday catalog (expected "kind": "{KIND}")')
    if document.get("version") != 1:
        raise CatalogError(f"{source}: unsupported catalog version {document.get('version')!r} (expected 1)")
    categories = document.get("categories")
    if not isinstance(categories, dict) or not categories:
        raise CatalogError(f'{source}: "categories" must be a non-empty object')
    mixes = []
    for name, spec in categories.items():
        where = f"{source}: categories.{name}"
        try:
            category = Category.parse(name)
        except ValueError as exc:
            raise CatalogError(f"{where}: {exc}") from None
        if not isinstance(spec, dict):
            raise CatalogError(f"{where}: expected an object with weight and products")
        weight = spec.get("weight", 1)
        if not isinstance(weight, int | float) or isinstance(weight, bool) or weight <= 0:
            raise CatalogError(f"{where}.weight: expected a number > 0, got {weight!r}")
        items = spec.get("products")
        if not isinstance(items, list) or not items:
            raise CatalogError(f"{where}.products: expected a non-empty list")
        products = []
        for index, item in enumerate(items):
            at = f"{where}.products[{index}]"
            if not isinstance(item, dict):
                raise CatalogError(f"{at}: expected an object with id, price and quantity")
            product = Product(
                id=item.get("id"),  # type: ignore[arg-type] # checked below by the api's own validation
                price=_range(item.get("price"), f"{at}.price", (int, float), 0.01, MAX_PRICE),
                quantity=_range(item.get("quantity"), f"{at}.quantity", int, 1, MAX_QUANTITY),
            )
            try:
                validate_purchase(
                    {
                        "categoria": int(category),
                        "producto_id": product.id,
                        "precio": product.price[0],
                        "cantidad_vendida": product.quantity[0],
                    }
                )
            except InvalidSale as exc:
                raise CatalogError(f"{at}: {exc}") from None
            products.append(product)
        mixes.append(CategoryMix(category, float(weight), tuple(products)))
    return Catalog(tuple(mixes))


def read_catalog_bytes(data: bytes, source: str) -> Catalog:
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise CatalogError(f"{source}: not valid JSON: {exc}") from None
    return parse_catalog(document, source)


def builtin_bytes() -> bytes:
    return resources.files("blackfriday.loadgen").joinpath("catalog.json").read_bytes()


def load_catalog(source: str = DEFAULT) -> Catalog:
    """The catalog from "builtin" (the file beside this module), a local path, or an OCI reference
    (oci://registry/repository:tag, oci+http:// for a plain-HTTP registry) pushed by scripts/push-images."""
    if source == DEFAULT:
        return read_catalog_bytes(builtin_bytes(), "builtin catalog")
    if source.startswith(("oci://", "oci+http://")):
        from blackfriday.loadgen.oci import OciError, pull_catalog

        try:
            return read_catalog_bytes(pull_catalog(source), source)
        except OciError as exc:
            raise CatalogError(str(exc)) from None
    try:
        data = Path(source).read_bytes()
    except OSError as exc:
        raise CatalogError(f"{source}: cannot read the catalog: {exc.strerror}") from None
    return read_catalog_bytes(data, source)
