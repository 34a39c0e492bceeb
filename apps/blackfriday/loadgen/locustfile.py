"""Locust scenario: shoppers POSTing sales drawn from the catalog (the seed's mix by default).

    locust -f apps/blackfriday/loadgen/locustfile.py --host http://127.0.0.1:8080 [--catalog PATH]

--catalog (or BF_CATALOG) takes "builtin", a local JSON file or, once images are pushed, an OCI
reference. A purchase counts as a success only on 201 (stored in Kafka); anything else is a failure
with the api's reason, so Locust's numbers and the dashboard's can be compared.
"""

from __future__ import annotations

import random
from typing import Any

from locust import HttpUser, between, events, task
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


class Shopper(HttpUser):
    wait_time = between(0.5, 2.0)  # the seed's pace

    def on_start(self) -> None:
        self.rng = random.Random()
        self.catalog = _catalogs.get("active") or load_catalog(DEFAULT)

    @task
    def purchase(self) -> None:
        body = self.catalog.sample(self.rng)
        with self.client.post("/purchase", json=body, name="/purchase", catch_response=True) as response:
            if response.status_code == 201:
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")
