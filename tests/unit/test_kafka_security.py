"""The services' Kafka security settings: what kafka-python gets, and a missing or inconsistent setting
stops the start naming the variable."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from bftools.stack.tls import make_ca
from blackfriday.consumer.settings import ConsumerSettings
from blackfriday.kafkaconn import KafkaSecurity
from blackfriday.settings import FromEnv, SettingsError
from blackfriday.writer.settings import WriterSettings

SERVICES = [WriterSettings, ConsumerSettings]


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.crt"
    path.write_bytes(make_ca("test CA", datetime.timedelta(days=1)).cert_pem)
    return str(path)


def sasl(ca: str, **more: str) -> dict[str, str]:
    return {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_USERNAME": "writer",
        "KAFKA_PASSWORD": "s3cret-pass",
        "KAFKA_CA_FILE": ca,
        **more,
    }


@pytest.mark.parametrize("settings", SERVICES)
def test_plaintext_is_the_default_and_sets_nothing_else(settings: type[FromEnv]) -> None:
    loaded = settings.from_env({})
    assert loaded.kafka_security.client_config() == {"security_protocol": "PLAINTEXT"}  # type: ignore[attr-defined]


@pytest.mark.parametrize("settings", SERVICES)
def test_sasl_ssl_gives_kafka_python_a_scram_login_and_the_ca(settings: type[FromEnv], ca_file: str) -> None:
    loaded = settings.from_env(sasl(ca_file, KAFKA_SECURITY_PROTOCOL="sasl_ssl"))
    assert loaded.kafka_security.client_config() == {  # type: ignore[attr-defined]
        "security_protocol": "SASL_SSL",
        "ssl_check_hostname": True,
        "ssl_cafile": ca_file,
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "writer",
        "sasl_plain_password": "s3cret-pass",
    }


def test_ssl_without_a_ca_file_trusts_the_systems_cas() -> None:
    config = WriterSettings.from_env({"KAFKA_SECURITY_PROTOCOL": "SSL"}).kafka_security.client_config()
    assert config == {"security_protocol": "SSL", "ssl_check_hostname": True, "ssl_cafile": None}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"KAFKA_USERNAME": ""}, r"^KAFKA_USERNAME: required with KAFKA_SECURITY_PROTOCOL=SASL_SSL$"),
        ({"KAFKA_PASSWORD": ""}, r"^KAFKA_PASSWORD: required with KAFKA_SECURITY_PROTOCOL=SASL_SSL$"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}, r"^KAFKA_SECURITY_PROTOCOL: expected one of PLAINTEXT, "),
        ({"KAFKA_SASL_MECHANISM": "GSSAPI"}, r"^KAFKA_SASL_MECHANISM: expected one of SCRAM-SHA-512, "),
        ({"KAFKA_SECURITY_PROTOCOL": "PLAINTEXT", "KAFKA_CA_FILE": ""}, r"^KAFKA_USERNAME: set, but .* PLAINTEXT"),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_CA_FILE": ""}, r"^KAFKA_USERNAME: set, but .* SSL, which has no"),
        ({"KAFKA_CA_FILE": "/nonexistent/ca.crt"}, r"^KAFKA_CA_FILE: no such file '/nonexistent/ca.crt'$"),
    ],
)
@pytest.mark.parametrize("settings", SERVICES)
def test_a_missing_or_inconsistent_setting_names_the_variable(
    settings: type[FromEnv], ca_file: str, change: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        settings.from_env(sasl(ca_file, **change))


def test_a_ca_file_with_plaintext_is_refused(ca_file: str) -> None:
    with pytest.raises(SettingsError, match=r"^KAFKA_CA_FILE: set, but KAFKA_SECURITY_PROTOCOL is PLAINTEXT"):
        ConsumerSettings.from_env({"KAFKA_CA_FILE": ca_file})


def test_a_ca_file_that_is_no_certificate_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "ca.crt"
    bad.write_text("not a certificate\n")
    with pytest.raises(SettingsError, match=r"^KAFKA_CA_FILE: .* is not a readable PEM certificate file"):
        WriterSettings.from_env({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_CA_FILE": str(bad)})


@pytest.mark.parametrize("settings", SERVICES)
def test_the_password_is_in_no_repr(settings: type[FromEnv], ca_file: str) -> None:
    loaded = settings.from_env(sasl(ca_file))
    assert "s3cret-pass" not in repr(loaded)
    assert "s3cret-pass" not in repr(loaded.kafka_security)  # type: ignore[attr-defined]


def test_the_environment_of_a_security_gives_it_back(ca_file: str) -> None:
    security = KafkaSecurity("SASL_SSL", "SCRAM-SHA-256", "consumer", "pw", ca_file)
    assert ConsumerSettings.from_env(security.env()).kafka_security == security
    plain = KafkaSecurity()
    assert WriterSettings.from_env(plain.env()).kafka_security == plain
