"""Config: strict validation, one line per error with its field path, schema kept in sync."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.config import AgentConfig, ConfigError, json_schema, load_config, parse_config
from tests.support import REPO, SQUARE_STORE, run_cli

EXAMPLE = REPO / "deploy" / "config.example.toml"


def test_example_config_passes_check_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out.strip() == "OK"


def test_every_fixture_config_is_valid() -> None:
    fixtures = sorted((REPO / "fixtures").glob("*/fixture.toml"))
    assert fixtures, "no fixtures found"
    for path in fixtures:
        load_config(path)


def test_wrong_field_exits_1_naming_the_field_path(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(
        SQUARE_STORE.replace('kind = "aisle"', 'kind = "aisel"') + "\n[privacy]\nk = 1\n"
    )
    result = run_cli("check-config", str(cfg))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{cfg}: store.zones[1].kind: ")
    assert lines[1].startswith(f"{cfg}: privacy.k: ")
    assert "greater than or equal to 2" in lines[1]
    assert result.stdout == ""


def test_unknown_field_is_an_error_not_ignored(tmp_path: Path) -> None:
    cfg = tmp_path / "typo.toml"
    cfg.write_text(SQUARE_STORE + "\n[aggregation]\nwindow_seconds = 60\n")
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    assert e.value.lines == [f"{cfg}: aggregation.window_seconds: Extra inputs are not permitted"]


def test_toml_syntax_error_is_one_line_with_position(tmp_path: Path) -> None:
    cfg = tmp_path / "broken.toml"
    cfg.write_text("[store\nid = 1\n")
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    assert len(e.value.lines) == 1
    assert "line 1" in e.value.lines[0]


def test_missing_file_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "a.jsonl").write_text("")
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        SQUARE_STORE
        + '[[sources.recorded]]\nid = "a"\npath = "feeds/a.jsonl"\n'
        + '[[sources.recorded]]\nid = "b"\npath = "feeds/missing.jsonl"\n'
    )
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    assert e.value.lines == [
        f"{cfg}: sources.recorded[1].path: no such file: {tmp_path}/feeds/missing.jsonl"
    ]
    cfg.write_text(SQUARE_STORE + '[[sources.recorded]]\nid = "a"\npath = "feeds/a.jsonl"\n')
    loaded = load_config(cfg)
    assert loaded.sources.recorded[0].path == tmp_path / "feeds" / "a.jsonl"


@pytest.mark.parametrize(
    ("patch", "path", "reason"),
    [
        ({"aggregation": {"window_s": 7000}}, "aggregation.window_s", "must divide 86400"),
        ({"store": {"id": "a/b", "gateway_id": "g"}}, "store.id", "should match pattern"),
        (
            {
                "store": {
                    "id": "s",
                    "gateway_id": "g",
                    "zones": [{"id": "z", "kind": "aisle", "polygon": [[0, 0], [1, 1], [2, 2]]}],
                }
            },
            "store.zones[0].polygon",
            "no area",
        ),
        (
            {
                "store": {
                    "id": "s",
                    "gateway_id": "g",
                    "zones": [
                        {"id": "z", "kind": "aisle", "polygon": [[0, 0], [1, 0], [1, 1]]},
                        {"id": "z", "kind": "promo", "polygon": [[0, 0], [1, 0], [1, 1]]},
                    ],
                }
            },
            "store.zones",
            "used twice",
        ),
    ],
)
def test_semantic_errors_name_their_field(patch: dict[str, Any], path: str, reason: str) -> None:
    data: dict[str, Any] = {"store": {"id": "s", "gateway_id": "g"}, **patch}
    with pytest.raises(ConfigError) as e:
        parse_config(data, name="c.toml")
    assert len(e.value.lines) == 1
    assert e.value.lines[0].startswith(f"c.toml: {path}: ")
    assert reason in e.value.lines[0]


def test_committed_schema_matches_the_models() -> None:
    committed = (REPO / "docs" / "config.schema.json").read_text()
    assert committed == json_schema(), "run `make schema` and commit docs/config.schema.json"


def test_every_field_has_a_title_and_a_description() -> None:
    schema = json.loads(json_schema())
    missing = []
    for name, definition in [("AgentConfig", schema), *schema.get("$defs", {}).items()]:
        for field, spec in definition.get("properties", {}).items():
            if "title" not in spec or "description" not in spec:
                missing.append(f"{name}.{field}")
    assert missing == []


def test_config_models_forbid_extra_everywhere() -> None:
    def walk(model: type) -> list[str]:
        bad = [] if model.model_config.get("extra") == "forbid" else [model.__name__]
        for f in model.model_fields.values():
            for arg in (*getattr(f.annotation, "__args__", ()), f.annotation):
                inner = getattr(arg, "__args__", (arg,))
                for t in inner:
                    if isinstance(t, type) and hasattr(t, "model_fields"):
                        bad += walk(t)
        return bad

    assert walk(AgentConfig) == []


def test_reorder_allowance_must_cover_the_latest_source(tmp_path: Path) -> None:
    reads = tmp_path / "reads.jsonl"
    reads.write_text("")
    data = {
        "store": {"id": "s", "gateway_id": "g"},
        "sources": {"rfid": [{"id": "r", "protocol": "recorded", "path": str(reads)}]},
        "aggregation": {"reorder_s": 3},
    }
    with pytest.raises(ConfigError) as e:
        parse_config(data, name="c.toml")
    assert e.value.lines == [
        "c.toml: aggregation.reorder_s: 3 s must exceed how late sources.rfid[0] can deliver "
        "(4.5 s)"
    ]
    data["aggregation"] = {"reorder_s": 5}
    parse_config(data)


def test_a_characteristic_set_defined_twice_is_an_error() -> None:
    rule = {"name": "fitness", "categories": ["protein"]}
    data = {
        "store": {"id": "s", "gateway_id": "g"},
        "behaviour": {"characteristics": [rule, {**rule, "categories": ["supplements"]}]},
    }
    with pytest.raises(ConfigError) as e:
        parse_config(data, name="c.toml")
    assert e.value.lines == [
        "c.toml: behaviour.characteristics: characteristic set 'fitness' is defined twice"
    ]


def test_check_config_checks_a_simulator_store_file_whole(tmp_path: Path) -> None:
    # A field engineer's one file for the gateway and the simulator: the agent part and
    # the [simulation] table are both checked, each error naming its table and field.
    store = REPO / "agent" / "sim" / "stores" / "demo-store.toml"
    assert run_cli("check-config", str(store)).stdout.strip() == "OK"
    bad = tmp_path / "store.toml"
    text = store.read_text().replace("walkable = ", "walkabel = ", 1)
    bad.write_text(text.replace('kind = "aisle"', 'kind = "aisel"', 1))
    result = run_cli("check-config", str(bad))
    assert result.returncode == 1
    lines = sorted(result.stderr.strip().splitlines())
    assert any(line.startswith(f"{bad}: simulation: walkabel: ") for line in lines), lines
    assert any(line.startswith(f"{bad}: store.zones[") for line in lines), lines
