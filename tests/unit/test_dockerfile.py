"""The Dockerfile, read statically: pinned base, multi-stage, non-root, only files that exist, lock-pinned installs."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
INSTRUCTIONS = [
    line.strip()
    for line in re.sub(r"\\\n\s*", " ", DOCKERFILE).splitlines()
    if line.strip() and not line.startswith("#")
]


def instructions(name: str) -> list[str]:
    return [line.split(None, 1)[1] for line in INSTRUCTIONS if line.split(None, 1)[0] == name]


def dockerignore_allows(path: str) -> bool:
    allowed = False
    for pattern in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/") or pattern == path:
            allowed = negate
    return allowed


def test_the_base_image_is_pinned_by_tag_and_overridable() -> None:
    [default] = [a for a in instructions("ARG") if a.startswith("PYTHON_IMAGE=")]
    image = default.split("=", 1)[1]
    tag = image.rsplit(":", 1)[1]
    assert re.match(r"^3\.11\.\d+-slim-\w+$", tag), f"pin the base to an exact version, not {tag!r}"
    assert instructions("FROM") == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]


def copied_sources() -> list[str]:
    """What the build stage copies from the build context."""
    sources = []
    for copy in instructions("COPY"):
        parts = copy.split()
        if any(p.startswith("--from") for p in parts):
            continue
        sources += parts[:-1]
    return sources


def test_every_copied_file_exists_and_passes_the_dockerignore() -> None:
    sources = copied_sources()
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert dockerignore_allows(source.rstrip("/")), f"COPY {source}: excluded by .dockerignore"


def test_the_final_stage_runs_as_a_non_root_user_with_a_command() -> None:
    final = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    user = re.search(r"^USER (\d+):(\d+)$", final, re.M)
    assert user is not None
    assert int(user.group(1)) >= 1000
    assert re.search(r'^CMD \["bf-api"\]$', final, re.M)
    assert "apt-get" not in final, "no package manager runs in the final image"
    assert "gcc" not in final, "no compilers in the final image"
    assert "COPY --from=build /opt/venv /opt/venv" in final


def test_dependencies_are_installed_from_the_lock() -> None:
    installs = [i for i in instructions("RUN") for part in i.split("&&") if "pip install" in part]
    assert installs
    for run in installs:
        for part in run.split("&&"):
            if "pip install" in part:
                assert "-c constraints.txt" in part, f"unpinned install: {part.strip()}"


def test_the_stubs_are_generated_by_the_build() -> None:
    assert any("scripts/gen-protos" in run for run in instructions("RUN"))
    assert not (Path(ROOT / "apps/blackfriday/pb").exists() and dockerignore_allows("apps/blackfriday/pb"))


def test_the_image_sources_build_the_product_alone(tmp_path: Path) -> None:
    """The image copies apps/ and not tools/: pip install . of what it copies must still build (pyproject.toml
    finds its packages in apps/ and tools/), and the wheel carries the product, none of the tooling."""
    context = tmp_path / "context"
    for source in copied_sources():
        target = context / source
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / source, target)
    assert not (context / "tools").exists()
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
    done = subprocess.run(
        [*pip, "--wheel-dir", str(tmp_path), str(context)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [wheel] = tmp_path.glob("black_friday-*.whl")
    packages = {name.split("/", 1)[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert "blackfriday" in packages
    assert not {name for name in packages if name.startswith("bftools")}, packages
