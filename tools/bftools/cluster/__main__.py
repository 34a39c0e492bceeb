"""python -m bftools.cluster {up,down,status,report,load,lag,chaos,kafka-secret}: the local one-node
Kubernetes behind `make cluster-up`, `make cluster-down`, `make cluster-status`, `make cluster-report`, `make
cluster-load`, `make cluster-lag` and `make cluster-chaos`; kafka-secret puts the services' Kafka logins into a
release's namespace before its install."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bftools.cluster import broker, chaos, lag, release
from bftools.cluster.cluster import Cluster, ClusterInfo, Status
from bftools.cluster.config import NETNS, ClusterError
from bftools.cluster.load import Experiment
from bftools.cluster.load import run as run_experiment
from bftools.runtime.docs import write_section
from bftools.runtime.paths import ROOT
from bftools.runtime.process import NotReady


def say(message: str) -> None:
    print(f"cluster: {message}", flush=True)


def usage(info: ClusterInfo) -> str:
    return "\n".join(
        [
            f"  kubeconfig  export KUBECONFIG={info.kubeconfig}",
            f"  apiserver   https://{info.node_ip}:6443   (node {info.node_name}, namespace {info.netns})",
            f"  registry    {info.registry}   (plain HTTP: skopeo/buildah --tls-verify=false; pods pull from it)",
            f"  image       {info.app_image}",
            f"  kafka       {info.kafka_bootstrap}   (SASL_SSL, from the host and from the pods; topics",
            f"              {info.kafka_topic}, {info.kafka_dead_letter_topic})",
            f"  values      {info.values_file}",
            "  secret      python -m bftools.cluster kafka-secret -n black-friday   (the services' Kafka logins)",
            "  install     helm install bf charts/black-friday -n black-friday --create-namespace \\",
            f"                -f values/dev.yaml -f {info.values_file}",
            f"  NodePort    curl http://{info.node_ip}:<nodePort>/...   (from the host, through the veth)",
            f"  ClusterIP   ip netns exec {info.netns} curl http://<cluster-ip>:<port>/...   (inside the namespace)",
            "Stop it with: make cluster-down",
        ]
    )


def show_status(status: Status) -> int:
    """Print the status; 0 when the cluster runs or is cleanly stopped, 1 when something is dead or left."""
    if not status.procs and status.host.clean:
        print("not running")
        return 0
    for proc in status.procs:
        print(f"{proc.name:<24} pid {proc.pid:<8} {'running' if proc.alive else 'DEAD'}  {proc.log}")
    host = status.host
    if status.owner and status.info is None and not status.procs:
        print(f"{'owner':<24} the cluster running here is the one of {status.owner}")
        return 0
    print(
        f"{'network':<24} namespace {NETNS} {'present' if host.netns else 'absent'}, veth "
        f"{'up' if host.veth else 'absent'}, blackhole routes {', '.join(host.blackholes) or 'none'}, "
        f"FORWARD rules {host.rules}"
    )
    if status.node_ready is not None:
        print(f"{'node':<24} {'Ready' if status.node_ready else 'NOT ready'}")
    for problem in status.problems:
        print(f"{'problem':<24} {problem}")
    if status.info is not None and status.running:
        print(usage(status.info))
        return 0
    dead = [p.name for p in status.procs if not p.alive]
    if dead:
        print(f"dead: {', '.join(dead)} (make cluster-up cleans up and starts again; make cluster-down stops)")
    elif not status.procs:
        print("no process recorded, but the host still has the cluster's network set-up: make cluster-down")
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bftools.cluster", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the local cluster (or say it runs)")
    sub.add_parser("down", help="stop everything `up` started and remove its network set-up")
    sub.add_parser("status", help="show what runs and what is dead")
    report = sub.add_parser("report", help="print a release's dashboard figures as JSON, read from its Valkey")
    report.add_argument("--release", default="bf", help="the helm release (default bf)")
    report.add_argument("-n", "--namespace", default="black-friday", help="its namespace (default black-friday)")
    load = sub.add_parser("load", help="the HPA experiment: Locust against a release's api, replicas and CPU to docs/")
    defaults = Experiment()
    load.add_argument("--users", type=int, default=defaults.users, help=f"Locust users (default {defaults.users})")
    load.add_argument(
        "--spawn-rate",
        type=float,
        default=defaults.spawn_rate,
        help=f"users started per second (default {defaults.spawn_rate:g})",
    )
    load.add_argument(
        "--seconds", type=int, default=defaults.seconds, help=f"how long Locust runs (default {defaults.seconds})"
    )
    load.add_argument(
        "--cooldown",
        type=int,
        default=defaults.cooldown,
        help=f"at most this long for the scale-down (default {defaults.cooldown})",
    )
    load.add_argument(
        "--interval",
        type=float,
        default=defaults.interval,
        help=f"seconds between samples (default {defaults.interval:g})",
    )
    load.add_argument(
        "--out", type=Path, default=defaults.out, help="CSV and PNG path without suffix (default docs/cluster-load)"
    )
    load.add_argument("--write-doc", action="store_true", help="write the summary into docs/local-cluster.md")
    burst = sub.add_parser("lag", help="KEDA scales the consumer on its lag during a burst of sales (docs/)")
    lag_defaults = lag.Experiment()
    burst.add_argument(
        "--sales", type=int, default=lag_defaults.sales, help=f"sales in the burst (default {lag_defaults.sales})"
    )
    burst.add_argument(
        "--rate", type=int, default=lag_defaults.rate, help=f"sales produced a second (default {lag_defaults.rate})"
    )
    burst.add_argument(
        "--cooldown",
        type=int,
        default=lag_defaults.cooldown,
        help=f"at most this long after the burst for the drain and the scale-down (default {lag_defaults.cooldown})",
    )
    burst.add_argument("--out", type=Path, default=lag_defaults.out, help="CSV and PNG path without suffix")
    burst.add_argument("--write-doc", action="store_true", help="write the summary into docs/local-cluster.md")
    faults = sub.add_parser("chaos", help="the operators' fault matrix under load on a release (docs/reliability.md)")
    faults.add_argument("--short", action="store_true", help="the rows make test runs")
    faults.add_argument("--rate", type=float, default=chaos.Plan().rate, help="sales offered a second (default 40)")
    faults.add_argument("--write-doc", action="store_true", help="write the table into docs/reliability.md")
    secret = sub.add_parser(
        "kafka-secret",
        help=f"the Secret {broker.KAFKA_SECRET} (the writer's and consumer's Kafka logins, the broker's CA) in a "
        "namespace, which the cluster's values file names: run it before a release's install",
    )
    secret.add_argument("-n", "--namespace", default="black-friday", help="the release's (default black-friday)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print(f"cluster {args.command}: must run as root (network namespaces, mounts, cgroups)", file=sys.stderr)
        return 1
    cluster = Cluster(say=say)
    try:
        if args.command == "up":
            info, already = cluster.up()
            print("the local cluster is already running:" if already else "the local cluster is up:")
            print(usage(info))
        elif args.command == "down":
            started = time.monotonic()
            stopped = cluster.down()
            if stopped:
                print(f"stopped: {', '.join(stopped)} ({time.monotonic() - started:.0f}s)")
            else:
                print("nothing was running")
        elif args.command == "load":
            plan = Experiment(args.users, args.spawn_rate, args.seconds, args.cooldown, args.interval, args.out)
            doc = ROOT / "docs" / "local-cluster.md"
            write = (lambda text: write_section(doc, "cluster-load", text)) if args.write_doc else None
            outcome = run_experiment(plan, say, write)
            return 0 if outcome.back_to_min_after is not None and outcome.peak_replicas > 1 else 1
        elif args.command == "lag":
            trial = lag.Experiment(args.sales, args.rate, args.cooldown, lag_defaults.interval, args.out)
            doc = ROOT / "docs" / "local-cluster.md"
            write = (lambda text: write_section(doc, "cluster-lag", text)) if args.write_doc else None
            done = lag.run(trial, say, write)
            return 0 if done.exact and done.peak_replicas > 1 and done.back_to_min_after is not None else 1
        elif args.command == "chaos":
            matrix = chaos.Plan(rate=args.rate, short=args.short)
            doc = ROOT / "docs" / "reliability.md"
            write = (lambda text: write_section(doc, "cluster-chaos", text)) if args.write_doc else None
            return chaos.main(matrix, list(argv if argv is not None else sys.argv[1:]), say, write)
        elif args.command == "kafka-secret":
            if not cluster.running():
                raise ClusterError("the local cluster is not running: make cluster-up")
            with cluster.api() as api:
                broker.apply_client_secret(api, args.namespace, cluster.layout)
            print(f"the Secret {args.namespace}/{broker.KAFKA_SECRET} holds the services' Kafka logins and CA")
        elif args.command == "report":
            if not cluster.running():
                raise ClusterError("the local cluster is not running: make cluster-up")
            with cluster.api() as api:
                print(json.dumps(release.report(api, args.namespace, args.release), ensure_ascii=False))
        else:
            return show_status(cluster.status())
    except (ClusterError, NotReady) as exc:
        print(f"cluster {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args.command == "up":
            cluster.down()
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
