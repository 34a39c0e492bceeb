"""Who may do what on the local brokers: the SCRAM users and their ACLs (Kafka's StandardAuthorizer).

Three users: ``admin`` (a super user: the tooling's topics, users and ACLs, chaos, bench, soak, lag
checks), ``writer`` and ``consumer``, each allowed only what its service does on its pipeline's topics:

- writer: Write and Describe on the sales topic, IdempotentWrite on the cluster;
- consumer: Read and Describe on the sales topic and Read on its group, Write and Describe on the
  dead-letter topic.

Anything else is refused (no ACL, no access): the writer cannot read the sales, the consumer cannot write
one. The chart's KafkaUsers carry the same ACLs (charts/black-friday/charts/kafka/templates/kafkauser.yaml).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

ADMIN: Final = "admin"
WRITER: Final = "writer"
CONSUMER: Final = "consumer"
USERS: Final = (ADMIN, WRITER, CONSUMER)
#: The services' users (the admin is the tooling's).
SERVICE_USERS: Final = (WRITER, CONSUMER)
MECHANISM: Final = "SCRAM-SHA-512"
CLUSTER: Final = "kafka-cluster"


class AccessError(RuntimeError):
    """The broker did not take a user or an ACL."""


@dataclass(frozen=True)
class Grant:
    """One allowed operation of a user on a resource (a literal name)."""

    user: str
    resource: ResourceType
    name: str
    operation: ACLOperation

    def acl(self) -> ACL:
        pattern = ResourcePattern(self.resource, self.name, ACLResourcePatternType.LITERAL)
        return ACL(f"User:{self.user}", "*", self.operation, ACLPermissionType.ALLOW, pattern)


def pipeline_grants(topic: str, group: str, dead_letter_topic: str) -> list[Grant]:
    """The writer's and the consumer's rights on one pipeline's topics and group."""
    topic_type, group_type = ResourceType.TOPIC, ResourceType.GROUP
    return [
        Grant(WRITER, topic_type, topic, ACLOperation.WRITE),
        Grant(WRITER, topic_type, topic, ACLOperation.DESCRIBE),
        Grant(WRITER, ResourceType.CLUSTER, CLUSTER, ACLOperation.IDEMPOTENT_WRITE),
        Grant(CONSUMER, topic_type, topic, ACLOperation.READ),
        Grant(CONSUMER, topic_type, topic, ACLOperation.DESCRIBE),
        Grant(CONSUMER, group_type, group, ACLOperation.READ),
        Grant(CONSUMER, topic_type, dead_letter_topic, ACLOperation.WRITE),
        Grant(CONSUMER, topic_type, dead_letter_topic, ACLOperation.DESCRIBE),
    ]


def _admin(config: Mapping[str, Any]) -> KafkaAdminClient:
    return KafkaAdminClient(client_id="bf-admin", request_timeout_ms=20000, **config)


def ensure_users(config: Mapping[str, Any], passwords: Mapping[str, str], timeout: float = 30.0) -> None:
    """SCRAM-SHA-512 credentials for every user of ``passwords`` (set again: the same password each start),
    and wait until the broker knows them all (a login right after succeeds)."""
    admin = _admin(config)
    try:
        upserts = [UserScramCredentialUpsertion(user, MECHANISM, pw) for user, pw in passwords.items()]
        errors = {user: error for user, error in admin.alter_user_scram_credentials(upserts).items() if error}
        if errors:
            raise AccessError(f"the broker refused the SCRAM credentials: {errors}")
        deadline = time.monotonic() + timeout
        while True:
            described = admin.describe_user_scram_credentials(list(passwords))
            if all(
                any(
                    info["mechanism"] == ScramMechanism.SCRAM_SHA_512
                    for info in described.get(u, {}).get("credential_infos", [])
                )
                for u in passwords
            ):
                return
            if time.monotonic() > deadline:
                raise AccessError(f"the broker does not list the users {sorted(passwords)} after {timeout:.0f}s")
            time.sleep(0.1)  # polling the broker's metadata, not waiting for time
    finally:
        admin.close()


def _has_scram(described: Mapping[str, Any]) -> bool:
    return any(info["mechanism"] == ScramMechanism.SCRAM_SHA_512 for info in described.get("credential_infos", []))


def grant(config: Mapping[str, Any], grants: list[Grant], timeout: float = 30.0) -> None:
    """Create the ACLs and wait until the broker's authorizer has them all."""
    admin = _admin(config)
    try:
        result = admin.create_acls([g.acl() for g in grants])
        if result["failed"]:
            raise AccessError(f"the broker refused ACLs: {result['failed']}")
        wanted = {(g.user, int(g.resource), g.name, int(g.operation)) for g in grants}
        everything = ACLFilter(
            None,
            None,
            ACLOperation.ANY,
            ACLPermissionType.ANY,
            ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
        )
        deadline = time.monotonic() + timeout
        while True:
            acls, _error = admin.describe_acls(everything)
            present = {
                (
                    acl.principal.removeprefix("User:"),
                    int(acl.resource_pattern.resource_type),
                    acl.resource_pattern.resource_name,
                    int(acl.operation),
                )
                for acl in acls
            }
            if wanted <= present:
                return
            if time.monotonic() > deadline:
                raise AccessError(f"the broker's authorizer lacks {sorted(wanted - present)} after {timeout:.0f}s")
            time.sleep(0.1)  # polling the broker's metadata, not waiting for time
    finally:
        admin.close()
