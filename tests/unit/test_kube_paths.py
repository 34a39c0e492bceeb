"""The harness's raw API paths: every kind it applies has its resource, and any other is a clear error."""

from __future__ import annotations

import pytest

from bftools.cluster.config import ClusterError
from bftools.cluster.kube import resource_path


def test_a_secret_in_a_namespace_has_its_core_path() -> None:
    """The services' Kafka logins (broker.client_secret) are a Secret applied before every install."""
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bf-kafka-credentials", "namespace": "bf"}}
    assert resource_path(secret) == "/api/v1/namespaces/bf/secrets/bf-kafka-credentials"


def test_a_cluster_scoped_kind_of_a_group_has_its_group_path() -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "x.y"}}
    assert resource_path(crd) == "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x.y"


def test_an_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(ClusterError, match="cannot apply a Widget"):
        resource_path({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
