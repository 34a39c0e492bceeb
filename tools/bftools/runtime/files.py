"""Files that hold secrets: passwords, keys and the configurations that carry them."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, content: bytes | str) -> None:
    """Write a file only its owner can read (created so: never readable by others, even for a moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    path.chmod(0o600)
