"""The local one-node Kubernetes of `make cluster-up`: built by `scripts/setup k8s`, run by
`python -m bftools.cluster up|down|status`, all of it inside one network namespace.

    from bftools.cluster import Cluster
    info, already_running = Cluster().up()   # ClusterInfo: kubeconfig, registry, kafka_bootstrap, ...
    with Cluster().api() as api: ...         # a kubernetes ApiClient (admin)
    ns_run(["curl", "-s", "http://10.96.0.10:9153/metrics"])   # a command inside the namespace
    Cluster().down()
"""

from bftools.cluster.cluster import Cluster, ClusterInfo, Status
from bftools.cluster.config import ClusterError, MissingPrerequisite
from bftools.cluster.shell import in_netns, ns_run

__all__ = ["Cluster", "ClusterError", "ClusterInfo", "MissingPrerequisite", "Status", "in_netns", "ns_run"]
