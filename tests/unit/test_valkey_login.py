"""How a service or tool logs in to Valkey: VALKEY_USER and VALKEY_PASSWORD, the password never shown."""

from __future__ import annotations

import logging

import pytest

from blackfriday.consumer.settings import ConsumerSettings
from blackfriday.valkeyconn import Login, connect, connect_as
from blackfriday.valkeyexporter.settings import ExporterSettings

SECRET = "pa55-w0rd-never-shown"


@pytest.mark.parametrize("settings_type", [ConsumerSettings, ExporterSettings])
def test_the_services_read_their_valkey_user_and_never_show_the_password(
    settings_type: type[ConsumerSettings] | type[ExporterSettings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_type.from_env({"VALKEY_USER": " consumer ", "VALKEY_PASSWORD": SECRET})
    assert settings.valkey_user == "consumer"
    assert settings.valkey_password == SECRET
    assert "consumer" in repr(settings)
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("bf-test").info("settings", extra={"settings": settings})
        logging.getLogger("bf-test").info("settings %s", settings)
    assert SECRET not in caplog.text
    assert settings_type.from_env({}).valkey_user == ""  # unset: the default user (a Valkey without users)


def test_a_login_comes_from_the_environment_and_goes_back_to_it() -> None:
    login = Login.from_env({"VALKEY_USER": "reader", "VALKEY_PASSWORD": f" {SECRET}\n"})
    assert login == Login("reader", SECRET)
    assert SECRET not in repr(login)
    assert login.env() == {"VALKEY_USER": "reader", "VALKEY_PASSWORD": SECRET}
    assert Login.from_env({}) == Login()
    assert Login().env() == {}


def test_a_client_sends_the_user_to_the_server_and_to_the_sentinels() -> None:
    """No server needed: the clients are made lazily; what they will send is in their connection kwargs."""
    direct = connect("127.0.0.1:1", SECRET, user="consumer")
    kwargs = direct.connection_pool.connection_kwargs
    assert (kwargs["username"], kwargs["password"]) == ("consumer", SECRET)
    through = connect_as("sentinel://127.0.0.1:1,127.0.0.1:2/bf", Login("reader", SECRET))
    pool = through.connection_pool
    assert (pool.connection_kwargs["username"], pool.connection_kwargs["password"]) == ("reader", SECRET)
    sentinel = pool.sentinel_manager.sentinels[0].connection_pool.connection_kwargs
    assert (sentinel["username"], sentinel["password"]) == ("reader", SECRET)
    anonymous = connect("127.0.0.1:1", None)
    assert anonymous.connection_pool.connection_kwargs["username"] is None


def test_with_a_ca_file_the_client_speaks_tls_to_the_server_and_the_sentinels() -> None:
    login = Login.from_env({"VALKEY_USER": "reader", "VALKEY_PASSWORD": SECRET, "VALKEY_CA_FILE": "/ca/ca.crt"})
    assert login.env()["VALKEY_CA_FILE"] == "/ca/ca.crt"
    direct = connect_as("127.0.0.1:1", login).connection_pool
    assert direct.connection_class.__name__ == "SSLConnection"
    assert direct.connection_kwargs["ssl_ca_certs"] == "/ca/ca.crt"
    assert direct.connection_kwargs["ssl_cert_reqs"] == "required"
    pool = connect_as("sentinel://127.0.0.1:1/bf", login).connection_pool
    assert "SSL" in pool.connection_class.__name__
    sentinel = pool.sentinel_manager.sentinels[0].connection_pool
    assert sentinel.connection_class.__name__ == "SSLConnection"
    assert sentinel.connection_kwargs["ssl_ca_certs"] == "/ca/ca.crt"
    plain = connect_as("127.0.0.1:1", Login("reader", SECRET)).connection_pool
    assert plain.connection_class.__name__ == "Connection"
    settings = ConsumerSettings.from_env({"VALKEY_CA_FILE": "/ca/ca.crt"})
    assert settings.valkey_ca_file == "/ca/ca.crt"
