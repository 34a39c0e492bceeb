"""The parts of a failed fault run's diagnosis that read no server (bftools.chaos.diagnosis)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bftools.chaos import diagnosis


def test_members_name_the_partitions_each_holds_and_a_member_holding_nothing() -> None:
    described: list[dict[str, Any]] = [
        {
            "member_id": "m-1",
            "client_host": "/127.0.0.1",
            "member_assignment": {"assigned_partitions": [{"topic": "sales", "partitions": [0, 2]}]},
        },
        {"member_id": "m-2", "client_host": "/127.0.0.1", "member_assignment": ""},
    ]
    assert diagnosis.members(described) == ["m-1 (/127.0.0.1): sales [0, 2]", "m-2 (/127.0.0.1): nothing"]


def test_history_keeps_the_group_changes_and_the_services_warnings_only(tmp_path: Path) -> None:
    def line(logger: str, level: str, msg: str) -> str:
        return json.dumps({"ts": "T", "level": level, "logger": logger, "msg": msg})

    log = tmp_path / "consumer.log"
    log.write_text(
        "\n".join(
            [
                line("kafka.coordinator", "info", "Successfully joined group g"),
                line("kafka.net.connection", "error", "Connection lost"),
                line("blackfriday.consumer.loop", "info", "consumer loop stopped"),
                line("blackfriday.consumer.loop", "warning", "cannot apply the batch to Valkey, retrying"),
                "not json",
                line("kafka.coordinator.consumer", "info", "Setting newly assigned partitions"),
            ]
        )
    )
    assert diagnosis.history(log) == [
        "T info Successfully joined group g",
        "T warning cannot apply the batch to Valkey, retrying",
        "T info Setting newly assigned partitions",
    ]
    assert diagnosis.history(log, lines=1) == ["T info Setting newly assigned partitions"]
    assert diagnosis.history(tmp_path / "absent.log")[0].startswith("(no log: ")
