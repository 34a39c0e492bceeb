"""The local cluster's provisioner tells an unscheduled pod whose claims are bound, and tells it again while
it stays unscheduled (an update that reaches the scheduler mid-attempt may not bring the pod back: a
StatefulSet's install then waited five minutes for the scheduler's flush)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from bftools.cluster import provisioner


class FakeCore:
    """Pending unscheduled pods, each with one claim, bound; the patches made."""

    def __init__(self, pods: list[str]) -> None:
        self.pods = pods
        self.patches: list[tuple[str, str]] = []

    def list_pod_for_all_namespaces(self, **_: Any) -> Any:
        items = [
            SimpleNamespace(
                metadata=SimpleNamespace(name=name, namespace="ns", uid=f"uid-{name}", annotations={}),
                spec=SimpleNamespace(
                    volumes=[SimpleNamespace(persistent_volume_claim=SimpleNamespace(claim_name=f"data-{name}"))]
                ),
            )
            for name in self.pods
        ]
        return SimpleNamespace(items=items)

    def read_namespaced_persistent_volume_claim(self, name: str, namespace: str, **_: Any) -> Any:
        return SimpleNamespace(status=SimpleNamespace(phase="Bound"), spec=SimpleNamespace(volume_name=f"pv-{name}"))

    def patch_namespaced_pod(self, name: str, namespace: str, body: Any, **_: Any) -> None:
        self.patches.append((name, body["metadata"]["annotations"][provisioner.CLAIMS_BOUND]))


def test_an_unscheduled_pod_is_told_again_until_it_is_scheduled() -> None:
    core = FakeCore(["valkey-1"])
    told: dict[str, float] = {}
    assert provisioner.nudge(core, told, now=100.0) == ["ns/valkey-1"]  # type: ignore[arg-type]
    assert provisioner.nudge(core, told, now=102.0) == []  # type: ignore[arg-type]
    assert provisioner.nudge(core, told, now=100.0 + provisioner.NUDGE_AGAIN_SECONDS) == ["ns/valkey-1"]  # type: ignore[arg-type]
    assert [value for _, value in core.patches] == ["pv-data-valkey-1 at 100", "pv-data-valkey-1 at 105"]
    core.pods = []  # scheduled: no longer Pending without a node
    assert provisioner.nudge(core, told, now=200.0) == []  # type: ignore[arg-type]
    assert told == {}
