"""The cluster's certificates (openssl, EC P-256) and kubeconfig files.

Two CAs: the cluster CA (every client and serving certificate) and the front-proxy CA (the apiserver's
client certificate towards aggregated APIs such as metrics-server, checked via requestheader-client-ca).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from bftools.cluster.config import (
    APISERVER_URL,
    CLUSTER_DOMAIN,
    KUBERNETES_SERVICE_IP,
    NODE_IP,
    NODE_NAME,
)
from bftools.cluster.shell import run

CA_DAYS = 3650
LEAF_DAYS = 825


@dataclass(frozen=True)
class Cert:
    """A certificate to issue: its file name, subject, CA and extensions."""

    name: str
    cn: str
    org: str | None = None
    ca: str = "ca"
    server: bool = False
    client: bool = True
    sans: tuple[str, ...] = ()


APISERVER_SANS = (
    f"IP:{NODE_IP}",
    "IP:127.0.0.1",
    f"IP:{KUBERNETES_SERVICE_IP}",
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    f"DNS:kubernetes.default.svc.{CLUSTER_DOMAIN}",
)

CERTS = (
    Cert("apiserver", "kube-apiserver", server=True, client=False, sans=APISERVER_SANS),
    Cert("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"),
    Cert("front-proxy-client", "front-proxy-client", ca="front-proxy-ca"),
    Cert("admin", "black-friday-admin", "system:masters"),
    Cert("controller-manager", "system:kube-controller-manager"),
    Cert("scheduler", "system:kube-scheduler"),
    Cert("kube-proxy", "system:kube-proxy"),
    Cert("kube-router", "system:kube-router"),
    Cert("kubelet", f"system:node:{NODE_NAME}", "system:nodes"),
    Cert("kubelet-serving", NODE_NAME, server=True, client=False, sans=(f"IP:{NODE_IP}", f"DNS:{NODE_NAME}")),
)

#: The identity each kubeconfig file carries.
KUBECONFIGS = {
    "admin": "admin",
    "controller-manager": "controller-manager",
    "scheduler": "scheduler",
    "kube-proxy": "kube-proxy",
    "kube-router": "kube-router",
    "kubelet": "kubelet",
}


def _key(path: Path) -> None:
    run(
        ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path)],
        f"make the key {path.name}",
        timeout=30,
    )
    path.chmod(0o600)


def _ca(pki: Path, name: str, cn: str) -> None:
    _key(pki / f"{name}.key")
    run(
        [
            "openssl", "req", "-x509", "-new", "-key", str(pki / f"{name}.key"), "-subj", f"/CN={cn}",
            "-days", str(CA_DAYS), "-out", str(pki / f"{name}.crt"),
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        ],
        f"make the CA {name}",
        timeout=30,
    )  # fmt: skip


def _leaf(pki: Path, cert: Cert) -> None:
    key, csr, crt, ext = (pki / f"{cert.name}.{suffix}" for suffix in ("key", "csr", "crt", "ext"))
    _key(key)
    subject = f"/CN={cert.cn}" + (f"/O={cert.org}" if cert.org else "")
    run(["openssl", "req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr)], f"csr {cert.name}")
    usages = [u for u, on in (("serverAuth", cert.server), ("clientAuth", cert.client)) if on]
    lines = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={','.join(usages)}",
    ]
    if cert.sans:
        lines.append(f"subjectAltName={','.join(cert.sans)}")
    ext.write_text("\n".join(lines) + "\n")
    run(
        [
            "openssl", "x509", "-req", "-in", str(csr), "-CA", str(pki / f"{cert.ca}.crt"),
            "-CAkey", str(pki / f"{cert.ca}.key"), "-set_serial", f"0x{secrets.token_hex(16)}",
            "-days", str(LEAF_DAYS), "-extfile", str(ext), "-out", str(crt),
        ],
        f"sign {cert.name}",
        timeout=30,
    )  # fmt: skip
    csr.unlink()
    ext.unlink()


def _fresh(pki: Path) -> bool:
    """Every file is there and no certificate expires within a week."""
    names = ["ca", "front-proxy-ca", *(c.name for c in CERTS)]
    if not all((pki / f"{n}.crt").is_file() and (pki / f"{n}.key").is_file() for n in names):
        return False
    if not ((pki / "sa.key").is_file() and (pki / "sa.pub").is_file()):
        return False
    checks = (
        run(["openssl", "x509", "-checkend", "604800", "-noout", "-in", str(pki / f"{n}.crt")], "check", check=False)
        for n in names
    )
    return all(done.returncode == 0 for done in checks)


def ensure(pki: Path, kubeconfig_dir: Path, admin_kubeconfig: Path) -> bool:
    """Issue the certificates and write the kubeconfigs unless they are all there; True if it issued."""
    issued = False
    if not _fresh(pki):
        pki.mkdir(parents=True, exist_ok=True)
        for old in pki.glob("*"):
            old.unlink()
        _ca(pki, "ca", "black-friday-local-ca")
        _ca(pki, "front-proxy-ca", "black-friday-local-front-proxy-ca")
        for cert in CERTS:
            _leaf(pki, cert)
        _key(pki / "sa.key")
        run(["openssl", "pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub")], "sa.pub")
        issued = True
    kubeconfig_dir.mkdir(parents=True, exist_ok=True)
    for name, identity in KUBECONFIGS.items():
        target = admin_kubeconfig if name == "admin" else kubeconfig_dir / f"{name}.kubeconfig"
        write_kubeconfig(target, pki, identity, user=name)
    return issued


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(target: Path, pki: Path, identity: str, user: str) -> None:
    """A kubeconfig with the CA and the client certificate embedded (portable: `kubectl config view --raw`)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "bf-local",
                "cluster": {"server": APISERVER_URL, "certificate-authority-data": _b64(pki / "ca.crt")},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(pki / f"{identity}.crt"),
                    "client-key-data": _b64(pki / f"{identity}.key"),
                },
            }
        ],
        "contexts": [{"name": "bf-local", "context": {"cluster": "bf-local", "user": user}}],
        "current-context": "bf-local",
    }
    tmp = target.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(target)
