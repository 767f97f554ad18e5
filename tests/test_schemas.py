"""The documented MQTT interface holds: what the agent really sends matches docs/.

Every event of every fixture replay, the health and status messages of a live run
against a real mosquitto, and the examples in docs/events.md are validated against
the JSON Schemas in docs/schemas/; docs/asyncapi.yaml is checked by the real
AsyncAPI parser (installed from npm into .cache/asyncapi on first use), which also
validates the same payloads against the schemas the document references.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from agent.config import load_config
from agent.publish.events import SCHEMA_VERSION
from agent.publish.mqtt import QOS_BY_TOPIC
from agent.publish.sink import Event, Sink
from agent.runtime import replay
from tests.conftest import Broker, free_port
from tests.publish_helpers import Subscriber, retained_status
from tests.support import REPO, SQUARE_STORE, wait_until

DOCS = REPO / "docs"
SCHEMAS = DOCS / "schemas"
FIXTURES = sorted(REPO.glob("fixtures/*/fixture.toml"))
NODE_PREFIX = REPO / ".cache" / "asyncapi"
NODE_PACKAGES = ("@asyncapi/parser@3", "ajv@8", "ajv-formats@2")
"""Pinned majors: the parser, and Ajv with its 2020-12 dialect for our payload schemas."""
TYPE = re.compile(r"^edge-agent\.([a-z_]+)\.v([0-9]+)$")
STATUS_TOPIC = "retail/v1/t-store/gw-t/status"
"""The status topic of tests.support.SQUARE_STORE under the default prefix."""
TRACK_IDS = (918273645, 918273646, 918273647)
"""Distinctive track ids for the live feed, so a leak into any payload is findable."""


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.v1.json").read_text())
    return loaded


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER)


def errors(name: str, instance: object) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(name).iter_errors(instance)
    ]


def check_event(event: Event) -> str:
    """Validate envelope and data (chosen by ``type``); returns the kind."""
    assert errors("envelope", event) == [], event
    kind, major = TYPE.fullmatch(event["type"]).groups()  # type: ignore[union-attr]
    assert event["dataschema"] == f"urn:edge-agent:schema:{kind}:{major}"
    assert schema(kind)["$id"] == event["dataschema"]
    assert errors(kind, event["data"]) == [], (kind, event["data"])
    if "zone" in event["data"]:  # counts: the subject names the scope
        zone = event["data"]["zone"]
        assert event["subject"] == (zone["id"] if zone else "store")
    for path in event["data"].get("privacy", {}).get("suppressed", []):
        value: Any = event["data"]
        for part in path.split("."):
            value = value[part]
        assert value is None, f"{path} is listed as suppressed but published as {value!r}"
    return kind


class Collect(Sink):
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, topic: str, event: Event) -> None:
        self.events.append(event)


def replay_fixture(toml: Path) -> list[Event]:
    sink = Collect()
    replay(load_config(toml), [sink], base_dir=str(toml.parent))
    return sink.events


def first_traffic(events: list[Event]) -> Event:
    """A deep copy of the first traffic event, to spoil in a test."""
    event = next(e for e in events if e["type"] == "edge-agent.traffic.v1")
    return json.loads(json.dumps(event))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def demo_events() -> list[Event]:
    return replay_fixture(REPO / "fixtures" / "demo-store" / "fixture.toml")


# -- the schemas themselves -------------------------------------------------------


def _undocumented(node: Any, root: dict[str, Any], where: str) -> Iterator[str]:
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            target = prop
            if "$ref" in prop and not {"title", "description"} <= prop.keys():
                target = root["$defs"][prop["$ref"].removeprefix("#/$defs/")]
            if not (target.get("title") and target.get("description")):
                yield f"{where}/{name}"
        for key, value in node.items():
            yield from _undocumented(value, root, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _undocumented(value, root, f"{where}/{i}")


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.json")), ids=lambda p: p.name)
def test_schema_is_valid_draft_2020_12_and_documents_every_property(path: Path) -> None:
    doc = json.loads(path.read_text())
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(doc)
    assert doc["title"] and doc["description"]
    assert list(_undocumented(doc, doc, path.name)) == []


def test_every_payload_of_ours_is_closed_to_unknown_fields() -> None:
    for name in ("envelope", "traffic", "characteristics", "health", "status"):
        assert schema(name)["additionalProperties"] is False, name
    # The shared pieces are identical copies, so the two payloads describe one window.
    traffic, chars = schema("traffic"), schema("characteristics")
    for part in ("window", "zone", "count", "time"):
        assert traffic["$defs"][part] == chars["$defs"][part], part


def test_every_kind_the_agent_publishes_has_its_schema_file() -> None:
    for kind, major in SCHEMA_VERSION.items():
        path = SCHEMAS / f"{kind}.v{major}.json"
        assert path.exists(), f"{kind} is published as v{major} but {path.name} is missing"
        assert json.loads(path.read_text())["$id"] == f"urn:edge-agent:schema:{kind}:{major}"


# -- what the agent really sends --------------------------------------------------


@pytest.mark.parametrize("toml", FIXTURES, ids=lambda p: p.parent.name)
def test_every_replayed_event_validates(toml: Path) -> None:
    events = replay_fixture(toml)
    kinds = [check_event(e) for e in events]
    assert "traffic" in kinds, f"{toml.parent.name} produced no traffic events"
    # The id is what consumers dedupe on: two different events never share one.
    assert len({e["id"] for e in events}) == len(events)


def test_the_schemas_reject_a_wrong_payload(demo_events: list[Event]) -> None:
    event = first_traffic(demo_events)
    data = event["data"]
    assert errors("traffic", data) == []
    string_count = json.loads(json.dumps(data))
    string_count["footfall"]["in"] = "25"
    assert any("footfall/in" in e for e in errors("traffic", string_count))
    missing = json.loads(json.dumps(data))
    del missing["occupancy"]["mean"]
    assert any("'mean' is a required property" in e for e in errors("traffic", missing))
    extra = json.loads(json.dumps(data))
    extra["zone"] = {"id": "promo", "kind": "promo", "device": "aa:bb:cc:dd:ee:ff"}
    assert errors("traffic", extra) != []
    event["ulid"] = event.pop("id")
    assert len(errors("envelope", event)) == 2  # id missing, ulid not allowed
    health = {"store_id": "s", "gateway_id": "g", "agent_version": "0.1.0", "uptime_s": 1}
    health |= {"python": "3.11.7", "sinks": {}, "pipeline": {}, "sources": {"cam": {}}}
    assert len(errors("health", health)) == 6 + 5  # pipeline's 6 fields, the source's 5
    assert errors("status", {"state": "asleep", "agent_version": "1", "models": {}}) != []


CHARACTERISTICS = {
    "store_id": "demo-store",
    "gateway_id": "gw-1",
    "window": {
        "start": "2025-11-29T08:00:00.000Z",
        "end": "2025-11-29T08:05:00.000Z",
        "observed_from": "2025-11-29T08:00:00.000Z",
        "observed_to": "2025-11-29T08:05:00.000Z",
        "complete": True,
    },
    "zone": None,
    "visits": 17,
    "segments": {
        "mission": 6,
        "wanderer": 11,
        "decisive": 9,
        "indecisive": None,
        "showroomer": 0,
        "shopper": 17,
        "bargain_hunter": 7,
        "brand_conscious": 10,
    },
    "characteristics": {"small_basket": 12, "family_with_kids": None, "fitness": 0},
    "model": {"name": "behaviour", "version": "1.0.0", "sensors": ["camera", "rfid"]},
    "privacy": {
        "k": 5,
        "epsilon": None,
        "noise": "none",
        "suppressed": ["segments.indecisive", "characteristics.family_with_kids"],
    },
}
"""The shape the lead specified for issue #8; replaced by real events once the
pipeline publishes characteristics (test_every_replayed_event_validates covers those)."""


def test_the_characteristics_schema_takes_the_specified_shape_and_only_it() -> None:
    assert errors("characteristics", CHARACTERISTICS) == []
    bad = json.loads(json.dumps(CHARACTERISTICS))
    bad["segments"]["mission"] = "6"
    bad["segments"]["impulse"] = 3  # segments are a fixed set; characteristics are open
    bad["characteristics"]["Family Kids"] = 2
    bad["model"]["sensors"] = ["camera", "lidar"]
    bad["privacy"]["k"] = 1
    bad["privacy"]["epsilon"] = 0
    del bad["visits"]
    assert len(errors("characteristics", bad)) == 7


# -- a live run against a real broker ---------------------------------------------


def _feed_lines(start: float) -> str:
    return "".join(
        f'{{"type":"track","t":{start + i},"track":{track},"x":5.0,"y":5}}\n'
        for n, track in enumerate(TRACK_IDS)
        for i in range(n, n + 20)
    )


def _start_agent(config: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "run", "--config", str(config)],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


def _status_states(sub: Subscriber) -> list[str]:
    return [m.json()["state"] for m in sub.on("status")]


def _health_counted(sub: Subscriber) -> bool:
    """A health event has arrived that counts the feed's observations."""
    return any(m.json()["data"]["sources"]["cam"]["observations"] for m in sub.on("health"))


@pytest.fixture(scope="module")
def live_messages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[Any]]]:
    """Payloads per topic of two live runs: one stopped by SIGTERM, one killed."""
    tmp = tmp_path_factory.mktemp("live")
    broker = Broker(port=free_port(), workdir=tmp)
    broker.start()
    sub = Subscriber(broker.port)
    fifo = tmp / "feed.fifo"
    os.mkfifo(fifo)
    config = tmp / "agent.toml"
    config.write_text(
        SQUARE_STORE
        + f'[[sources.recorded]]\nid = "cam"\npath = "{fifo}"\n'
        + "[aggregation]\nwindow_s = 86400\nvisit_timeout_s = 5\n[privacy]\nk = 2\n"
        + "[runtime]\nhealth_interval_s = 1\n"
        + f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\nreconnect_max_s = 0.5\n'
        + f'[outbox]\npath = "{tmp / "outbox.db"}"\n'
    )
    try:
        proc = _start_agent(config)
        # Opening a FIFO for writing waits until the agent opens it for reading.
        with fifo.open("w") as writer:
            writer.write(_feed_lines(float(int(time.time()) - 30)))
            writer.flush()
            assert wait_until(lambda: _health_counted(sub), 20), "no health with observations"
            proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, stderr
        assert wait_until(lambda: "stopped" in _status_states(sub), 10)
        retained = retained_status(broker.port, STATUS_TOPIC)
        assert retained is not None and retained["state"] == "stopped"

        proc = _start_agent(config)  # blocks opening the FIFO, connected, until killed
        assert wait_until(lambda: _status_states(sub).count("online") == 2, 20)
        proc.kill()
        proc.communicate(timeout=10)
        assert wait_until(lambda: "offline" in _status_states(sub), 10), "no last will"
        retained = retained_status(broker.port, STATUS_TOPIC)
        assert retained is not None and retained["state"] == "offline"
        yield {
            "status": [m.json() for m in sub.on("status")],
            "health": [m.json() for m in sub.on("health")],
            "events": [m.json() for m in sub.messages if not m.topic.endswith("/status")],
            "raw": [m.payload for m in sub.messages],
        }
    finally:
        sub.close()
        broker.stop()


def test_live_health_and_every_status_validate(live_messages: dict[str, list[Any]]) -> None:
    assert live_messages["health"], "the live run published no health event"
    kinds = {check_event(event) for event in live_messages["events"]}
    assert "health" in kinds
    health = json.loads(json.dumps(live_messages["health"][-1]["data"]))  # others use it too
    assert health["sources"]["cam"]["observations"] > 0  # a source's own counter, allowed
    assert "MqttSink" in health["sinks"]
    # A source may report maps of counters (a camera's crossings per line), never lists:
    # a list is how per-person records would slip into a health event.
    health["sources"]["cam"]["crossings"] = {"door": {"in": 12, "out": 9}}
    assert errors("health", health) == []
    health["sources"]["cam"]["tracks"] = list(TRACK_IDS)
    assert [e.split(":")[0] for e in errors("health", health)] == ["sources/cam/tracks"]
    statuses = live_messages["status"]
    assert sorted({s["state"] for s in statuses}) == ["offline", "online", "stopped"]
    for status in statuses:
        assert errors("status", status) == [], status


def test_no_track_id_reaches_the_broker(live_messages: dict[str, list[Any]]) -> None:
    raw = b"\n".join(live_messages["raw"])
    assert raw, "nothing was published"
    for track in TRACK_IDS:
        assert str(track).encode() not in raw


# -- the AsyncAPI document --------------------------------------------------------


def _node_parser() -> Path:
    """The npm packages the validator script needs, installed once into .cache/."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are needed to validate docs/asyncapi.yaml: run `make test`")
    if not (NODE_PREFIX / "node_modules" / "@asyncapi" / "parser" / "package.json").exists():
        NODE_PREFIX.mkdir(parents=True, exist_ok=True)
        # --ignore-scripts: no package's install script runs (one would send usage data).
        flags = ["--no-audit", "--no-fund", "--ignore-scripts"]
        done = subprocess.run(
            [npm, "install", "--prefix", str(NODE_PREFIX), *flags, *NODE_PACKAGES],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    return NODE_PREFIX


def validate_asyncapi(document: Path, samples: dict[str, list[Any]] | None = None) -> Any:
    prefix = _node_parser()
    args = ["node", str(REPO / "tests" / "asyncapi_validate.mjs"), str(prefix), str(document)]
    if samples is not None:
        path = document.parent / "samples.json"
        path.write_text(json.dumps(samples))
        args.append(str(path))
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_asyncapi_document_is_valid_and_matches_what_is_sent(
    tmp_path: Path, demo_events: list[Event], live_messages: dict[str, list[Any]]
) -> None:
    shutil.copytree(SCHEMAS, tmp_path / "schemas")
    shutil.copy(DOCS / "asyncapi.yaml", tmp_path / "asyncapi.yaml")
    wrong = first_traffic(demo_events)
    wrong["data"]["footfall"]["in"] = "25"
    samples: dict[str, list[Any]] = {"status": live_messages["status"]}
    for event in demo_events + live_messages["events"]:
        samples.setdefault(TYPE.fullmatch(event["type"]).group(1), []).append(event)  # type: ignore[union-attr]
    assert {"traffic", "characteristics", "health"} <= samples.keys()
    samples["traffic"].append(wrong)
    report = validate_asyncapi(tmp_path / "asyncapi.yaml", samples)
    assert [d for d in report["diagnostics"] if d["severity"] == 0] == []
    results = {(s["channel"], s["index"]): s for s in report["samples"]}
    assert len(results) == sum(len(v) for v in samples.values())
    bad = [s for s in results.values() if not s["valid"]]
    assert bad == [results[("traffic", len(samples["traffic"]) - 1)]], bad
    assert any("/data/footfall/in" in e for e in bad[0]["errors"])

    channels, operations = report["channels"], report["operations"]
    for topic in ("status", "traffic", "characteristics", "health", "config/set", "models/update"):
        [channel] = [c for c, v in channels.items() if v["address"].endswith("}/" + topic)]
        assert channels[channel]["parameters"] == ["prefix", "store_id", "gateway_id"]
        [op] = [o for o in operations.values() if o["channels"] == [channel]]
        if topic in QOS_BY_TOPIC:
            assert (op["action"], op["qos"], op["retain"]) == ("send", QOS_BY_TOPIC[topic], False)
        elif topic == "status":
            assert (op["action"], op["qos"], op["retain"]) == ("send", 1, True)
        else:
            assert op["action"] == "receive" and "not-implemented" in op["tags"]


def test_asyncapi_validation_reports_a_broken_document(tmp_path: Path) -> None:
    shutil.copytree(SCHEMAS, tmp_path / "schemas")
    text = (DOCS / "asyncapi.yaml").read_text()
    text = text.replace("qos: 0", "qos: 3").replace("./schemas/health.v1.json", "./schemas/x.json")
    (tmp_path / "asyncapi.yaml").write_text(text)
    report = validate_asyncapi(tmp_path / "asyncapi.yaml")
    errs = [d for d in report["diagnostics"] if d["severity"] == 0]
    assert any(d["path"].endswith("publishHealth/bindings/mqtt/qos") for d in errs), errs
    assert any(d["code"] == "invalid-ref" and "x.json" in d["message"] for d in errs), errs


# -- docs/events.md ---------------------------------------------------------------


OPEN_KEYS = frozenset({"characteristics", "sources", "observations", "late", "events", "sinks"})
"""Maps whose keys are data (configured names, source ids), not part of the shape."""


def _shape_differences(example: Any, real: Any, where: str = "") -> Iterator[str]:
    """Where two payloads differ in their keys (values, and null vs object, may differ)."""
    if not (isinstance(example, dict) and isinstance(real, dict)):
        return
    if example.keys() != real.keys():
        yield f"{where or '/'}: {sorted(example.keys() ^ real.keys())}"
    for key in example.keys() & real.keys():
        if key not in OPEN_KEYS:
            yield from _shape_differences(example[key], real[key], f"{where}/{key}")


def test_events_md_examples_validate_and_have_the_shape_of_real_events(
    demo_events: list[Event], live_messages: dict[str, list[Any]]
) -> None:
    text = (DOCS / "events.md").read_text()
    examples = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    kinds = []
    for example in examples:
        if "specversion" in example:
            kinds.append(check_event(example))
        else:
            assert errors("status", example) == []
            kinds.append("status")
    assert {"traffic", "characteristics", "health", "status"} <= set(kinds)
    real = {e["type"]: e for e in demo_events + live_messages["health"]}
    compared = set()
    for example in examples:
        if example.get("type") in real:
            assert list(_shape_differences(example, real[example["type"]])) == [], example["type"]
            compared.add(example["type"].split(".")[1])
    assert compared == {"traffic", "characteristics", "health"}
    assert not re.search(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", text, re.I), "a MAC in the docs"
