"""Sale ids: UUIDv7 (RFC 9562), time-ordered so that ids sort roughly by acceptance time."""

from __future__ import annotations

import os
import time


def new_sale_id(now_ms: int | None = None) -> str:
    """A fresh UUIDv7 string: 48 bits of Unix milliseconds, then 74 random bits."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a: 12 bits
    value |= 0b10 << 62  # RFC 9562 variant
    value |= rand & ((1 << 62) - 1)  # rand_b: 62 bits
    text = f"{value:032x}"  # what str(uuid.UUID(int=value)) writes, without building the object
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000
