"""The building blocks of the values schemas (schemas.py): JSON Schema primitives, patterns, and the keys
every service subchart shares (image, resources, autoscaling, disruption budget, network policy, placement).
"""

from __future__ import annotations

from typing import Any, Final

from blackfriday.loadgen.oci import REGISTRY_PATTERN

Schema = dict[str, Any]

DRAFT: Final = "http://json-schema.org/draft-07/schema#"
#: A Prometheus duration: 30s, 5m, 1h30m.
DURATION_PATTERN: Final = r"^([0-9]+(ms|s|m|h|d|w|y))+$"
QUANTITY_PATTERN: Final = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
#: A Secret's name (a DNS subdomain), or empty.
SECRET_NAME_PATTERN: Final = r"^$|^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"  # noqa: S105 - a name, not a password


def obj(
    properties: dict[str, Any],
    *,
    required: list[str] | None = None,
    closed: bool = True,
    description: str | None = None,
) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": not closed}
    if required:
        schema["required"] = required
    if description:
        schema["description"] = description
    return schema


def string(description: str | None = None, **extra: Any) -> Schema:
    schema: Schema = {"type": "string", **extra}
    if description:
        schema["description"] = description
    return schema


def integer(minimum: int | None = None, maximum: int | None = None, description: str | None = None) -> Schema:
    schema: Schema = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    if description:
        schema["description"] = description
    return schema


BOOLEAN: Final = {"type": "boolean"}
ANY_OBJECT: Final = {"type": "object"}
ANY_ARRAY: Final = {"type": "array"}
QUANTITY: Final = {"anyOf": [{"type": "string", "pattern": QUANTITY_PATTERN}, {"type": "number", "minimum": 0}]}
PORT: Final = integer(1, 65535)
#: A DNS name, or a wildcard one (*.shop.example), as the Gateway API takes them.
HOSTNAME_PATTERN: Final = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


def positive_number(maximum: float | None = None) -> Schema:
    """A number above 0; `helm --set x=0.5` passes it as a string, which is taken too (the rule checks it)."""
    bounded: Schema = {"type": "number", "exclusiveMinimum": 0}
    if maximum is not None:
        bounded["maximum"] = maximum
    return {"anyOf": [bounded, {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}]}


def described(schema: Schema, description: str) -> Schema:
    """``schema`` with a description (the chart's values reference shows it: tools/bftools/chartgen/valuesdoc.py)."""
    return {**schema, "description": description}


def flag(description: str) -> Schema:
    return described(BOOLEAN, description)


def image(description: str) -> Schema:
    return obj(
        {
            "registry": string("registry host[:port]; global.imageRegistry wins", pattern=REGISTRY_PATTERN),
            "repository": string("image repository", minLength=1),
            "tag": {"type": ["string", "number"], "description": "image tag; empty: the default"},
            "digest": string("sha256:... to pin the image", pattern=r"^$|^sha256:[a-f0-9]{64}$"),
            "pullPolicy": {
                "enum": ["Always", "IfNotPresent", "Never"],
                "description": "the container's imagePullPolicy",
            },
            "useGlobalTag": flag("with tag empty: take global.imageTag (the project's image does)"),
        },
        description=description,
    )


RESOURCES: Final = obj(
    {
        "requests": obj({"cpu": QUANTITY, "memory": QUANTITY, "ephemeral-storage": QUANTITY}),
        "limits": obj({"cpu": QUANTITY, "memory": QUANTITY, "ephemeral-storage": QUANTITY}),
    },
    description="the container's requests and limits (cpu, memory, ephemeral-storage)",
)

PULL_SECRETS: Final = {
    "type": "array",
    "items": {"anyOf": [{"type": "string", "minLength": 1}, obj({"name": string(minLength=1)}, required=["name"])]},
    "description": "Secrets to pull the images with: [name] or [{name: name}]",
}

AUTOSCALING: Final = obj(
    {
        "enabled": flag("a HorizontalPodAutoscaler on CPU instead of replicaCount"),
        "minReplicas": integer(1, description="at least 1"),
        "maxReplicas": integer(1, description="at least 1, and not below minReplicas"),
        "targetCPUUtilizationPercentage": integer(1, 100, description="average CPU use to aim for, 1-100 (%)"),
        "behavior": described(ANY_OBJECT, "the HPA's scaling behavior (scaleUp, scaleDown), as Kubernetes takes it"),
    }
)

PDB: Final = obj(
    {
        "enabled": flag("a PodDisruptionBudget for the pods"),
        "maxUnavailable": {"type": ["integer", "string"], "description": "pods a voluntary disruption may take down"},
        "minAvailable": {"type": ["integer", "string"], "description": "pods that must stay up; when set, it wins"},
    }
)

NETWORK_POLICY: Final = obj(
    {
        "from": {
            "type": "array",
            "items": string(minLength=1),
            "description": "components of the release that may connect (e.g. [api])",
        },
        "fromAnywhere": flag("anyone may connect (a public entry point)"),
        "extraFrom": {
            "type": "array",
            "items": ANY_OBJECT,
            "description": "more NetworkPolicyPeers that may connect (e.g. the monitoring namespace)",
        },
    },
    description="who may connect to the pods, when global.networkPolicy.enabled",
)

POD_PLACEMENT: Final = {
    "podSecurityContext": described(ANY_OBJECT, "merged over the chart's restricted pod security context"),
    "securityContext": described(ANY_OBJECT, "merged over the chart's restricted container security context"),
    "podAnnotations": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "annotations of the pods",
    },
    "nodeSelector": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "the pods' nodeSelector",
    },
    "tolerations": described(ANY_ARRAY, "the pods' tolerations"),
    "affinity": described(ANY_OBJECT, "the pods' affinity"),
}

#: What global.serviceDefaults and every service subchart may set.
SERVICE_COMMON: Final = {
    "image": image("the project's image (one image, a command per service)"),
    "imagePullSecrets": PULL_SECRETS,
    "replicaCount": integer(1, description="replicas when autoscaling is off, at least 1"),
    "autoscaling": AUTOSCALING,
    "pdb": PDB,
    "serviceAccount": obj(
        {
            "create": flag("make a ServiceAccount for the service (no API token is mounted)"),
            "name": string("its name; empty: the service's full name"),
        }
    ),
    "logLevel": {"enum": ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], "description": "the service's LOG_LEVEL"},
    "resources": RESOURCES,
    "terminationGracePeriodSeconds": integer(0, description="seconds Kubernetes waits after SIGTERM before SIGKILL"),
    "preStopSleepSeconds": integer(
        0, 120, "after SIGTERM is decided, seconds the pod keeps serving while its endpoints are removed"
    ),
    "updateStrategy": obj(
        {
            "maxSurge": {"type": ["integer", "string"], "description": "new pods above the replicas during a rollout"},
            "maxUnavailable": {"type": ["integer", "string"], "description": "pods below the replicas during one"},
        }
    ),
    "podLabels": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "more labels on the pods",
    },
    "extraEnv": {
        "type": "object",
        "additionalProperties": {"type": ["string", "number", "boolean"]},
        "description": "more environment variables (NAME: value); settings belong in config",
    },
    "topologySpreadConstraints": described(ANY_ARRAY, "the pods' topologySpreadConstraints"),
    "networkPolicy": NETWORK_POLICY,
    **POD_PLACEMENT,
}

#: Helm gives every chart a key per dependency: the library's.
LIBRARY_KEY: Final = {"bf-common": ANY_OBJECT}

SERVICE: Final = {
    "global": {},
    "enabled": flag("install the service with the release"),
    **LIBRARY_KEY,
    "command": {
        "type": "array",
        "items": string(minLength=1),
        "minItems": 1,
        "description": "the container's command: the service's console script in the project's image",
    },
    "headlessService": flag("also a headless Service: one DNS record per pod, for a client to balance over"),
    "livenessProbe": described(ANY_OBJECT, "the container's liveness probe (the chart fills in the port)"),
    "readinessProbe": described(ANY_OBJECT, "the container's readiness probe (the chart fills in the port)"),
    "startupProbe": described(ANY_OBJECT, "the container's startup probe, if any"),
    "lifecycle": described(
        ANY_OBJECT, "the container's lifecycle hooks; empty: a preStop sleep of preStopSleepSeconds"
    ),
    "waitFor": {
        "type": "array",
        "uniqueItems": True,
        "items": {"enum": ["api", "bridge", "writer", "valkey"]},
        "description": "components whose Service must accept a connection (a ready pod) before this one starts",
    },
    **SERVICE_COMMON,
}


LAG_SCALING: Final = obj(
    {
        "enabled": flag("a KEDA ScaledObject scales the consumer on its group's lag (autoscaling.enabled false)"),
        "crdCheck": BOOLEAN,
        "minReplicas": integer(1, description="the fewest consumers, lag or not"),
        "maxReplicas": integer(1, description="never above the topic's partitions (an idle consumer gets none)"),
        "lagThreshold": integer(1, description="records behind per replica that KEDA aims for"),
        "activationLagThreshold": integer(0, description="records behind before KEDA acts at all"),
        "pollingInterval": integer(1, description="seconds between KEDA's looks at the lag"),
        "cooldownPeriod": integer(0, description="seconds without lag before scaling to zero (minReplicas 0 only)"),
        "behavior": ANY_OBJECT,
    }
)

VOLUME: Final = {
    "size": {"type": "string", "pattern": QUANTITY_PATTERN, "description": "the claim's size"},
    "storageClass": string("the claim's StorageClass; empty: the cluster's default"),
    "accessModes": {
        "type": "array",
        "minItems": 1,
        "items": {"enum": ["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany", "ReadWriteOncePod"]},
        "description": "the claim's access modes",
    },
}
#: Grafana's claim can be left out; Valkey always has one per pod (no `enabled`).
PERSISTENCE: Final = obj({"enabled": flag("a PersistentVolumeClaim for the data; off: an emptyDir"), **VOLUME})
