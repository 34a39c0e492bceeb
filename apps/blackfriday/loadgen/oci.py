"""The product catalog as an OCI artifact: pushed to and pulled from a registry (Zot, distribution).

A reference is `oci://HOST[:PORT]/REPOSITORY:TAG` (HTTPS) or `oci+http://HOST[:PORT]/REPOSITORY:TAG` for a
plain-HTTP registry such as a Zot on a VM. The artifact is an OCI image manifest (OCI 1.1 artifact form)
with `artifactType` application/vnd.blackfriday.catalog.v1+json, the empty config, and one layer: the
catalog JSON file, annotated with its file name. BF_REGISTRY_USER / BF_REGISTRY_PASSWORD give basic auth.

Only the OCI distribution API over plain HTTP(S) is used, so Locust needs nothing but Python to pull it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx

CATALOG_ARTIFACT_TYPE: Final = "application/vnd.blackfriday.catalog.v1+json"
CATALOG_LAYER_TYPE: Final = "application/vnd.blackfriday.catalog.layer.v1+json"
MANIFEST_TYPE: Final = "application/vnd.oci.image.manifest.v1+json"
EMPTY_CONFIG_TYPE: Final = "application/vnd.oci.empty.v1+json"
EMPTY_CONFIG: Final = b"{}"
#: A registry address as containerd and helm values take it: host[:port][/path], no scheme (172.31.32.68:5000).
REGISTRY_PATTERN: Final = r"^$|^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[a-z0-9._-]+)*$"
_REFERENCE: Final = re.compile(
    r"^(?P<scheme>oci|oci\+http)://(?P<registry>[A-Za-z0-9.-]+(:[0-9]{1,5})?)/(?P<repository>[a-z0-9]+([._/-][a-z0-9]+)*)"
    r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127})$"
)


class OciError(RuntimeError):
    """The registry could not be reached or answered unexpectedly; the message says which and why."""


@dataclass(frozen=True)
class Reference:
    registry: str
    repository: str
    tag: str
    plain_http: bool

    @classmethod
    def parse(cls, text: str) -> Reference:
        match = _REFERENCE.match(text)
        if match is None:
            raise OciError(
                f"{text!r} is not an OCI reference: expected oci://host[:port]/repository:tag "
                "(or oci+http:// for a plain-HTTP registry)"
            )
        return cls(match["registry"], match["repository"], match["tag"], match["scheme"] == "oci+http")

    @property
    def base_url(self) -> str:
        return f"{'http' if self.plain_http else 'https'}://{self.registry}/v2/{self.repository}"

    def __str__(self) -> str:
        return f"{'oci+http' if self.plain_http else 'oci'}://{self.registry}/{self.repository}:{self.tag}"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _client() -> httpx.Client:
    user, password = os.environ.get("BF_REGISTRY_USER"), os.environ.get("BF_REGISTRY_PASSWORD")
    auth = (user, password or "") if user else None
    return httpx.Client(timeout=30, auth=auth, follow_redirects=True)


def _check(response: httpx.Response, what: str, *expected: int) -> httpx.Response:
    if response.status_code not in expected:
        raise OciError(f"{what}: registry answered {response.status_code} {response.text[:200]!r}")
    return response


def _request(client: httpx.Client, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
    try:
        return client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise OciError(f"{what}: cannot reach the registry ({exc})") from None


def _push_blob(client: httpx.Client, ref: Reference, data: bytes, media_type: str) -> dict[str, Any]:
    blob_digest = digest(data)
    head = _request(client, "HEAD", f"{ref.base_url}/blobs/{blob_digest}", f"push {ref}")
    if head.status_code != 200:
        start = _check(_request(client, "POST", f"{ref.base_url}/blobs/uploads/", f"push {ref}"), f"push {ref}", 202)
        location = start.headers["location"]
        if location.startswith("/"):
            location = f"{'http' if ref.plain_http else 'https'}://{ref.registry}{location}"
        separator = "&" if "?" in location else "?"
        _check(
            _request(
                client,
                "PUT",
                f"{location}{separator}digest={blob_digest}",
                f"push {ref}",
                content=data,
                headers={"content-type": "application/octet-stream"},
            ),
            f"push {ref}",
            201,
        )
    return {"mediaType": media_type, "digest": blob_digest, "size": len(data)}


@dataclass(frozen=True)
class Layer:
    data: bytes
    media_type: str
    annotations: dict[str, str]


def push_artifact(
    ref: Reference, artifact_type: str, layers: Sequence[Layer], annotations: dict[str, str] | None = None
) -> str:
    """Push an OCI 1.1 artifact (empty config, the given layers) under ``ref``'s tag; the manifest's digest."""
    with _client() as client:
        config = _push_blob(client, ref, EMPTY_CONFIG, EMPTY_CONFIG_TYPE)
        descriptors = []
        for layer in layers:
            descriptor = _push_blob(client, ref, layer.data, layer.media_type)
            descriptor["annotations"] = layer.annotations
            descriptors.append(descriptor)
        document: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "artifactType": artifact_type,
            "config": config,
            "layers": descriptors,
        }
        if annotations:
            document["annotations"] = annotations
        manifest = json.dumps(document, separators=(",", ":")).encode()
        _check(
            _request(
                client,
                "PUT",
                f"{ref.base_url}/manifests/{ref.tag}",
                f"push {ref}",
                content=manifest,
                headers={"content-type": MANIFEST_TYPE},
            ),
            f"push {ref}",
            201,
        )
    return digest(manifest)


def push_catalog(reference: str, data: bytes, filename: str = "catalog.json") -> str:
    """Push the catalog file as an artifact; returns the manifest's digest."""
    json.loads(data)  # only a JSON document goes up
    layer = Layer(data, CATALOG_LAYER_TYPE, {"org.opencontainers.image.title": filename})
    return push_artifact(
        Reference.parse(reference),
        CATALOG_ARTIFACT_TYPE,
        [layer],
        {"org.opencontainers.image.description": "black-friday load generator catalog"},
    )


def pull_catalog(reference: str) -> bytes:
    """The catalog file of the artifact at ``reference``, checked against its digest."""
    ref = Reference.parse(reference)
    with _client() as client:
        response = _check(
            _request(
                client, "GET", f"{ref.base_url}/manifests/{ref.tag}", f"pull {ref}", headers={"accept": MANIFEST_TYPE}
            ),
            f"pull {ref}",
            200,
        )
        manifest = response.json()
        if manifest.get("artifactType") != CATALOG_ARTIFACT_TYPE:
            raise OciError(f"pull {ref}: not a catalog artifact (artifactType {manifest.get('artifactType')!r})")
        [layer] = manifest["layers"]
        blob = _check(
            _request(client, "GET", f"{ref.base_url}/blobs/{layer['digest']}", f"pull {ref}"), f"pull {ref}", 200
        ).content
    if digest(blob) != layer["digest"]:
        raise OciError(f"pull {ref}: the catalog does not match its digest {layer['digest']}")
    return blob
