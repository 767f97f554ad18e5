"""Broker URLs from the command line: forms store IT types, and one-line refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.publish.config import MqttConfig, TlsConfig
from agent.publish.mqtt_client import Backoff, TlsSetupError, build_client, credentials
from agent.publish.mqtt_url import BrokerUrlError, mqtt_config_from_url


@pytest.mark.parametrize(
    ("url", "host", "port", "user", "tls"),
    [
        ("mqtt://broker.local", "broker.local", 1883, None, False),
        ("mqtt://10.0.0.5:1884", "10.0.0.5", 1884, None, False),
        ("mqtts://gw-7@broker.example", "broker.example", 8883, "gw-7", True),
        ("MQTTS://agent%40store@broker:8884", "broker", 8884, "agent@store", True),
    ],
)
def test_accepted_forms(url: str, host: str, port: int, user: str | None, tls: bool) -> None:
    config = mqtt_config_from_url(url)
    assert (config.host, config.port, config.username) == (host, port, user)
    assert (config.tls is not None) == tls


def test_tls_files_from_query_and_other_settings_kept_from_the_config_file(
    tmp_path: Path,
) -> None:
    ca, cert, key = (tmp_path / n for n in ("ca.pem", "c.pem", "c.key"))
    for f in (ca, cert, key):
        f.write_text("-")
    base = MqttConfig(host="old", keepalive_s=45, client_id="gw-7", tls=TlsConfig(ca_file=ca))
    config = mqtt_config_from_url(f"mqtts://new?cert={cert}&key={key}", base=base)
    assert config.host == "new" and config.keepalive_s == 45 and config.client_id == "gw-7"
    assert config.tls == TlsConfig(ca_file=ca, cert_file=cert, key_file=key)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://broker", "scheme must be mqtt:// or mqtts://"),
        ("mqtt://user:hunter2@broker", "do not put the password in the URL"),
        ("mqtt://broker:70000", "out of range"),
        ("mqtt://", "no host"),
        ("mqtt://broker?ca=/ca.pem", "use mqtts://"),
        ("mqtts://broker?verify=no", "unknown parameter 'verify'"),
        ("mqtts://broker?cert=/", "cert_file and key_file must be given together"),
    ],
)
def test_refusals_are_one_line_without_the_password(url: str, says: str) -> None:
    with pytest.raises(BrokerUrlError) as err:
        mqtt_config_from_url(url)
    message = str(err.value)
    assert says in message and "\n" not in message and "hunter2" not in message


def test_login_comes_from_the_environment_unless_the_url_names_the_user() -> None:
    env = {"EDGE_AGENT_MQTT_USERNAME": "env-user", "EDGE_AGENT_MQTT_PASSWORD": "pw"}
    assert credentials(MqttConfig(host="h"), env) == ("env-user", "pw")
    assert credentials(mqtt_config_from_url("mqtt://url-user@h"), env) == ("url-user", "pw")
    assert credentials(MqttConfig(host="h"), {}) == ("", "")


def test_backoff_grows_to_the_cap_with_full_jitter() -> None:
    import random

    backoff = Backoff(cap_s=8, base_s=0.5, rng=random.Random(7))
    ceilings = [0.5, 1, 2, 4, 8, 8, 8]
    delays = [backoff.next_delay() for _ in ceilings]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays), "jittered, not fixed steps"
    many = [backoff.next_delay() for _ in range(200)]
    assert max(many) <= 8 and min(many) < 2, "uniform over [0, cap], not clustered at the cap"
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_an_unreadable_tls_file_is_one_line_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    for ca in (bad, tmp_path / "missing.pem"):
        config = mqtt_config_from_url(f"mqtts://broker?ca={ca}")
        with pytest.raises(TlsSetupError) as err:
            build_client(config, "gw-1", environ={})
        assert str(ca) in str(err.value) and "\n" not in str(err.value)
