"""Broker URLs for the command line: ``mqtt://[user@]host[:port]`` and ``mqtts://...``.

The password is never part of the URL (it would show in ``ps`` and shell history):
it comes from the environment variable named by ``password_env``. TLS files may
be given as query parameters: ``mqtts://host?ca=ca.pem&cert=gw.pem&key=gw.key``.

Example:
    >>> cfg = mqtt_config_from_url("mqtts://agent@broker.example:8884")
    >>> (cfg.host, cfg.port, cfg.username, cfg.tls is not None)
    ('broker.example', 8884, 'agent', True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import ValidationError

from agent.publish.config import MqttConfig

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
TLS_PARAMS = {"ca": "ca_file", "cert": "cert_file", "key": "key_file"}


class BrokerUrlError(ValueError):
    """The URL cannot be used; the message is one line saying why."""


def mqtt_config_from_url(url: str, base: MqttConfig | None = None) -> MqttConfig:
    """A broker config from a URL, keeping the other settings of ``base`` (if any).

    Raises:
        BrokerUrlError: unknown scheme, no host, a password in the URL, a bad port
            or an unknown query parameter.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise BrokerUrlError(f"broker URL {_redact(url)}: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise BrokerUrlError(
            f"broker URL {_redact(url)}: scheme must be mqtt:// or mqtts://, got {scheme or 'none'}"
        )
    if parts.password is not None:
        raise BrokerUrlError(
            "broker URL: do not put the password in the URL; set it in the environment "
            f"variable {(base or _defaults()).password_env}"
        )
    if not parts.hostname:
        raise BrokerUrlError(f"broker URL {url}: no host")
    fields: dict[str, Any] = dict(base.model_dump(exclude={"tls"})) if base else {}
    fields.update(host=parts.hostname, port=port or DEFAULT_PORTS[scheme])
    if parts.username:
        fields["username"] = unquote(parts.username)
    tls_fields: dict[str, Any] = {}
    for name, values in parse_qs(parts.query, strict_parsing=False).items():
        if name not in TLS_PARAMS:
            raise BrokerUrlError(
                f"broker URL: unknown parameter {name!r}; known: {', '.join(TLS_PARAMS)}"
            )
        tls_fields[TLS_PARAMS[name]] = Path(values[-1])
    if scheme == "mqtts":
        inherited = base.tls.model_dump() if base and base.tls else {}
        fields["tls"] = {**inherited, **tls_fields}  # validated with the rest below
    elif tls_fields:
        raise BrokerUrlError("broker URL: TLS files given for mqtt://; use mqtts://")
    try:
        return MqttConfig(**fields)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise BrokerUrlError(f"broker URL: {where}: {message}") from None


def _defaults() -> MqttConfig:
    return MqttConfig(host="localhost")


def _redact(url: str) -> str:
    """The URL without anything between the scheme and the host (a login)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url
