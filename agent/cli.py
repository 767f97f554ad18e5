"""The ``edge-agent`` command: run, replay, inspect, check-config."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import __version__
from agent.config import AgentConfig, ConfigError, load_config
from agent.publish.sink import Event, Sink

if TYPE_CHECKING:
    from agent.behaviour.models import ModelHolder

log = logging.getLogger("agent")

EXIT_OK = 0
EXIT_FAILED = 1  # bad config, mismatch against expected events, unreadable input
EXIT_USAGE = 2  # argparse's own code for bad arguments
FIXTURE_FILE = "fixture.toml"
EXPECTED_FILE = "expected.jsonl"


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )


def load_models(config: AgentConfig) -> ModelHolder:
    """The behaviour models for this store's feeds (one error line if refused)."""
    from agent.behaviour.models import ModelHolder
    from agent.pipeline import store_sensors

    return ModelHolder.start(config.behaviour.models_dir, store_sensors(config))


def model_versions(models: ModelHolder | None) -> dict[str, str]:
    model = None if models is None else models.model
    return {} if model is None else {model.name: model.version}


def build_sinks(
    config: AgentConfig, out: Path | None, models: ModelHolder | None = None
) -> list[Sink]:
    """Where events go: a file when asked, else the broker when configured, else the console.

    The broker's retained status names the behaviour models in use.
    """
    from agent.publish.sinks import ConsoleSink, JsonLinesFileSink

    if out is not None:
        return [JsonLinesFileSink(out)]
    if config.mqtt is not None:
        from agent.publish.mqtt_setup import SinkSetupError, open_mqtt_sink

        try:
            return [open_mqtt_sink(config, model_versions(models))]
        except SinkSetupError as e:
            print(str(e), file=sys.stderr)
            raise SystemExit(EXIT_FAILED) from None
    return [ConsoleSink()]


class CollectSink(Sink):
    """Keeps the events in memory (for --check)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, topic: str, event: Event) -> None:
        self.events.append(event)


# -- check-config ----------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate a config; a store file with a ``[simulation]`` table is checked whole,
    so a field engineer's one file for the gateway and the simulator needs no editing."""
    path = Path(args.file)
    try:
        if _has_simulation_table(path):
            try:
                from agent.sim.fixture import load_store
            except ImportError:
                print(
                    f"{path}: has a [simulation] table: install the sim extra to check it",
                    file=sys.stderr,
                )
                return EXIT_FAILED
            load_store(path)
        else:
            load_config(path)
    except ConfigError as e:
        for line in e.lines:
            print(line, file=sys.stderr)
        return EXIT_FAILED
    print("OK")
    return EXIT_OK


def _has_simulation_table(path: Path) -> bool:
    """Whether the file is a simulator store file; unreadable files say no (and then
    fail in ``load_config`` with its own one-line reason)."""
    from agent.sim.config import SIMULATION_TABLE  # pydantic only: no sim extra needed

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib

    try:
        return SIMULATION_TABLE in tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


# -- run -------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from agent.runtime import LiveRuntime

    path = Path(args.config)
    try:
        config = load_config(path)
    except ConfigError as e:
        for line in e.lines:
            print(line, file=sys.stderr)
        return EXIT_FAILED
    setup_logging(args.log_level or config.runtime.log_level)
    models = load_models(config)
    sinks = build_sinks(config, Path(args.out) if args.out else None, models)
    runtime = LiveRuntime(config, sinks, base_dir=str(path.resolve().parent), models=models)
    runtime.install_signal_handlers()
    clean = False
    try:
        runtime.run()
        clean = True
        from agent.publish.mqtt_setup import STOP_DRAIN_S, drain_sinks

        drain_sinks(sinks, STOP_DRAIN_S)
    finally:
        for sink in sinks:
            sink.close(clean=clean)
    return EXIT_OK


# -- replay ----------------------------------------------------------------


def fixture_config_path(target: Path) -> Path:
    return target / FIXTURE_FILE if target.is_dir() else target


def cmd_replay(args: argparse.Namespace) -> int:
    from agent.progress import Progress
    from agent.publish.events import dumps
    from agent.runtime import replay

    setup_logging(args.log_level or "INFO")
    path = fixture_config_path(Path(args.fixture))
    try:
        config = load_config(path)
    except ConfigError as e:
        for line in e.lines:
            print(line, file=sys.stderr)
        return EXIT_FAILED
    if args.mqtt or args.outbox:
        from agent.publish.mqtt_setup import with_broker
        from agent.publish.mqtt_url import BrokerUrlError

        try:
            config = with_broker(config, args.mqtt, args.outbox)
        except BrokerUrlError as e:
            print(str(e), file=sys.stderr)
            return EXIT_FAILED
    collect = CollectSink()
    checking = args.check or args.write_expected
    models = load_models(config)
    out = Path(args.out) if args.out else None
    sinks: list[Sink] = [collect] if checking else build_sinks(config, out, models)
    if checking and out is not None:
        sinks += build_sinks(config, out, models)
    progress = Progress(f"replay {path.parent.name}")
    queued: tuple[int, list[str]] = (0, [])
    try:
        result = replay(
            config,
            sinks,
            base_dir=str(path.resolve().parent),
            on_progress=progress.update,
            models=models,
        )
        from agent.publish.mqtt_setup import drain_sinks

        queued = drain_sinks(sinks, args.drain_timeout)
    finally:
        progress.done()
        for sink in sinks:
            sink.close(clean=True)
    log.info(
        "replayed %d observations: %s",
        result.observations,
        ", ".join(f"{n} {t}" for t, n in sorted(result.events.items())) or "no events",
    )
    if queued[0]:
        from agent.publish.mqtt_setup import EXIT_STILL_QUEUED

        print(
            f"{queued[0]} events still queued after {args.drain_timeout:g} s; they stay in "
            f"{', '.join(queued[1])} and are sent on the next start",
            file=sys.stderr,
        )
        return EXIT_STILL_QUEUED
    expected_path = path.parent / EXPECTED_FILE
    if args.write_expected:
        expected_path.write_text("".join(dumps(e) + "\n" for e in collect.events))
        log.info("wrote %d events to %s", len(collect.events), expected_path)
        return EXIT_OK
    if args.check:
        return check_events(collect.events, expected_path)
    return EXIT_OK


def check_events(got: list[Event], expected_path: Path) -> int:
    from agent.replaycheck import compare, read_expected

    try:
        expected = read_expected(expected_path)
    except (OSError, ValueError) as e:
        print(f"{expected_path}: cannot read expected events: {e}", file=sys.stderr)
        return EXIT_FAILED
    problems = compare(expected, got)
    if not problems:
        print(f"OK: {len(got)} events match {expected_path}")
        return EXIT_OK
    print(f"MISMATCH against {expected_path}:", file=sys.stderr)
    for line in problems:
        print(f"  {line}", file=sys.stderr)
    return EXIT_FAILED


# -- inspect ---------------------------------------------------------------


def cmd_inspect(args: argparse.Namespace) -> int:
    from agent.inspect import UnknownFileError, inspect_file

    setup_logging("WARNING")
    status = EXIT_OK
    for name in args.files:
        try:
            if args.annotate is not None:
                from agent.sources.camera.inspect import summarise_annotated

                summary: dict[str, Any] = summarise_annotated(Path(name), args.annotate)
            else:
                summary = inspect_file(Path(name))
        except UnknownFileError as e:
            print(str(e), file=sys.stderr)
            status = EXIT_FAILED
            continue
        except OSError as e:
            print(f"{name}: cannot read: {e.strerror or e}", file=sys.stderr)
            status = EXIT_FAILED
            continue
        print(json.dumps(summary, indent=2, sort_keys=False))
    return status


# -- entry -----------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="edge-agent",
        description="In-store edge sensing: anonymous shopper behaviour, "
        "published only as aggregates.",
    )
    p.add_argument("--version", action="version", version=f"edge-agent {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the agent on its configured live sources")
    run.add_argument("--config", required=True, help="TOML config file")
    run.add_argument("--out", help="append events to this JSON-lines file instead")
    run.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.set_defaults(func=cmd_run)

    rep = sub.add_parser("replay", help="replay a recorded fixture as fast as possible")
    rep.add_argument("fixture", help=f"fixture directory (with {FIXTURE_FILE}) or config file")
    rep.add_argument("--out", help="write events to this JSON-lines file instead of stdout")
    rep.add_argument(
        "--check", action="store_true", help=f"compare with {EXPECTED_FILE}; exit 1 on mismatch"
    )
    rep.add_argument(
        "--write-expected",
        action="store_true",
        help=f"(re)write {EXPECTED_FILE} from this replay",
    )
    rep.add_argument(
        "--mqtt",
        metavar="URL",
        help="publish to this broker through the outbox: mqtt://[user@]host[:port] or "
        "mqtts://...[?ca=FILE&cert=FILE&key=FILE]; password from $EDGE_AGENT_MQTT_PASSWORD",
    )
    rep.add_argument("--outbox", metavar="PATH", help="outbox file (default: from the config)")
    rep.add_argument(
        "--drain-timeout",
        metavar="S",
        type=float,
        default=60.0,
        help="with a broker, wait this long for every event to be acknowledged; "
        "exit 3 if some are still queued (default 60)",
    )
    rep.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    rep.set_defaults(func=cmd_replay)

    ins = sub.add_parser("inspect", help="print a JSON summary of feed files")
    ins.add_argument("files", nargs="+", metavar="FILE")
    ins.add_argument(
        "--annotate",
        type=Path,
        metavar="OUT.png",
        help="video only: also draw the frame with the most persons (boxes, foot points, "
        "lines) to this PNG, to check a camera's calibration; nothing is written otherwise",
    )
    ins.set_defaults(func=cmd_inspect)

    chk = sub.add_parser("check-config", help="validate a config file: OK or one line per error")
    chk.add_argument("file")
    chk.set_defaults(func=cmd_check_config)

    from agent.sim.cli import register as register_simulate  # light: no simulator imports

    register_simulate(  # expected.jsonl of a new recording comes from replaying it
        sub, lambda out: main(["replay", str(out), "--write-expected", "--log-level", "WARNING"])
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except BrokenPipeError:
        # The reader of stdout went away (`edge-agent replay ... | head`): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return code


if __name__ == "__main__":
    sys.exit(main())
