"""What every Locust scenario of the project shares: the --catalog option and one purchase.

Importing this module registers the option (--catalog, or BF_CATALOG: "builtin", a JSON file, or an OCI
reference) and loads the catalog when Locust starts.
"""

from __future__ import annotations

import random
from typing import Any

from locust import events
from locust.env import Environment

from blackfriday.loadgen.catalog import DEFAULT, Catalog, CatalogError, load_catalog

_catalogs: dict[str, Catalog] = {}


@events.init_command_line_parser.add_listener  # type: ignore[untyped-decorator]
def _arguments(parser: Any) -> None:
    parser.add_argument(
        "--catalog",
        default=DEFAULT,
        env_var="BF_CATALOG",
        help="product catalog: 'builtin', a JSON file, or an OCI reference",
    )


@events.init.add_listener  # type: ignore[untyped-decorator]
def _load(environment: Environment, **_: Any) -> None:
    source = getattr(environment.parsed_options, "catalog", DEFAULT) if environment.parsed_options else DEFAULT
    try:
        _catalogs["active"] = load_catalog(source)
    except CatalogError as exc:
        raise SystemExit(f"locust: {exc}") from None


def active_catalog() -> Catalog:
    return _catalogs.get("active") or load_catalog(DEFAULT)


def purchase(client: Any, rng: random.Random, catalog: Catalog) -> None:
    """POST one sale from the catalog; a success only on 201 (stored in Kafka), else a failure with the reason."""
    body = catalog.sample(rng)
    with client.post("/purchase", json=body, name="/purchase", catch_response=True) as response:
        if response.status_code == 201:
            response.success()
        else:
            response.failure(f"{response.status_code}: {response.text[:200]}")


class Shopping:
    """What a shopper does, for a Locust user class to mix in: ``class Shopper(Shopping, HttpUser)``.

    (Locust collects a class's tasks from its ``tasks`` list: the purchase is given there.)
    """

    client: Any

    def on_start(self) -> None:
        self.rng = random.Random()
        self.catalog = active_catalog()


def purchase_task(user: Shopping) -> None:
    purchase(user.client, user.rng, user.catalog)
