"""Locust scenario: shoppers POSTing sales drawn from the catalog (the seed's mix by default).

    locust -f apps/blackfriday/loadgen/locustfile.py --host http://127.0.0.1:8080 [--catalog PATH]

--catalog (or BF_CATALOG) takes "builtin", a local JSON file or, once images are pushed, an OCI
reference. A purchase counts as a success only on 201 (stored in Kafka); anything else is a failure
with the api's reason, so Locust's numbers and the dashboard's can be compared.
flashsale.py beside it is the flash-sale shape (warm-up, a spike to five times the users, cool-down).
"""

from __future__ import annotations

import random

from locust import HttpUser, between, task

from blackfriday.loadgen.shopping import active_catalog, purchase


class Shopper(HttpUser):
    wait_time = between(0.5, 2.0)  # the seed's pace

    def on_start(self) -> None:
        self.rng = random.Random()
        self.catalog = active_catalog()

    @task
    def purchase(self) -> None:
        purchase(self.client, self.rng, self.catalog)
