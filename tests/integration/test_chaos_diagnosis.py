"""What a failed fault run prints about where the stack stands (bftools.chaos.diagnosis), read from a real
broker and a real Valkey: each partition's log end, the group's committed offset and Valkey's applied offset,
and the group's members with the partitions each holds."""

from __future__ import annotations

import pytest
import valkey
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from bftools.chaos import diagnosis
from bftools.stack.kafka import KafkaBroker
from blackfriday import keys
from tests.integration.conftest import PARTITIONS

pytestmark = pytest.mark.integration


def test_the_diagnosis_names_each_partitions_end_commit_and_applied_offset_and_the_members(
    kafka: KafkaBroker, valkey_client: valkey.Valkey, topic: str
) -> None:
    group = f"group-{topic}"
    producer = KafkaProducer(**kafka.client_config())
    for _ in range(3):
        producer.send(topic, b"{}", partition=1)
    producer.flush()
    producer.close()
    member = KafkaConsumer(**kafka.client_config(), group_id=group, enable_auto_commit=False)
    member.subscribe([topic])
    try:
        while not member.assignment():
            member.poll(timeout_ms=200)
        member.commit({TopicPartition(topic, 1): OffsetAndMetadata(2, "", -1)})
        valkey_client.hset(keys.APPLIED_OFFSETS, f"{topic}/1", "1")

        lines = diagnosis.partitions(kafka.client_config(), valkey_client, topic, group, PARTITIONS)
    finally:
        member.close()

    assert lines[0] == f"group {group}: Stable, 1 members"
    assert lines[1].startswith("  member ")
    assert lines[1].endswith(f"{topic} [0, 1, 2, 3]")
    assert f"  {topic}/1: log end 3, committed 2, applied in Valkey 1" in lines
    assert f"  {topic}/0: log end 0, committed none, applied in Valkey none" in lines
