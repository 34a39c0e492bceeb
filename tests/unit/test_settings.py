"""Settings from the environment: defaults, and a bad value stops start-up naming the variable."""

from __future__ import annotations

import pytest

from blackfriday.api.settings import ApiSettings
from blackfriday.bridge.settings import BridgeSettings
from blackfriday.consumer.settings import ConsumerSettings
from blackfriday.sale import Category
from blackfriday.settings import Env, FromEnv, SettingsError
from blackfriday.writer.settings import WriterSettings


def test_defaults_are_the_seeds_names_and_values() -> None:
    consumer = ConsumerSettings.from_env({})
    assert consumer.kafka_brokers == ["localhost:9092"]
    assert consumer.kafka_topic == "sales-topic"
    assert consumer.kafka_group == "black-friday-group"
    assert consumer.valkey_addr == "localhost:6379"
    writer = WriterSettings.from_env({})
    assert (writer.listen_port, writer.kafka_topic) == (50051, "sales-topic")
    assert ApiSettings.from_env({}).listen_port == 8080


@pytest.mark.parametrize(
    ("value", "expected"), [("ropa", Category.Ropa), ("2", Category.Ropa), ("HOGAR", Category.Hogar)]
)
def test_a_category_setting_takes_a_name_or_a_number(value: str, expected: Category) -> None:
    assert Env({"FOCUS_CATEGORY": value}).category("FOCUS_CATEGORY", Category.Belleza) is expected


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KAFKA_BROKERS", "kafka"),
        ("KAFKA_BROKERS", "a:1,b"),
        ("VALKEY_ADDR", "valkey:port"),
        ("BATCH_MAX", "0"),
        ("BATCH_MAX", "lots"),
        ("LOG_LEVEL", "loud"),
        ("METRICS_PORT", "70000"),
        ("PRICE_HISTORY_CAP", "0"),
        ("VALKEY_ADDR", "sentinel://s1:26379"),  # no primary name
        ("VALKEY_ADDR", "sentinel://s1/bf"),
        ("VALKEY_ADDR", "sentinel:///bf"),
    ],
)
def test_bad_consumer_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}: "):
        ConsumerSettings.from_env({variable: value})


@pytest.mark.parametrize(
    "value", ["valkey:6379", "10.0.0.1:6379", "sentinel://s1:26379/bf", "sentinel://a:26379,b.ns.svc:26379/my-primary"]
)
def test_the_valkey_address_is_a_server_or_sentinels_and_a_primary_name(value: str) -> None:
    assert ConsumerSettings.from_env({"VALKEY_ADDR": value}).valkey_addr == value


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BRIDGE_URL", "bridge:8081"),
        ("FORWARD_TIMEOUT_SECONDS", "nan"),
        ("FORWARD_BATCH_MAX", "0"),
        ("LISTEN_PORT", "-1"),
    ],
)
def test_bad_api_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}: "):
        ApiSettings.from_env({variable: value})


def test_an_unknown_category_names_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"^FOCUS_CATEGORY: "):
        Env({"FOCUS_CATEGORY": "Juguetes"}).category("FOCUS_CATEGORY", Category.Belleza)


def test_blank_values_mean_the_default() -> None:
    assert ApiSettings.from_env({"LISTEN_PORT": "  "}).listen_port == 8080


@pytest.mark.parametrize("settings", [ApiSettings, BridgeSettings, WriterSettings, ConsumerSettings])
def test_every_setting_is_declared_once_with_its_meaning(settings: type[FromEnv]) -> None:
    specs = settings.specs()
    names = [spec.name for spec in specs]
    assert len(names) == len(set(names))
    assert all(spec.doc for spec in specs)
    assert "LOG_LEVEL" in names
    assert settings.from_env({})  # every default is a valid value


def test_a_hostport_list_default_is_split_like_a_value() -> None:
    assert ConsumerSettings.from_env({}).kafka_brokers == ["localhost:9092"]
    assert ConsumerSettings.from_env({"KAFKA_BROKERS": "a:1, b:2"}).kafka_brokers == ["a:1", "b:2"]


def test_bounds_are_written_as_people_write_them() -> None:
    with pytest.raises(SettingsError, match=r"^PRICE_HISTORY_CAP: must be at most 1000000, got 2000000$"):
        ConsumerSettings.from_env({"PRICE_HISTORY_CAP": "2000000"})
    with pytest.raises(SettingsError, match=r"^GRPC_TIMEOUT_SECONDS: must be at least 0.1, got 0.05$"):
        BridgeSettings.from_env({"GRPC_TIMEOUT_SECONDS": "0.05"})


def test_a_grpc_target_takes_a_resolver_scheme() -> None:
    assert BridgeSettings.from_env({"GRPC_HOST": "dns:///w-headless:50051"}).grpc_host == "dns:///w-headless:50051"
    with pytest.raises(SettingsError, match=r"^GRPC_HOST: "):
        BridgeSettings.from_env({"GRPC_HOST": "http://writer:50051"})


def test_the_secret_is_none_when_unset() -> None:
    assert ConsumerSettings.from_env({}).valkey_password is None
    assert ConsumerSettings.from_env({"VALKEY_PASSWORD": "s3cret"}).valkey_password == "s3cret"
