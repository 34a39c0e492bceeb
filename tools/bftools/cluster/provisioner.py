"""python -m bftools.cluster.provisioner --state DIR: the hostPath provisioner of the local cluster's default
StorageClass. Every second it

- gives each Pending claim of the class a PersistentVolume (a directory under DIR/run/volumes, pre-bound
  to the claim through its claimRef), and
- deletes the directory and the volume of every volume it made that was Released (its claim deleted),
  as the class's reclaimPolicy Delete asks;
- tells a pod that the scheduler put aside for an unbound claim that its claims are bound now (an
  annotation): the scheduler retries it at once instead of at its five-minute flush of unschedulable pods
  (a StatefulSet's pod is created with its claim, so it often meets the claim before its volume).

Polling (not a watch) keeps it simple and unstuck: a claim deleted while a volume was being made, a
volume already gone, an apiserver restarting are all just the next round's state.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from bftools.cluster.config import NODE_NAME, PROVISIONER_NAME, STORAGE_CLASS, Layout
from bftools.cluster.kube import UNREACHABLE, api_client

log = logging.getLogger("provisioner")
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
#: Set on a pod waiting to be scheduled once its claims are bound: the pod update makes the scheduler retry it.
CLAIMS_BOUND = "black-friday.local/claims-bound"


def _volume(claim: client.V1PersistentVolumeClaim, path: Path) -> client.V1PersistentVolume:
    meta = claim.metadata
    spec = claim.spec
    assert meta is not None
    assert spec is not None
    requests = spec.resources.requests if spec.resources and spec.resources.requests else {}
    volume = client.V1PersistentVolume.from_dict(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": path.name, "annotations": {PROVISIONED_BY: PROVISIONER_NAME}},
            "spec": {
                "capacity": {"storage": str(requests.get("storage", "1Gi"))},
                "accessModes": list(spec.access_modes or ["ReadWriteOnce"]),
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": STORAGE_CLASS,
                "volumeMode": spec.volume_mode or "Filesystem",
                "hostPath": {"path": str(path), "type": "Directory"},
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "namespace": meta.namespace,
                    "name": meta.name,
                    "uid": meta.uid,
                },
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [NODE_NAME]}
                                ]
                            }
                        ]
                    }
                },
            },
        }
    )
    assert volume is not None
    return volume


def provision(core: client.CoreV1Api, root: Path) -> list[str]:
    """Volumes for the class's pending claims; the names of the volumes made."""
    made = []
    for claim in core.list_persistent_volume_claim_for_all_namespaces(_request_timeout=10).items:
        meta, spec, status = claim.metadata, claim.spec, claim.status
        if meta is None or spec is None or meta.deletion_timestamp is not None or spec.volume_name:
            continue
        if spec.storage_class_name != STORAGE_CLASS or (status is not None and status.phase != "Pending"):
            continue
        path = root / f"pvc-{meta.uid}"
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o777)  # hostPath ignores fsGroup: any pod user may write its volume
        try:
            core.create_persistent_volume(_volume(claim, path), _request_timeout=10)
        except ApiException as exc:
            if exc.status != 409:  # 409: made in an earlier round, not bound yet
                raise
            continue
        made.append(path.name)
        log.info("provisioned %s for %s/%s", path.name, meta.namespace, meta.name)
    return made


def nudge(core: client.CoreV1Api) -> list[str]:
    """Annotate each unscheduled pod whose claims are all bound (once per set of volumes); the pods."""
    nudged = []
    pods = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=,status.phase=Pending", _request_timeout=10)
    for pod in pods.items:
        meta, spec = pod.metadata, pod.spec
        if meta is None or spec is None or meta.name is None or meta.namespace is None:
            continue
        claims = [v.persistent_volume_claim.claim_name for v in spec.volumes or [] if v.persistent_volume_claim]
        if not claims:
            continue
        volumes = []
        for name in claims:
            claim = core.read_namespaced_persistent_volume_claim(name, meta.namespace, _request_timeout=10)
            if claim.status is None or claim.status.phase != "Bound" or claim.spec is None:
                break
            volumes.append(str(claim.spec.volume_name))
        else:
            bound = ",".join(sorted(volumes))
            if (meta.annotations or {}).get(CLAIMS_BOUND) != bound:
                patch = {"metadata": {"annotations": {CLAIMS_BOUND: bound}}}
                core.patch_namespaced_pod(meta.name, meta.namespace, patch, _request_timeout=10)
                nudged.append(f"{meta.namespace}/{meta.name}")
                log.info("told %s/%s its claims are bound", meta.namespace, meta.name)
    return nudged


def reclaim(core: client.CoreV1Api, root: Path) -> list[str]:
    """Delete the released volumes this provisioner made, with their directories; their names."""
    deleted = []
    for volume in core.list_persistent_volume(_request_timeout=10).items:
        meta, spec, status = volume.metadata, volume.spec, volume.status
        if meta is None or spec is None or meta.name is None:
            continue
        if (meta.annotations or {}).get(PROVISIONED_BY) != PROVISIONER_NAME:
            continue
        if status is None or status.phase not in ("Released", "Failed"):
            continue
        if spec.persistent_volume_reclaim_policy != "Delete":
            continue
        path = Path(spec.host_path.path) if spec.host_path else None
        if path is not None and path.parent == root:
            shutil.rmtree(path, ignore_errors=True)
        try:
            core.delete_persistent_volume(meta.name, _request_timeout=10)
        except ApiException as exc:
            if exc.status != 404:
                raise
        deleted.append(meta.name)
        log.info("deleted %s (its claim is gone)", meta.name)
    return deleted


def serve(layout: Layout, stop: threading.Event, interval: float = 1.0) -> None:
    root = layout.volumes
    root.mkdir(parents=True, exist_ok=True)
    with api_client(layout) as api:
        core = client.CoreV1Api(api)
        while not stop.is_set():
            try:
                provision(core, root)
                nudge(core)
                reclaim(core, root)
            except UNREACHABLE as exc:
                log.warning("round failed, retrying: %s", str(exc).splitlines()[0] if str(exc) else exc)
            stop.wait(interval)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bftools.cluster.provisioner", description=__doc__)
    parser.add_argument("--state", type=Path, required=True, help="the cluster's state directory")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    default = Layout.default()
    serve(Layout(state=args.state.resolve(), bin=default.bin, cache=default.cache), stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
