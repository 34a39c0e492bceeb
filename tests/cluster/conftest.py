"""The local one-node Kubernetes for the tests: started once per session (or the one `make cluster-up`
started, reused and left running), stopped at the end if the session started it.

A missing prerequisite (a binary not built, a tool not installed, not root) fails the tests with the
reason; the only skip is Strimzi mode's, in a clone without ../shared (its CRDs). The chart's releases are
fixtures too (below), so that no test depends on another having run before it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client

from bftools.cluster import Cluster, ClusterError, ClusterInfo, broker
from bftools.cluster import release as chart
from tests.cluster.releases import (
    ADMITTED,
    CRDS,
    NAMESPACE,
    PROD_NAMESPACE,
    RELEASE,
    STRIMZI_NAMESPACE,
    Objects,
    Releases,
    admission_namespace,
    install_keda_crds,
    install_monitoring_crds,
    install_strimzi_crds,
    installed,
    ok,
    revision,
    room_made,
    start_helm,
)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook, which reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist, every cluster test runs on one worker (there is one cluster)."""
    for item in items:
        if item.get_closest_marker("cluster"):
            item.add_marker(pytest.mark.xdist_group("cluster"))


# After every other reordering (pytest-random-order shuffles the tests in its own hook), whatever the order:
# the cluster's tests, those that stop it right after the last one that uses it, then the other slow tests,
# then the rest, each block in its shuffled order. pytest-xdist hands out the largest group first (the
# cluster's) and the single tests in this order: the slow ones start early, so that the run does not end
# waiting for a two-minute test that a shuffle put last.
@pytest.hookimpl(specname="pytest_collection_modifyitems", trylast=True)
def pytest_collection_modifyitems_cluster_first(items: list[pytest.Item]) -> None:
    """The cluster's tests, then those that stop it, then the other slow tests, then the rest."""
    teardown = [item for item in items if item.get_closest_marker("cluster_teardown")]
    users = [item for item in items if item.get_closest_marker("cluster") and item not in teardown]
    others = [item for item in items if not item.get_closest_marker("cluster")]
    slow = [item for item in others if item.get_closest_marker("slow")]
    rest = [item for item in others if not item.get_closest_marker("slow")]
    items[:] = users + teardown + slow + rest


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


# ---- the chart's releases (tests/cluster/test_release_*.py, test_admission.py) --------------------------------
# Each test gets the release it needs installed through a fixture, whatever ran before it: a test that
# uninstalls one leaves the next test that needs it a fresh install.


@pytest.fixture(scope="session")
def releases(cluster_session: Session) -> Iterator[Releases]:
    """The session's releases of the chart. The cluster must have none of their namespaces and no other
    release of the chart (whose consumer would share the broker's consumer group and topic); the README's
    install starts at once, in the background (the Strimzi-mode releases are checked meanwhile). At the end,
    everything the session installed or created is removed, if the cluster it went on still runs."""
    info = cluster_session.ensure()
    with cluster_session.cluster.api() as api:
        core = client.CoreV1Api(api)
        ours = (NAMESPACE, PROD_NAMESPACE, STRIMZI_NAMESPACE)
        room_made(core)  # a previous session's namespaces may still be terminating on a reused cluster
        taken = [n for n in ours if chart.namespace_exists(core, n)]
        if taken or chart.chart_consumers(api):
            pytest.fail(
                f"the cluster already has the namespaces {taken} or a release of the chart "
                f"({chart.chart_consumers(api)}), whose consumer would share the broker's consumer group: "
                "uninstall it, or make cluster-down for a fresh cluster"
            )
        session = Releases(info, api, Objects(api), [p.pid for p in cluster_session.cluster.procs()])
        broker.apply_client_secret(api, NAMESPACE)  # the services' Kafka logins, as the README says
        session.first_install = start_helm(
            info,
            "helm install (the README's)",
            "install",
            *chart.readme_install(RELEASE, NAMESPACE, info.values_file),
            "--wait",
            "--timeout",
            "4m",
        )
        try:
            yield session
        finally:
            if session.on(cluster_session.cluster):
                session.remove()


@pytest.fixture
def readme(releases: Releases) -> Releases:
    """The README's release (`bf` in black-friday: values/dev.yaml and the cluster's values), installed and
    ready: the session's first install must have succeeded, and a release uninstalled since is installed
    again the README's way."""
    assert releases.first_install is not None
    releases.first_install.succeeded()
    kubeconfig = releases.info.kubeconfig
    if not installed(kubeconfig, RELEASE, NAMESPACE):
        room_made(client.CoreV1Api(releases.api))
        broker.apply_client_secret(releases.api, NAMESPACE)  # gone with the namespace, if a test deleted it
        args = chart.readme_install(RELEASE, NAMESPACE, releases.info.values_file)
        ok(releases.helm("install", *args, "--wait", "--timeout", "4m"), "the README's helm install")
    assert revision(kubeconfig, RELEASE, NAMESPACE)[1] == "deployed"
    return releases


@pytest.fixture(scope="session")
def strimzi(releases: Releases, tmp_path_factory: pytest.TempPathFactory) -> Releases:
    """Strimzi mode's prerequisites: the Strimzi 1.2 CRDs of ../shared (its operator cannot run here) and the
    namespace the values put Kafka in; KEDA's CRDs (values/prod.yaml scales the consumer on lag)."""
    if not CRDS.is_dir():
        pytest.skip(f"{CRDS} is absent (only the project's CI workspace has ../shared): Strimzi mode not checked")
    install_strimzi_crds(releases, tmp_path_factory.mktemp("crds"))
    install_keda_crds(releases)
    return releases


@pytest.fixture
def admitted(strimzi: Releases) -> Releases:
    """values/prod.yaml (release bf, with monitoring on: the Prometheus Operator's CRDs installed) and
    values/dev.yaml in Strimzi mode (release bf-dev, Grafana on) installed,
    each in a namespace of its own where the restricted Pod Security Standard is enforced and no pod may
    start (they would not fit on 2 cores: admission is what they prove), both with Kafka in the namespace
    "kafka". Either one missing (a test uninstalled it) is installed again; both install at once."""
    install_monitoring_crds(strimzi)
    missing = [(r, n, v, f) for r, n, v, f in ADMITTED if not installed(strimzi.info.kubeconfig, r, n)]
    for _, namespace, _, _ in missing:
        admission_namespace(strimzi.api, namespace)
    installs = {}
    for release, namespace, values, flags in missing:
        args = ["install", release, str(chart.CHART), "-n", namespace, "-f", str(chart.VALUES / values), *flags]
        installs[namespace] = start_helm(
            strimzi.info, f"helm install values/{values} ({release} in {namespace})", *args
        )
    for namespace, install in installs.items():
        install.succeeded()
        strimzi.notes[namespace] = install.done()[2]
    return strimzi
