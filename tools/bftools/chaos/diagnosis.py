"""What a failed fault run prints besides its table, so that a failure seen once (in CI, say) can be
understood from its output alone: where each partition of the sales topic stands (Kafka's log end, the
group's committed offset, Valkey's applied offset), the group's members and the partitions each holds, and
the consumers' group history from their logs (joins, assignments, revocations, warnings)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import valkey
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from blackfriday import keys
from blackfriday.consumer.store import partition_name

#: Log lines kept per consumer: its group's history, and every warning or error of its own code.
HISTORY_LINES: Final = 25


def partitions(login: Mapping[str, Any], reader: valkey.Valkey, topic: str, group: str, count: int) -> list[str]:
    """One line per partition: Kafka's log end, the group's committed offset, Valkey's applied offset."""
    tps = [TopicPartition(topic, p) for p in range(count)]
    ends = KafkaConsumer(**login, client_id="bf-chaos-diagnosis")
    admin = KafkaAdminClient(**login, client_id="bf-chaos-diagnosis")
    try:
        end = ends.end_offsets(tps)
        committed = admin.list_group_offsets(group).get(group, {})
        described = admin.describe_groups([group]).get(group, {})
    finally:
        ends.close()
        admin.close()
    raw: dict[bytes, bytes] = reader.hgetall(keys.APPLIED_OFFSETS)  # type: ignore[assignment]
    applied = {name.decode(): int(offset) for name, offset in raw.items()}
    lines = [f"group {group}: {described.get('group_state', '?')}, {len(described.get('members', []))} members"]
    lines += [f"  member {line}" for line in members(described.get("members", []))]
    for tp in tps:
        done = committed.get(tp)
        lines.append(
            f"  {tp.topic}/{tp.partition}: log end {end.get(tp)}, committed "
            f"{done.offset if done is not None else 'none'}, applied in Valkey "
            f"{applied.get(partition_name(tp.topic, tp.partition), 'none')}"
        )
    return lines


def members(described: Iterable[Mapping[str, Any]]) -> list[str]:
    """``<member id> (<client host>): <topic> [partitions]`` for each member of a described group."""
    lines = []
    for member in described:
        assignment = member.get("member_assignment") or {}
        held = (
            "; ".join(f"{a['topic']} {a['partitions']}" for a in assignment.get("assigned_partitions", []))
            if isinstance(assignment, Mapping)
            else ""
        )
        lines.append(f"{member.get('member_id')} ({member.get('client_host')}): {held or 'nothing'}")
    return lines


def history(log: Path, lines: int = HISTORY_LINES) -> list[str]:
    """The consumer's group history and its own warnings, from its JSON log: the last ``lines``."""
    try:
        text = log.read_text(errors="replace")
    except OSError as exc:
        return [f"(no log: {exc})"]
    kept = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        logger, level = str(entry.get("logger", "")), str(entry.get("level", ""))
        if logger.startswith("kafka.coordinator") or (
            logger.startswith(("blackfriday", "__main__")) and level in ("warning", "error", "critical")
        ):
            kept.append(f"{entry.get('ts', '')} {level} {entry.get('msg', '')}"[:300])
    return kept[-lines:]
