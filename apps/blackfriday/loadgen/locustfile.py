"""Locust scenario: shoppers POSTing sales drawn from the catalog (the seed's mix by default).

    locust -f apps/blackfriday/loadgen/locustfile.py --host http://127.0.0.1:8080 [--catalog PATH]

--catalog (or BF_CATALOG) takes "builtin", a local JSON file or, once images are pushed, an OCI
reference. A purchase counts as a success only on 201 (stored in Kafka); anything else is a failure
with the api's reason, so Locust's numbers and the dashboard's can be compared.
flashsale.py beside it is the flash-sale shape (warm-up, a spike to five times the users, cool-down).
"""

from __future__ import annotations

from locust import HttpUser, between

from blackfriday.loadgen.shopping import Shopping, purchase_task


class Shopper(Shopping, HttpUser):
    wait_time = between(0.5, 2.0)  # the seed's pace
    tasks = [purchase_task]  # noqa: RUF012 - the attribute Locust reads
