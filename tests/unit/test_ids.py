"""Sale ids are RFC 9562 UUIDv7: unique, and ordered by their millisecond."""

from __future__ import annotations

import uuid

from blackfriday.ids import new_sale_id


def test_ids_are_uuid7_unique_and_time_ordered() -> None:
    ids = [new_sale_id(now_ms=1_700_000_000_000 + i) for i in range(1000)]
    assert len(set(ids)) == 1000
    assert ids == sorted(ids)
    assert all(str(uuid.UUID(i)) == i for i in ids)  # the canonical text form
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert int(parsed.hex[:12], 16) == 1_700_000_000_000
