"""The charts' values.schema.json files, built from shared definitions (`python -m bftools.chartgen`).

Helm reads each chart's schema on its own and cannot follow a $ref to another file, so the four service
subcharts would otherwise carry four copies of the same schema. They are written from here, and a test
checks the committed files are what this module builds.

Every schema allows `global` (anything: a parent chart may add its own keys) and `enabled`, so the chart
still works as a subchart of a bigger umbrella; every other unknown key is an error.
"""

from __future__ import annotations

from typing import Any, Final

from bftools.chartgen.configdoc import SERVICES
from bftools.chartgen.schemaparts import (
    ANY_ARRAY,
    ANY_OBJECT,
    BOOLEAN,
    DRAFT,
    DURATION_PATTERN,
    HOSTNAME_PATTERN,
    LAG_SCALING,
    LIBRARY_KEY,
    NETWORK_POLICY,
    PDB,
    PERSISTENCE,
    POD_PLACEMENT,
    PORT,
    PULL_SECRETS,
    QUANTITY_PATTERN,
    RESOURCES,
    SECRET_NAME_PATTERN,
    SERVICE,
    SERVICE_COMMON,
    VOLUME,
    Schema,
    described,
    flag,
    image,
    integer,
    obj,
    positive_number,
    string,
)
from blackfriday.loadgen.oci import REGISTRY_PATTERN
from blackfriday.sale import CATEGORY_NAMES
from blackfriday.settings import KAFKA_MECHANISMS, KAFKA_PROTOCOLS, FromEnv, Spec


def config_value(spec: Spec) -> Schema:
    """The schema of one `config:` key: the type and bounds the service's own parser checks."""
    description = f"{spec.doc} (default {spec.default})"
    if spec.kind == "choice":
        return {"enum": list(spec.choices), "description": description}
    if spec.kind not in ("integer", "number"):
        return {"type": "string", "description": description}
    bounded: Schema = {"type": spec.kind}
    if spec.minimum is not None:
        bounded["minimum"] = spec.minimum
    if spec.maximum is not None:
        bounded["maximum"] = spec.maximum
    if spec.kind == "integer":
        return {**bounded, "description": description}
    # `helm --set KEY=2.5` passes a float as a string: take it, and let the service check its bounds at start.
    return {"anyOf": [bounded, {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}], "description": description}


def config_schema(settings: type[FromEnv]) -> Schema:
    """The keys of `config:` are exactly the settings the service reads that the chart does not set."""
    return obj(
        {spec.name: config_value(spec) for spec in settings.specs() if not spec.wired},
        description=f"settings of bf-{settings.SERVICE} (docs/configuration.md); any other key is refused",
    )


def chart_schema(title: str, properties: dict[str, Any]) -> Schema:
    return {"$schema": DRAFT, "title": title, **obj({"global": {}, "enabled": BOOLEAN, **LIBRARY_KEY, **properties})}


#: The consumer's scaling on Kafka lag (a KEDA ScaledObject in place of its CPU HPA).
def service_schema(settings: type[FromEnv]) -> Schema:
    extra = {"lagScaling": LAG_SCALING} if settings.SERVICE == "consumer" else {}
    return {
        "$schema": DRAFT,
        "title": f"black-friday {settings.SERVICE} values",
        **obj({**SERVICE, **extra, "config": config_schema(settings)}),
    }


KAFKA: Final = chart_schema(
    "black-friday kafka values (Strimzi custom resources)",
    {
        "crdCheck": {**BOOLEAN, "description": "fail the render when the cluster lacks kafka.strimzi.io/v1"},
        "version": string("a Kafka version Strimzi 1.2 supports (4.2.x or 4.3.x)", pattern=r"^4\.[23]\.[0-9]+$"),
        "nodePools": {
            "type": "array",
            "minItems": 1,
            "items": obj(
                {
                    "name": string(
                        "the pool's name (the KafkaNodePool is <cluster>-<name>)",
                        pattern=r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$",
                    ),
                    "roles": {
                        "type": "array",
                        "minItems": 1,
                        "uniqueItems": True,
                        "items": {"enum": ["controller", "broker"]},
                        "description": "controller, broker or both",
                    },
                    "replicas": integer(1, description="Kafka nodes in the pool"),
                    "storage": obj(
                        {
                            "type": {
                                "enum": ["ephemeral", "persistent-claim"],
                                "description": "ephemeral (an emptyDir) or persistent-claim (a PVC per node)",
                            },
                            "size": {
                                "anyOf": [{"type": "string", "pattern": r"^$|" + QUANTITY_PATTERN}],
                                "description": "the volume's size (a PVC's, or the emptyDir's limit)",
                            },
                            "class": string("the PVCs' StorageClass; empty: the cluster's default"),
                            "deleteClaim": flag("Strimzi deletes the PVCs with the pool"),
                        },
                        required=["type"],
                    ),
                    "resources": RESOURCES,
                    "jvmOptions": described(ANY_OBJECT, "Strimzi's jvmOptions (-Xms, -Xmx, ...)"),
                },
                required=["name", "roles", "replicas", "storage"],
            ),
        },
        "config": described(ANY_OBJECT, "broker settings of the Kafka resource"),
        "topic": obj(
            {
                "partitions": integer(1, description="partitions of the sales topic and of its dead-letter topic"),
                "replicas": {"type": ["integer", "null"], "minimum": 1},
                "retentionMs": integer(-1, description="how long Kafka keeps records (ms); -1: no time limit"),
                "retentionBytes": {
                    "type": "string",
                    "pattern": f"^$|{QUANTITY_PATTERN}",
                    "description": "per partition (with its active segment, a quarter of it); empty: derived from "
                    "the brokers' volumes",
                },
                "config": described(ANY_OBJECT, "more settings of the KafkaTopics"),
            }
        ),
        "entityOperator": obj(
            {
                "topicOperator": flag("run Strimzi's topic operator (it makes the KafkaTopics' topics)"),
                "userOperator": flag(
                    "run Strimzi's user operator (required: it makes the services' KafkaUsers and their Secrets)"
                ),
            }
        ),
        "authorization": obj(
            {
                "superUsers": {
                    "type": "array",
                    "items": string(pattern=r"^User:.+$"),
                    "description": "principals allowed everything (User:<name>), beside Strimzi's operators",
                }
            },
            description="Kafka's simple authorization: each KafkaUser may do what its ACLs allow",
        ),
        "metrics": obj({"enabled": flag("the brokers' JMX exporter (metricsConfig) and Strimzi's Kafka exporter")}),
    },
)

VALKEY: Final = chart_schema(
    "black-friday valkey values",
    {
        "image": image("the Valkey image"),
        "imagePullSecrets": PULL_SECRETS,
        "replicas": integer(0, description="replicas beside the primary, 0 or more"),
        "sentinel": obj(
            {
                "quorum": integer(1, description="Sentinels that must agree the primary is down"),
                "downAfterMilliseconds": integer(100),
                "failoverTimeoutMilliseconds": integer(1000),
                "resources": RESOURCES,
            }
        ),
        "persistence": obj(VOLUME, description="each Valkey pod's claim (data-<release>-valkey-N), kept on uninstall"),
        "appendfsync": {"enum": ["always", "everysec", "no"]},
        "maxmemory": {
            "type": "string",
            "pattern": f"^$|{QUANTITY_PATTERN}",
            "description": "a size (1Gi, 800Mi); empty: maxmemoryPercent of the memory limit",
        },
        "maxmemoryPercent": integer(10, 95, "Valkey's maxmemory as a share of the container's memory limit"),
        "podAntiAffinity": {"enum": ["soft", "hard", "none"]},
        "maxmemoryPolicy": {
            "description": "what Valkey does at maxmemory; noeviction keeps every aggregate",
            "enum": [
                "noeviction",
                "allkeys-lru",
                "volatile-lru",
                "allkeys-lfu",
                "volatile-lfu",
                "allkeys-random",
                "volatile-random",
                "volatile-ttl",
            ],
        },
        "resources": RESOURCES,
        "pdb": PDB,
        "networkPolicy": NETWORK_POLICY,
        **POD_PLACEMENT,
    },
)

GRAFANA: Final = chart_schema(
    "black-friday grafana values",
    {
        "image": image("the Grafana image (11.6.x or 12.1.x for redis-datasource 2.2.0)"),
        "imagePullSecrets": PULL_SECRETS,
        "admin": obj(
            {
                "user": string("the admin's user name", minLength=1),
                "existingSecret": string(),
                "userKey": string("the key of the user name in the Secret", minLength=1),
                "passwordKey": string("the key of the password in the Secret", minLength=1),
            }
        ),
        "service": obj(
            {
                "type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"], "description": "the Service's type"},
                "port": described(PORT, "the Service's port"),
                "nodePort": {
                    "type": ["integer", "null"],
                    "minimum": 30000,
                    "maximum": 32767,
                    "description": "with type NodePort: its port; null: one Kubernetes picks",
                },
            }
        ),
        "persistence": PERSISTENCE,
        "redisPlugin": obj(
            {
                "id": string("the plugin's id", minLength=1),
                "version": string("the plugin's version", minLength=1),
                "source": {
                    "enum": ["grafana.com", "url", "oci", "none"],
                    "description": "where the plugin comes from; url and oci work air-gapped",
                },
                "url": string("with source url: where the plugin zip is", pattern=r"^$|^(https?|file)://"),
                "ociReference": string(pattern=r"^$|^[^\s:/]+(:[0-9]+)?/[^\s]+$"),
                "ociPlainHttp": BOOLEAN,
            }
        ),
        "orasImage": image("the oras image of the oci plugin installer"),
        "datasource": obj(
            {
                "uid": string(
                    "the data source's uid; the dashboards' panels name bf-valkey", pattern=r"^[a-zA-Z0-9_-]{1,40}$"
                ),
                "name": string("the data source's name in Grafana", minLength=1),
                "readFrom": {"enum": ["read", "primary"]},
            }
        ),
        "prometheus": obj({"url": string("the Prometheus's URL; empty: none", pattern=r"^$|^https?://")}),
        "dashboards": obj({"refresh": string(pattern=r"^[0-9]+[smh]$")}),
        "resources": RESOURCES,
        "networkPolicy": NETWORK_POLICY,
        **POD_PLACEMENT,
    },
)

LIBRARY: Final = {
    "$schema": DRAFT,
    "title": "black-friday shared templates (no values of its own)",
    **obj({"global": {}, "enabled": BOOLEAN}),
}

UMBRELLA: Final = {
    "$schema": DRAFT,
    "title": "black-friday values",
    **obj(
        {
            "global": obj(
                {
                    "imageRegistry": string(
                        "the private registry (Zot) host[:port], e.g. 172.31.32.68:5000", pattern=REGISTRY_PATTERN
                    ),
                    "imageTag": {"type": ["string", "number"]},
                    "imagePullSecrets": PULL_SECRETS,
                    "clusterDomain": string("the cluster's DNS domain (in the services' addresses)", minLength=1),
                    "focusCategory": {"enum": list(CATEGORY_NAMES), "description": "the dashboard's focus category"},
                    "focusLabel": {"type": ["string", "number"]},
                    "kafka": obj(
                        {
                            "clusterName": string(pattern=r"^$|^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"),
                            "namespace": string(pattern=r"^$|^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
                            "topic": string("the sales topic", pattern=r"^[a-zA-Z0-9._-]{1,249}$"),
                            "deadLetterTopic": string(pattern=r"^$|^[a-zA-Z0-9._-]{1,249}$"),
                            "external": obj(
                                {
                                    "bootstrapServers": string(
                                        "an existing Kafka: host:port,host:port; empty: Strimzi makes one",
                                        pattern=r"^$|^[A-Za-z0-9_.\[\]:-]+:[0-9]{1,5}(,[A-Za-z0-9_.\[\]:-]+:[0-9]{1,5})*$",
                                    ),
                                    "securityProtocol": {
                                        "enum": list(KAFKA_PROTOCOLS),
                                        "description": "SASL_SSL (TLS and a login per service), SSL (TLS only) or "
                                        "PLAINTEXT (neither: insecure)",
                                    },
                                    "saslMechanism": {
                                        "enum": list(KAFKA_MECHANISMS),
                                        "description": "the SASL login with SASL_SSL",
                                    },
                                    "existingSecret": string(
                                        "a Secret with writer-username, writer-password, consumer-username, "
                                        "consumer-password and the CA (caKey); required with SASL_SSL",
                                        pattern=SECRET_NAME_PATTERN,
                                    ),
                                    "caKey": string(
                                        "the key of the brokers' CA (PEM) in existingSecret; empty: the image's "
                                        "public CAs"
                                    ),
                                }
                            ),
                            "clusterCaSecret": string(
                                "Strimzi mode: the Secret (key ca.crt) with the Kafka cluster's CA in the release's "
                                "namespace; empty: <clusterName>-cluster-ca-cert",
                                pattern=SECRET_NAME_PATTERN,
                            ),
                            "consumerGroup": string(
                                "the consumers' group: releases sharing a Kafka need one each", minLength=1
                            ),
                        }
                    ),
                    "valkey": obj(
                        {
                            "auth": obj(
                                {
                                    "existingSecret": string(
                                        "a Secret with a key per Valkey user (consumer, reader, monitor, replica, "
                                        "sentinel, admin) holding its password; empty: the chart makes one",
                                        pattern=SECRET_NAME_PATTERN,
                                    ),
                                }
                            ),
                            "tls": obj(
                                {
                                    "enabled": flag("TLS to Valkey and its Sentinels"),
                                    "existingSecret": string(
                                        "the Secret with tls.crt, tls.key and ca.crt; required with TLS",
                                        pattern=SECRET_NAME_PATTERN,
                                    ),
                                }
                            ),
                            "sentinel": obj(
                                {
                                    "enabled": flag("Sentinel beside Valkey"),
                                    "primaryName": string(pattern=r"^[A-Za-z0-9_.-]+$"),
                                }
                            ),
                        }
                    ),
                    "networkPolicy": obj({"enabled": BOOLEAN}),
                    "serviceDefaults": obj(SERVICE_COMMON),
                },
                closed=False,
            ),
            "enabled": BOOLEAN,
            **{name: ANY_OBJECT for name in ("api", "bridge", "writer", "consumer", "kafka", "valkey", "grafana")},
            **LIBRARY_KEY,
            "ingress": obj(
                {
                    "enabled": flag("an Ingress for POST /purchase"),
                    "className": string(minLength=1),
                    "host": string(
                        "the host it answers for; empty: any", pattern=r"^$|^[a-z0-9*]([a-z0-9.-]*[a-z0-9])?$"
                    ),
                    "annotations": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "description": "annotations of the Ingress (the controller's settings)",
                    },
                    "tls": described(ANY_ARRAY, "the Ingress's tls entries"),
                }
            ),
            "httpRoute": obj(
                {
                    "enabled": flag("an HTTPRoute (Gateway API) for POST /purchase"),
                    "parentRefs": {
                        "type": "array",
                        "items": obj(
                            {
                                "name": string("the Gateway's name", minLength=1),
                                "namespace": string(
                                    "its namespace; empty: the release's", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
                                ),
                                "sectionName": string("one listener of it, by name", minLength=1),
                                "group": string("the parent's API group (default: the Gateway API's)"),
                                "kind": string("the parent's kind (default: Gateway)"),
                                "port": described(PORT, "one listener of it, by port"),
                            },
                            required=["name"],
                        ),
                        "description": "the Gateways it attaches to",
                    },
                    "hostnames": {
                        "type": "array",
                        "items": string(pattern=HOSTNAME_PATTERN),
                        "description": "host names it answers for",
                    },
                }
            ),
            "rateLimit": obj(
                {
                    "enabled": flag("a per-client request-rate limit at the edge"),
                    "requestsPerSecond": integer(1),
                    "burst": integer(0, description="requests one client may send at once above the average"),
                    "controller": {"enum": ["", "traefik", "nginx"], "description": "how the edge limits"},
                }
            ),
            "monitoring": obj(
                {
                    "podMonitors": obj(
                        {
                            "enabled": flag("a PodMonitor per service, Valkey's exporter and (Strimzi) Kafka"),
                            "namespace": string(pattern=r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
                            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                            "interval": string("how often Prometheus scrapes each pod", pattern=DURATION_PATTERN),
                        }
                    ),
                    "prometheusRule": obj(
                        {
                            "enabled": flag("the alerts of docs/alerts.md as a PrometheusRule"),
                            "namespace": string(
                                "where the rule goes; empty: the release's namespace",
                                pattern=r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                            ),
                            "labels": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                                "description": "labels a Prometheus selects rules by",
                            },
                            "for": string(pattern=DURATION_PATTERN),
                            "window": string("the window of the alerts' rates and quantiles", pattern=DURATION_PATTERN),
                            "errorRatio": described(positive_number(maximum=1), "share of 5xx answers that alerts"),
                            "p99Seconds": described(positive_number(), "the api's p99 target"),
                            "writerAckP99Seconds": described(positive_number(), "the writer's Kafka ack p99 target"),
                            "consumerLag": integer(1, description="records behind that alert while not draining"),
                            "valkeyMemoryRatio": described(
                                positive_number(maximum=1), "share of Valkey's maxmemory that alerts"
                            ),
                            "hpaAtMaximum": BOOLEAN,
                        }
                    ),
                    "valkeyExporter": obj({"resources": RESOURCES}),
                }
            ),
            "tests": obj(
                {
                    "smoke": obj(
                        {
                            "enabled": flag("a sale through the api Service until Valkey counts it"),
                            "sale": ANY_OBJECT,
                            "timeoutSeconds": integer(1, description="how long the sale may take to be counted"),
                        }
                    ),
                    "valkey": obj({"enabled": flag("Valkey's primary answers and its replicas follow it")}),
                    "grafana": obj({"enabled": flag("Grafana is healthy and its data source answers")}),
                }
            ),
        }
    ),
}


def all_schemas() -> dict[str, Schema]:
    """Chart directory (relative to charts/black-friday) -> its values.schema.json content."""
    return {
        ".": UMBRELLA,
        "charts/bf-common": LIBRARY,
        **{f"charts/{settings.SERVICE}": service_schema(settings) for settings in SERVICES},
        "charts/kafka": KAFKA,
        "charts/valkey": VALKEY,
        "charts/grafana": GRAFANA,
    }
