"""scripts/push-images against a real OCI registry (Debian's docker-registry) on 127.0.0.1."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bftools.release.push_images import (
    CHART,
    chart_metadata,
    copy_image,
    find_helm,
    manifest_digest,
    push_chart,
    push_plugin,
)
from bftools.runtime.ports import free_port
from blackfriday.loadgen.catalog import builtin_bytes, load_catalog
from blackfriday.loadgen.oci import CATALOG_ARTIFACT_TYPE, pull_catalog, push_catalog
from tests.conftest import ROOT
from tests.integration.registry_server import RegistryServer

pytestmark = [pytest.mark.integration, pytest.mark.registry]


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_oci_layout(directory: Path, tag: str) -> str:
    """A one-layer image in an OCI layout, written by hand (no daemon, no base image); its manifest digest."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes) -> str:
        digest = sha(data)
        (blobs / digest.split(":")[1]).write_bytes(data)
        return digest

    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w") as tar:
        content = b"hello from a daemonless build\n"
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    layer_tar = tar_buffer.getvalue()
    layer = gzip.compress(layer_tar, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/hello.txt"]},
            "rootfs": {"type": "layers", "diff_ids": [sha(layer_tar)]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": blob(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": blob(layer), "size": len(layer)}
            ],
        }
    ).encode()
    manifest_digest = blob(manifest)
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (directory / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": manifest_digest,
                        "size": len(manifest),
                        "annotations": {"org.opencontainers.image.ref.name": tag},
                    }
                ],
            }
        )
    )
    return manifest_digest


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    server = RegistryServer(tmp_path / "registry", free_port())
    server.start(tmp_path / "registry.log")
    yield server
    server.stop()


def test_an_image_built_without_a_daemon_is_pushed_with_its_digest(registry: RegistryServer, tmp_path: Path) -> None:
    expected = make_oci_layout(tmp_path / "layout", "v1")
    copy_image(f"oci:{tmp_path / 'layout'}:v1", f"docker://{registry.address}/test/tiny:v1", insecure=True)
    assert manifest_digest(f"{registry.address}/test/tiny:v1", insecure=True) == expected
    # again: nothing changes (idempotent)
    copy_image(f"oci:{tmp_path / 'layout'}:v1", f"docker://{registry.address}/test/tiny:v1", insecure=True)
    assert manifest_digest(f"{registry.address}/test/tiny:v1", insecure=True) == expected


def test_mirroring_copies_an_image_between_registries_unchanged(registry: RegistryServer, tmp_path: Path) -> None:
    expected = make_oci_layout(tmp_path / "layout", "v1")
    copy_image(f"oci:{tmp_path / 'layout'}:v1", f"docker://{registry.address}/upstream/valkey:8.1.4", insecure=True)
    copy_image(
        f"docker://{registry.address}/upstream/valkey:8.1.4",
        f"docker://{registry.address}/valkey/valkey:8.1.4",
        insecure=True,
        platform="linux/amd64",
    )
    assert manifest_digest(f"{registry.address}/valkey/valkey:8.1.4", insecure=True) == expected


def test_the_catalog_goes_up_as_an_artifact_and_comes_back_byte_identical(registry: RegistryServer) -> None:
    reference = f"oci+http://{registry.address}/bf-catalog:test"
    push_catalog(reference, builtin_bytes())
    assert pull_catalog(reference) == builtin_bytes()
    assert load_catalog(reference) == load_catalog("builtin")  # what Locust's --catalog does
    manifest = httpx.get(
        f"http://{registry.address}/v2/bf-catalog/manifests/test",
        headers={"accept": "application/vnd.oci.image.manifest.v1+json"},
    ).json()
    assert manifest["artifactType"] == CATALOG_ARTIFACT_TYPE
    assert manifest["layers"][0]["annotations"]["org.opencontainers.image.title"] == "catalog.json"


def test_locust_takes_the_catalog_by_reference(registry: RegistryServer, tmp_path: Path) -> None:
    catalog = json.loads(builtin_bytes())
    catalog["categories"] = {
        "Hogar": {"weight": 1, "products": [{"id": "Sofa-OCI", "price": [10, 20], "quantity": [1, 1]}]}
    }
    reference = f"oci+http://{registry.address}/bf-catalog:custom"
    push_catalog(reference, json.dumps(catalog).encode())
    sample = load_catalog(reference).sample(__import__("random").Random(1))
    assert sample["producto_id"] == "Sofa-OCI"


def test_a_grafana_plugin_zip_becomes_an_artifact_oras_unpacks(registry: RegistryServer, tmp_path: Path) -> None:
    plugin = tmp_path / "redis-datasource-2.2.0.zip"
    with zipfile.ZipFile(plugin, "w") as archive:
        archive.writestr("redis-datasource/plugin.json", '{"id": "redis-datasource"}')
        archive.writestr("redis-datasource/gpx_redis-datasource_linux_amd64", b"\x7fELF")
    reference = push_plugin(registry.address, plugin, "2.2.0", insecure=True)
    assert reference == f"{registry.address}/grafana-plugins/redis-datasource:2.2.0"
    manifest = httpx.get(
        f"http://{registry.address}/v2/grafana-plugins/redis-datasource/manifests/2.2.0",
        headers={"accept": "application/vnd.oci.image.manifest.v1+json"},
    ).json()
    [layer] = manifest["layers"]
    assert layer["annotations"] == {
        "org.opencontainers.image.title": "redis-datasource",
        "io.deis.oras.content.unpack": "true",
    }
    blob = httpx.get(f"http://{registry.address}/v2/grafana-plugins/redis-datasource/blobs/{layer['digest']}").content
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {"redis-datasource/plugin.json", "redis-datasource/gpx_redis-datasource_linux_amd64"}
    assert members["redis-datasource/gpx_redis-datasource_linux_amd64"].mode == 0o755


def helm(*args: str) -> str:
    done = subprocess.run([find_helm(), *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"helm {' '.join(args[:2])} failed:\n{done.stderr}"
    return done.stdout


def test_the_chart_goes_up_as_an_oci_artifact_and_comes_back_as_it_renders(
    registry: RegistryServer, tmp_path: Path
) -> None:
    """scripts/push-images' chart step: helm package + helm push; helm pulls that version back, and it renders
    exactly what the chart of the clone renders."""
    name, version = chart_metadata()
    chart = push_chart(registry.address, True, tmp_path / "package")
    assert chart.url == f"oci://{registry.address}/charts/{name}"
    manifest = httpx.get(
        f"http://{registry.address}/v2/charts/{name}/manifests/{version}",
        headers={"accept": "application/vnd.oci.image.manifest.v1+json"},
    ).json()
    assert manifest["config"]["mediaType"] == "application/vnd.cncf.helm.config.v1+json"
    shown = yaml.safe_load(helm("show", "chart", chart.url, "--version", version, "--plain-http"))
    assert (shown["name"], shown["version"]) == (name, version)
    assert shown["annotations"]["artifacthub.io/license"] == "Apache-2.0"
    assert "## Values" in helm("show", "readme", chart.url, "--version", version, "--plain-http")

    (tmp_path / "pulled").mkdir()
    helm("pull", chart.url, "--version", version, "--plain-http", "--destination", str(tmp_path / "pulled"))
    package = tmp_path / "pulled" / f"{name}-{version}.tgz"
    flags = ["--namespace", "shop", "-f", str(ROOT / "values" / "dev.yaml"), "--kube-version", "1.33.0"]
    flags += ["--api-versions", "kafka.strimzi.io/v1/Kafka", "--api-versions", "kafka.strimzi.io/v1/KafkaUser"]
    pulled = rendered(helm("template", "bf", str(package), *flags))
    assert {("Deployment", "bf-api"), ("StatefulSet", "bf-valkey"), ("Kafka", "bf")} <= set(pulled)
    assert pulled == rendered(helm("template", "bf", str(CHART), *flags))


def rendered(text: str) -> dict[tuple[str, str], Any]:
    """(kind, name) -> object of a render, without what differs between two renders: the passwords the chart
    generates (Secrets' data) and the checksums of them in pod annotations."""
    objects = {}
    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        if doc["kind"] == "Secret":
            doc.pop("data", None)
        annotations = doc.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations", {})
        for key in [k for k in annotations if k.startswith("checksum/")]:
            annotations[key] = "-"
        objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


def push_images(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / "push-images"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_an_unreachable_registry_is_a_one_line_error(tmp_path: Path) -> None:
    port = free_port()
    done = push_images("--registry", f"127.0.0.1:{port}", "--insecure")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(
        f"push-images: registry 127.0.0.1:{port} is not reachable at http://127.0.0.1:{port}/v2/"
    )
    assert not [line for line in lines if line.startswith("push-images:")][:-1]


def test_a_registry_that_stops_fails_the_push_with_a_reason(registry: RegistryServer, tmp_path: Path) -> None:
    make_oci_layout(tmp_path / "layout", "v1")
    registry.stop()
    with pytest.raises(Exception, match="copy oci:"):
        copy_image(f"oci:{tmp_path / 'layout'}:v1", f"docker://{registry.address}/test/tiny:v1", insecure=True)


def test_a_missing_builder_is_a_one_line_error(registry: RegistryServer) -> None:
    done = push_images("--registry", registry.address, "--insecure", "--builder", "podman")
    assert done.returncode == 1
    assert (
        done.stderr.strip().splitlines()[-1]
        == "push-images: builder podman is not usable here (not installed, or no engine to talk to)"
    )


def test_a_malformed_registry_is_refused() -> None:
    done = push_images("--registry", "http://zot:5000")
    assert done.returncode == 1
    assert "--registry: expected host[:port] without a scheme" in done.stderr


@pytest.fixture(scope="module")
def buildah_storage(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A private buildah storage (vfs) so that the test leaves no image behind."""
    home = tmp_path_factory.mktemp("buildah")
    conf = home / "storage.conf"
    conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{home / "graph"}"\nrunroot = "{home / "run"}"\n')
    return {**os.environ, "CONTAINERS_STORAGE_CONF": str(conf)}


def debian_python_base(env: dict[str, str]) -> str:
    """A Debian bookworm minbase with python3, made by mmdebstrap (cached) and imported into buildah."""
    cache = ROOT / ".cache" / "images"
    tarball = cache / "debian-bookworm-python3.tar"
    if not tarball.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "mmdebstrap",
                "--variant=minbase",
                "--include=python3,python3-venv,ca-certificates",
                "--format=tar",
                "bookworm",
                str(tarball),
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
    name = "localhost/debian-python:bookworm"
    container = subprocess.run(
        ["buildah", "from", "scratch"], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    subprocess.run(["buildah", "add", container, str(tarball), "/"], env=env, check=True, capture_output=True)
    subprocess.run(["buildah", "commit", "-q", "--rm", container, name], env=env, check=True, capture_output=True)
    return name


@pytest.mark.slow
def test_push_images_builds_the_dockerfile_with_buildah_and_the_service_runs_from_it(
    registry: RegistryServer, buildah_storage: dict[str, str], tmp_path: Path
) -> None:
    base = debian_python_base(buildah_storage)
    done = push_images(
        "--registry",
        registry.address,
        "--insecure",
        "--builder",
        "buildah",
        "--tag",
        "it",
        "--base-image",
        base,
        "--pip-cert",
        "/etc/ssl/certs/ca-certificates.crt",
        "--no-mirror",
        env=buildah_storage,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    assert f"--set global.imageRegistry={registry.address} --set global.imageTag=it" in done.stdout
    name, version = chart_metadata()
    assert f"pushed  chart -> oci://{registry.address}/charts/{name}:{version}" in done.stdout
    assert f"helm install bf oci://{registry.address}/charts/{name} --version {version} --plain-http" in done.stdout
    assert (
        yaml.safe_load(
            helm("show", "chart", f"oci://{registry.address}/charts/{name}", "--version", version, "--plain-http")
        )["version"]
        == version
    )
    assert pull_catalog(f"oci+http://{registry.address}/bf-catalog:it") == builtin_bytes()
    config = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--config", "--tls-verify=false", f"docker://{registry.address}/black-friday:it"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert config["config"]["User"] == "10001:10001"
    assert config["config"]["Cmd"] == ["bf-api"]

    # Start the api from the pushed image once and ask it for its health.
    env = buildah_storage
    container = subprocess.run(
        ["buildah", "from", "--tls-verify=false", f"docker://{registry.address}/black-friday:it"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [
            "buildah",
            "run",
            "--isolation",
            "chroot",
            "--user",
            "10001:10001",
            "--env",
            "LISTEN_HOST=127.0.0.1",
            "--env",
            f"LISTEN_PORT={port}",
            "--env",
            "BRIDGE_URL=http://127.0.0.1:1",
            container,
            "--",
            "bf-api",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        from bftools.runtime.process import wait_for
        from bftools.stack.services import http_ok

        assert wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), 60), "bf-api did not start from the image"
        # The api tries to reach the bridge until the sale's deadline (FORWARD_TIMEOUT_SECONDS, 8 s by default)
        # before it answers: wait longer than that.
        answer = httpx.post(
            f"http://127.0.0.1:{port}/purchase",
            json={"categoria": 1, "producto_id": "x", "precio": 1, "cantidad_vendida": 1},
            timeout=30,
        )
        assert answer.status_code == 503  # no bridge here: the api says so, it does not pretend
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)
        subprocess.run(["buildah", "rm", container], env=env, capture_output=True, check=False)
