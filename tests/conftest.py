"""Shared test set-up: where the repository and ../shared are."""

from __future__ import annotations

from pathlib import Path

import pytest

from bftools.runtime.process import die_with_this_process

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def pytest_configure(config: pytest.Config) -> None:
    """Brokers and servers a test starts die with the test run, even one killed before its clean-up."""
    die_with_this_process()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (CRDs, schemas); tests that need it skip with a clear message in a user's own clone."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (only the project's CI workspace has it): skipping its validation")
    return SHARED
