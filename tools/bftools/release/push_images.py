"""scripts/push-images: build the project's image, push it, every image the chart uses and the chart itself to
one registry.

    scripts/push-images --registry 172.31.32.68:5000 --insecure [--tag TAG] [--builder buildah] [--dry-run]

1. builds the image from the Dockerfile with the first builder found (docker buildx, podman, buildah) or
   the one chosen, into an OCI archive;
2. pushes it to REGISTRY/black-friday:TAG, and mirrors the chart's third-party images (Valkey, Grafana,
   oras) to REGISTRY/<their repository>:<their tag>, both with skopeo (one copy function);
3. pushes the load generator's catalog as an OCI artifact (REGISTRY/bf-catalog:TAG) and, when given the
   redis-datasource plugin zip, the plugin as an artifact Grafana's init container pulls with oras;
4. packages the chart (helm package, the version of its Chart.yaml) and pushes it as an OCI artifact to
   oci://REGISTRY/charts/black-friday:VERSION (helm push);
5. prints the helm commands to install from the registry: the chart from the clone, or from the registry.

Every failure exits 1 with one line saying why. Running it again pushes nothing new (skopeo skips blobs
the registry has).
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import yaml

from bftools.runtime.paths import ROOT
from blackfriday.loadgen.catalog import builtin_bytes, load_catalog
from blackfriday.loadgen.oci import REGISTRY_PATTERN, Layer, OciError, Reference, digest, push_artifact, push_catalog

APP_IMAGE: Final = "black-friday"
CATALOG_REPOSITORY: Final = "bf-catalog"
PLUGIN_REPOSITORY: Final = "grafana-plugins/redis-datasource"
#: Where the chart goes in the registry: oci://<registry>/charts/<chart name>:<chart version>.
CHART_REPOSITORY: Final = "charts"
CHART: Final = ROOT / "charts" / "black-friday"
#: Built by scripts/setup helm; else a helm on PATH.
HELM: Final = ROOT / ".cache" / "bin" / "helm"
#: Full output of a failed tool run goes here (the error line names the file).
LOGS: Final = ROOT / ".cache" / "logs"
BUILDERS: Final = ("docker", "podman", "buildah")


class PushError(RuntimeError):
    """A one-line reason the push cannot go on."""


@dataclass(frozen=True)
class ChartImage:
    registry: str
    repository: str
    tag: str

    @property
    def source(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}" if self.registry else f"{self.repository}:{self.tag}"

    def at(self, registry: str) -> str:
        """Where the chart pulls it from once global.imageRegistry is ``registry``."""
        return f"{registry}/{self.repository}:{self.tag}"


def chart_images() -> list[ChartImage]:
    """Every third-party image of the chart: each `image`-like block of the subcharts' values."""
    found: list[ChartImage] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if {"repository", "tag"} <= node.keys() and node.get("registry") is not None and node["tag"]:
                found.append(ChartImage(str(node["registry"]), str(node["repository"]), str(node["tag"])))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for values in sorted((CHART / "charts").glob("*/values.yaml")):
        walk(yaml.safe_load(values.read_text()))
    return sorted(set(found), key=lambda image: image.source)


def default_tag() -> str:
    """<appVersion>-<git commit>[-dirty], or the appVersion outside a git checkout."""
    version = str(yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"])
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=7"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}-{described}"


def _run(argv: Sequence[str], what: str, timeout: float = 3600) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise PushError(f"{what}: {argv[0]} is not installed (scripts/setup registry installs skopeo)") from None
    except subprocess.TimeoutExpired:
        raise PushError(f"{what}: {argv[0]} did not finish in {timeout:.0f}s") from None
    if done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip()).splitlines()
        log = LOGS / f"push-images-{argv[0]}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"$ {' '.join(argv)}\n{done.stdout}\n{done.stderr}")
        raise PushError(f"{what}: {detail[-1] if detail else f'exit {done.returncode}'} (full output: {log})")
    return done.stdout


def copy_image(source: str, destination: str, *, insecure: bool, platform: str | None = None) -> None:
    """Copy an image between transports (oci-archive:, oci:, docker://) with skopeo: pushing and mirroring."""
    argv = ["skopeo", "copy", "--retry-times", "3"]
    if insecure:
        argv += ["--src-tls-verify=false", "--dest-tls-verify=false"]
    if platform:
        os_name, _, arch = platform.partition("/")
        argv += ["--override-os", os_name, "--override-arch", arch]
    _run([*argv, source, destination], f"copy {source} to {destination}")


def manifest_digest(reference: str, *, insecure: bool) -> str:
    """The digest of the manifest at docker://reference, as the registry serves it."""
    argv = ["skopeo", "inspect", "--raw"]
    if insecure:
        argv.append("--tls-verify=false")
    raw = _run([*argv, f"docker://{reference}"], f"inspect {reference}")
    return digest(raw.encode())


def check_registry(registry: str, insecure: bool) -> None:
    """The registry answers the distribution API (200, or 401 asking for credentials)."""
    url = f"{'http' if insecure else 'https'}://{registry}/v2/"
    try:
        response = httpx.get(url, timeout=10)
    except httpx.HTTPError as exc:
        hint = "" if insecure else " (a plain-HTTP registry needs --insecure)"
        raise PushError(f"registry {registry} is not reachable at {url}: {exc}{hint}") from None
    if response.status_code not in (200, 401):
        raise PushError(f"registry {registry} answered {response.status_code} at {url}: not an OCI registry?")


def _works(argv: Sequence[str]) -> bool:
    try:
        return subprocess.run(list(argv), capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def detect_builder(choice: str | None) -> str:
    """docker buildx (with a reachable engine), podman or buildah, in that order, or the one asked for."""
    probes = {
        "docker": [["docker", "buildx", "version"], ["docker", "info"]],
        "podman": [["podman", "version"]],
        "buildah": [["buildah", "version"]],
    }
    for builder in [choice] if choice else BUILDERS:
        if builder is not None and shutil.which(builder) and all(_works(p) for p in probes[builder]):
            return builder
    if choice:
        raise PushError(f"builder {choice} is not usable here (not installed, or no engine to talk to)")
    raise PushError("no image builder found: install docker (with buildx), podman or buildah, or pass --builder")


def build_image(
    builder: str,
    archive: Path,
    tag: str,
    *,
    base_image: str | None,
    platform: str,
    build_args: Sequence[str] = (),
    pip_cert: Path | None = None,
) -> None:
    """Build the Dockerfile into an OCI archive with ``builder``."""
    name = f"localhost/{APP_IMAGE}:{tag}"
    args = [f"--build-arg=PYTHON_IMAGE={base_image}"] if base_image else []
    args += [f"--build-arg={arg}" for arg in build_args]
    if pip_cert is not None:
        if builder == "docker":
            raise PushError("--pip-cert works with podman and buildah; with docker use --build-arg PIP_INDEX_URL=...")
        args += [f"--volume={pip_cert.resolve()}:/run/pip-ca.crt:ro", "--build-arg=PIP_CERT=/run/pip-ca.crt"]
    root = str(ROOT)
    if builder == "docker":
        _run(
            [
                "docker",
                "buildx",
                "build",
                "--platform",
                platform,
                *args,
                "-t",
                name,
                "--output",
                f"type=oci,dest={archive}",
                root,
            ],
            "docker buildx build",
        )
    elif builder == "podman":
        _run(["podman", "build", "--platform", platform, *args, "-t", name, root], "podman build")
        _run(["podman", "save", "--format", "oci-archive", "-o", str(archive), name], "podman save")
    else:
        _run(
            ["buildah", "bud", "--isolation", "chroot", "--platform", platform, *args, "-t", name, root],
            "buildah bud",
        )
        _run(["buildah", "push", name, f"oci-archive:{archive}"], "buildah push")


def plugin_layer(zip_path: Path) -> tuple[bytes, str]:
    """The plugin zip as a gzipped tar of its top directory (what `oras pull` unpacks), and that directory."""
    with zipfile.ZipFile(zip_path) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        tops = {n.split("/", 1)[0] for n in names}
        if len(tops) != 1 or not all("/" in n for n in names):
            raise PushError(f"{zip_path}: expected a Grafana plugin zip with one top directory")
        top = tops.pop()
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for name in names:
                data = archive.read(name)
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o755 if name.endswith(("_linux_amd64", "_linux_arm64")) else 0o644
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue(), top


def push_plugin(registry: str, zip_path: Path, version: str, insecure: bool) -> str:
    """Push the plugin so that `oras pull --output /var/lib/grafana/plugins REF` unpacks it in place."""
    data, top = plugin_layer(zip_path)
    layer = Layer(
        data,
        "application/vnd.oci.image.layer.v1.tar+gzip",
        {"org.opencontainers.image.title": top, "io.deis.oras.content.unpack": "true"},
    )
    push_artifact(
        Reference(registry, PLUGIN_REPOSITORY, version, insecure), "application/vnd.grafana.plugin.v1+tar", [layer]
    )
    return f"{registry}/{PLUGIN_REPOSITORY}:{version}"


@dataclass(frozen=True)
class ChartPush:
    """The chart as pushed: ``oci://<registry>/charts/<name>`` at ``version``."""

    registry: str
    name: str
    version: str
    insecure: bool

    @property
    def url(self) -> str:
        return f"oci://{self.registry}/{CHART_REPOSITORY}/{self.name}"

    def flags(self) -> str:
        """helm's flags to take it from the registry (install, upgrade, pull, show)."""
        return f"--version {self.version}" + (" --plain-http" if self.insecure else "")


def chart_metadata() -> tuple[str, str]:
    """The chart's name and version, from its Chart.yaml."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return str(chart["name"]), str(chart["version"])


def find_helm() -> str:
    if HELM.is_file():
        return str(HELM)
    found = shutil.which("helm")
    if found is None:
        raise PushError(f"helm is not installed at {HELM} nor on PATH: run scripts/setup helm (or pass --no-chart)")
    return found


def push_chart(registry: str, insecure: bool, workdir: Path) -> ChartPush:
    """Package charts/black-friday into ``workdir`` and push it to oci://<registry>/charts (helm push)."""
    helm = find_helm()
    name, version = chart_metadata()
    _run([helm, "package", str(CHART), "--destination", str(workdir)], "helm package", timeout=120)
    package = workdir / f"{name}-{version}.tgz"
    if not package.is_file():
        raise PushError(f"helm package: {package.name} was not written")
    pushed = ChartPush(registry, name, version, insecure)
    argv = [helm, "push", str(package), f"oci://{registry}/{CHART_REPOSITORY}"]
    _run([*argv, *(["--plain-http"] if insecure else [])], f"helm push {package.name}", timeout=300)
    return pushed


def catalog_reference(registry: str, tag: str, insecure: bool) -> str:
    return f"{'oci+http' if insecure else 'oci'}://{registry}/{CATALOG_REPOSITORY}:{tag}"


def plan(
    registry: str, tag: str, insecure: bool, builder: str, mirror: bool, plugin: Path | None, chart: bool = True
) -> list[str]:
    lines = [
        f"plan for {registry} ({'plain HTTP' if insecure else 'HTTPS'}), tag {tag}:",
        f"  build   {APP_IMAGE}:{tag} from Dockerfile with {builder}",
        f"  push    {registry}/{APP_IMAGE}:{tag}",
    ]
    if mirror:
        lines += [f"  mirror  {image.source} -> {image.at(registry)}" for image in chart_images()]
    lines.append(
        f"  push    catalog apps/blackfriday/loadgen/catalog.json -> {catalog_reference(registry, tag, insecure)}"
    )
    if plugin:
        lines.append(f"  push    {plugin} -> {registry}/{PLUGIN_REPOSITORY}:<version>")
    if chart:
        name, version = chart_metadata()
        target = ChartPush(registry, name, version, insecure)
        lines.append(f"  package chart {CHART.relative_to(ROOT)} -> {name}-{version}.tgz with helm package")
        lines.append(f"  push    chart {name}-{version}.tgz -> {target.url}:{version}")
    return lines


def helm_flags(registry: str, tag: str, plugin_ref: str | None, insecure: bool) -> str:
    flags = f"--set global.imageRegistry={registry} --set global.imageTag={tag}"
    if plugin_ref:
        flags += f" --set grafana.redisPlugin.source=oci --set grafana.redisPlugin.ociReference={plugin_ref}"
        if insecure:
            flags += " --set grafana.redisPlugin.ociPlainHttp=true"
    return flags


def install_command(chart: ChartPush, flags: str) -> str:
    """helm install of the pushed chart (values/dev.yaml from the clone, or a copy of it)."""
    return f"helm install bf {chart.url} {chart.flags()} -f values/dev.yaml {flags}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="push-images", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--registry", required=True, help="the registry, host:port (e.g. 172.31.32.68:5000)")
    parser.add_argument("--tag", help="tag of the project's image (default: <appVersion>-<git commit>)")
    parser.add_argument("--insecure", action="store_true", help="plain-HTTP registry (a Zot on a VM without TLS)")
    parser.add_argument("--builder", choices=BUILDERS, help="image builder (default: the first found)")
    parser.add_argument("--platform", default="linux/amd64")
    parser.add_argument("--base-image", help="the Dockerfile's PYTHON_IMAGE (default: the pinned python slim)")
    parser.add_argument("--build-arg", action="append", default=[], help="more build arguments (KEY=VALUE)")
    parser.add_argument("--pip-cert", type=Path, help="a CA bundle for pip inside the build (TLS-intercepting proxy)")
    parser.add_argument("--no-mirror", dest="mirror", action="store_false", help="do not mirror third-party images")
    parser.add_argument("--no-chart", dest="chart", action="store_false", help="do not package and push the chart")
    parser.add_argument("--grafana-plugin", type=Path, help="redis-datasource zip to push for air-gapped Grafana")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and the helm flags, change nothing")
    args = parser.parse_args(argv)
    try:
        if not re.match(REGISTRY_PATTERN, args.registry) or not args.registry:
            raise PushError(f"--registry: expected host[:port] without a scheme, got {args.registry!r}")
        tag = args.tag or default_tag()
        if args.dry_run:
            try:
                builder = detect_builder(args.builder)
            except PushError as exc:
                builder = f"(none usable: {exc})"
            steps = plan(args.registry, tag, args.insecure, builder, args.mirror, args.grafana_plugin, args.chart)
            print("\n".join(steps))
            flags = helm_flags(args.registry, tag, None, args.insecure)
            print(f"then: helm install ... {flags}")
            if args.chart:
                name, version = chart_metadata()
                print(f"  or: {install_command(ChartPush(args.registry, name, version, args.insecure), flags)}")
            return 0
        load_catalog("builtin")  # the catalog that goes up is valid
        check_registry(args.registry, args.insecure)
        builder = detect_builder(args.builder)
        if args.chart:
            find_helm()  # before the build: a missing helm is a one-line error, not one after minutes
        with tempfile.TemporaryDirectory(prefix="bf-image-") as tmp:
            archive = Path(tmp) / "image.tar"
            print(f"building {APP_IMAGE}:{tag} with {builder} ...", flush=True)
            build_image(
                builder,
                archive,
                tag,
                base_image=args.base_image,
                platform=args.platform,
                build_args=args.build_arg,
                pip_cert=args.pip_cert,
            )
            destination = f"{args.registry}/{APP_IMAGE}:{tag}"
            copy_image(f"oci-archive:{archive}", f"docker://{destination}", insecure=args.insecure)
            print(f"pushed  {destination}", flush=True)
        if args.mirror:
            for image in chart_images():
                copy_image(
                    f"docker://{image.source}",
                    f"docker://{image.at(args.registry)}",
                    insecure=args.insecure,
                    platform=args.platform,
                )
                print(f"mirrored {image.source} -> {image.at(args.registry)}", flush=True)
        reference = catalog_reference(args.registry, tag, args.insecure)
        push_catalog(reference, builtin_bytes())
        print(f"pushed  catalog -> {reference}")
        plugin_ref = None
        if args.grafana_plugin:
            version = str(yaml.safe_load((CHART / "charts/grafana/values.yaml").read_text())["redisPlugin"]["version"])
            plugin_ref = push_plugin(args.registry, args.grafana_plugin, version, args.insecure)
            print(f"pushed  plugin -> {plugin_ref}")
        chart = None
        if args.chart:
            with tempfile.TemporaryDirectory(prefix="bf-chart-") as tmp:
                chart = push_chart(args.registry, args.insecure, Path(tmp))
            print(f"pushed  chart -> {chart.url}:{chart.version}", flush=True)
    except (PushError, OciError) as exc:
        print(f"push-images: {exc}", file=sys.stderr)
        return 1
    flags = helm_flags(args.registry, tag, plugin_ref, args.insecure)
    print(f"\nDeploy from it with:\n  helm install bf charts/black-friday -f values/dev.yaml {flags}")
    if chart is not None:
        print(f"or, without a clone, the chart from the registry:\n  {install_command(chart, flags)}")
    print(
        f"Load it with the catalog from the registry:\n  locust -f apps/blackfriday/loadgen/locustfile.py "
        f"--catalog {reference}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
