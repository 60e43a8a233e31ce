"""Settings from TODOKE_* variables."""

import pytest

from todoke.config import Settings, SettingsError


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.smtp_listen == ("127.0.0.1", 2525)
    assert settings.http_listen == ("127.0.0.1", 8025)
    assert settings.fax_domain == "fax.localhost"
    assert settings.relay is None
    assert settings.database_url == f"sqlite:///{tmp_path / 'todoke-data' / 'todoke.db'}"
    assert settings.minutes(3) == 180


def test_values_are_parsed():
    settings = Settings.from_env({
        "TODOKE_RELAY": "mail.example.jp:587", "TODOKE_MINUTE_SECONDS": "0.5",
        "TODOKE_FAX_DOMAIN": "FAX.Example.JP", "TODOKE_REJECT_MODE": "bounce",
    })
    assert settings.relay == ("mail.example.jp", 587)
    assert settings.minutes(3) == 1.5
    assert settings.fax_domain == "fax.example.jp"
    assert settings.reject_mode == "bounce"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TODOKE_SMTP_LISTEN", "2525"),
        ("TODOKE_HTTP_LISTEN", "localhost:99999"),
        ("TODOKE_MINUTE_SECONDS", "0"),
        ("TODOKE_MINUTE_SECONDS", "fast"),
        ("TODOKE_REJECT_MODE", "drop"),
        ("TODOKE_FAX_TRANSPORT", "modem"),
        ("TODOKE_TLS_CERT", "/etc/cert.pem"),
    ],
)
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
