"""The local one-node Kubernetes for the tests: started once per session (or the one `make cluster-up`
started, reused and left running), stopped at the end if the session started it.

A missing prerequisite (a binary not built, a tool not installed, not root) fails the tests with the
reason; nothing here skips.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client

from bftools.cluster import Cluster, ClusterError, ClusterInfo


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook, which reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that stop the cluster run right after the last other test that uses it (so the cluster does
    not idle beside the suites that follow). Under pytest-xdist, every cluster test runs on one worker, in
    this order (there is one cluster)."""
    for item in items:
        if item.get_closest_marker("cluster"):
            item.add_marker(pytest.mark.xdist_group("cluster"))
    teardown = [item for item in items if item.get_closest_marker("cluster_teardown")]
    rest = [item for item in items if not item.get_closest_marker("cluster_teardown")]
    users = [n for n, item in enumerate(rest) if item.get_closest_marker("cluster")]
    cut = users[-1] + 1 if users else len(rest)
    items[:] = rest[:cut] + teardown + rest[cut:]


class Session:
    """The session's cluster: who started it, and a way to (re)start it."""

    def __init__(self) -> None:
        self.cluster = Cluster()
        self.reused = False
        self.started = False

    def ensure(self) -> ClusterInfo:
        if os.geteuid() != 0:
            pytest.fail("the cluster tests must run as root (network namespaces, mounts, cgroups)")
        try:
            info, already = self.cluster.up()
        except ClusterError as exc:
            pytest.fail(f"the local cluster did not start: {exc}")
        if already and not self.started:
            self.reused = True
        self.started = self.started or not already
        return info


@pytest.fixture(scope="session")
def cluster_session() -> Iterator[Session]:
    session = Session()
    yield session
    if session.started and not session.reused:
        session.cluster.down()


@pytest.fixture
def cluster(cluster_session: Session) -> ClusterInfo:
    """The running cluster's info (started on first use)."""
    return cluster_session.ensure()


@pytest.fixture
def api(cluster: ClusterInfo, cluster_session: Session) -> Iterator[client.ApiClient]:
    with cluster_session.cluster.api() as api_client:
        yield api_client


@pytest.fixture
def namespace(api: client.ApiClient) -> Iterator[str]:
    """A namespace of its own for the test, deleted afterwards."""
    name = f"bf-test-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)), _request_timeout=10)
    yield name
    core.delete_namespace(name, _request_timeout=10)
