"""bf-smoke: the checks `helm test` runs in the cluster, with the project's own image.

  bf-smoke sale --api URL --valkey ADDR --topic TOPIC [--sale JSON] [--timeout S]
      POST one sale through the api and wait until the consumer has applied it in Valkey (its
      partition's applied offset has reached the sale's offset). ADDR: host:port or
      sentinel://host:port,.../<primary name>. VALKEY_USER (the chart's read-only "reader")
      and VALKEY_PASSWORD from the environment.
  bf-smoke grafana --url URL --datasource-uid UID [--dashboard-uid UID]
      Grafana's /api/health answers, the data source and the dashboard are provisioned.
      GRAFANA_USER / GRAFANA_PASSWORD from the environment.

Each prints one line per step and exits 0, or exits 1 with a one-line reason.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import httpx
import valkey

from blackfriday import keys
from blackfriday.consumer.store import partition_name
from blackfriday.valkeyconn import Login, connect_as

DEFAULT_SALE = {"categoria": "Hogar", "producto_id": "helm-test", "precio": 100.0, "cantidad_vendida": 1}


class SmokeFailed(Exception):
    pass


def check_sale(api: str, valkey_addr: str, topic: str, sale: dict[str, Any], timeout: float) -> str:
    try:
        response = httpx.post(f"{api.rstrip('/')}/purchase", json=sale, timeout=timeout)
    except httpx.HTTPError as exc:
        raise SmokeFailed(f"api at {api} unreachable: {exc}") from None
    if response.status_code != 201:
        raise SmokeFailed(f"api answered {response.status_code}: {response.text[:300]}")
    stored = response.json()
    print(f"api stored sale {stored['id']} (partition {stored['partition']}, offset {stored['offset']})")
    partition = partition_name(topic, int(stored["partition"]))
    deadline = time.monotonic() + timeout
    unreachable: Exception | None = None
    with connect_as(valkey_addr, Login.from_env(os.environ)) as client:
        while True:
            try:
                applied = client.hget(keys.APPLIED_OFFSETS, partition)
                if applied is not None and int(applied) >= int(stored["offset"]):
                    return f"consumer counted sale {stored['id']} in Valkey"
            except valkey.AuthenticationError as exc:  # a wrong login does not heal by waiting
                raise SmokeFailed(f"Valkey at {valkey_addr} refused the login: {exc}") from None
            except (valkey.ConnectionError, valkey.TimeoutError) as exc:
                # A new pod's first connections may be refused until the cluster's NetworkPolicy agent has
                # admitted its address (kube-router, Calico: a few seconds): try again until the deadline.
                unreachable = exc
            except valkey.ValkeyError as exc:
                raise SmokeFailed(f"Valkey at {valkey_addr}: {exc}") from None
            if time.monotonic() > deadline:
                if unreachable is not None:
                    raise SmokeFailed(f"Valkey at {valkey_addr} unreachable for {timeout:g}s: {unreachable}")
                raise SmokeFailed(f"sale {stored['id']} not counted in Valkey after {timeout:g}s")
            time.sleep(0.5)


def check_grafana(url: str, datasource_uid: str, dashboard_uid: str | None, timeout: float) -> list[str]:
    auth = (os.environ.get("GRAFANA_USER", "admin"), os.environ.get("GRAFANA_PASSWORD", ""))
    lines = []
    with httpx.Client(base_url=url.rstrip("/"), auth=auth, timeout=10) as client:
        deadline = time.monotonic() + timeout
        while True:
            try:
                health = client.get("/api/health")
                if health.status_code == 200 and health.json().get("database") == "ok":
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SmokeFailed(f"Grafana at {url} not healthy after {timeout:g}s")
            time.sleep(1)
        lines.append(f"Grafana {health.json().get('version', '?')} healthy")
        datasource = client.get(f"/api/datasources/uid/{datasource_uid}")
        if datasource.status_code != 200:
            raise SmokeFailed(f"data source {datasource_uid} not provisioned ({datasource.status_code})")
        lines.append(f"data source {datasource_uid} provisioned ({datasource.json().get('type')})")
        if dashboard_uid:
            dashboard = client.get(f"/api/dashboards/uid/{dashboard_uid}")
            if dashboard.status_code != 200:
                raise SmokeFailed(f"dashboard {dashboard_uid} not provisioned ({dashboard.status_code})")
            lines.append(f"dashboard {dashboard.json()['dashboard'].get('title', dashboard_uid)!r} provisioned")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bf-smoke", description="helm test checks")
    sub = parser.add_subparsers(dest="check", required=True)
    sale = sub.add_parser("sale")
    sale.add_argument("--api", required=True)
    sale.add_argument("--valkey", required=True)
    sale.add_argument("--topic", default="sales-topic", help="the topic the writers produce to")
    sale.add_argument("--sale", default=json.dumps(DEFAULT_SALE))
    sale.add_argument("--timeout", type=float, default=120)
    grafana = sub.add_parser("grafana")
    grafana.add_argument("--url", required=True)
    grafana.add_argument("--datasource-uid", required=True)
    grafana.add_argument("--dashboard-uid")
    grafana.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args(argv)
    try:
        if args.check == "sale":
            print(check_sale(args.api, args.valkey, args.topic, json.loads(args.sale), args.timeout))
        else:
            for line in check_grafana(args.url, args.datasource_uid, args.dashboard_uid, args.timeout):
                print(line)
    except (SmokeFailed, ValueError) as exc:
        print(f"bf-smoke {args.check}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
