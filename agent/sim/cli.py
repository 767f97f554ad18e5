"""``edge-agent simulate``: a simulated, labelled multi-sensor recording of a store.

    edge-agent simulate --config STORE.toml --minutes 15 --seed 1 --out DIR

writes a fixture directory that ``edge-agent replay DIR`` accepts. The agent's CLI
registers the subcommand with ``register``; it passes in how to write the expected
events (a replay), since nothing here may import the runtime.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from agent.config import ConfigError

EXIT_OK, EXIT_FAILED = 0, 1
BAR_WIDTH = 30
REDRAW_EVERY_S = 0.2
WriteExpected = Callable[[Path], int]
"""Replays a fixture directory and writes its expected.jsonl; returns an exit code."""


class StageBar:
    """A progress bar on stderr per stage; one plain line per stage when not a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.stage = ""
        self._last = 0.0
        self._start = time.monotonic()

    def __call__(self, stage: str, fraction: float) -> None:
        now = time.monotonic()
        if stage != self.stage:
            self.finish()
            self.stage = stage
            self._start = now
            if not self.tty:
                self.stream.write(f"simulate: {stage}...\n")
        if not self.tty or now - self._last < REDRAW_EVERY_S:
            return
        self._last = now
        filled = int(BAR_WIDTH * min(max(fraction, 0.0), 1.0))
        self.stream.write(
            f"\rsimulate {stage:<9} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
            f"{fraction:4.0%} {now - self._start:.0f} s"
        )
        self.stream.flush()

    def finish(self) -> None:
        if self.tty and self.stage:
            self.stream.write("\n")
            self.stream.flush()
        self.stage = ""


def register(sub: Any, write_expected: WriteExpected | None = None) -> argparse.ArgumentParser:
    """Add the ``simulate`` subcommand to the agent's subparsers."""
    p: argparse.ArgumentParser = sub.add_parser(
        "simulate",
        help="make a simulated, labelled multi-sensor recording of a store (a fixture)",
        description="Simulate shoppers, staff and passers-by walking a store (JuPedSim) and "
        "write what its cameras, Wi-Fi sensors and RFID readers would have recorded, the "
        "ground truth, and the events a replay gives. Same seed, same bytes. Needs the "
        "'sim' extra; see agent/sim/README.md.",
    )
    p.add_argument("--config", required=True, help="store TOML with a [simulation] table")
    p.add_argument("--minutes", type=float, default=15.0, help="store minutes (default 15)")
    p.add_argument("--seed", type=int, default=1, help="random seed: same seed, same bytes")
    p.add_argument("--out", required=True, help="fixture directory to write")
    p.add_argument(
        "--no-expected", action="store_true", help="do not replay it to write expected.jsonl"
    )
    p.add_argument(
        "--video",
        action="store_true",
        help="also render each camera's view as video and have the fixture's cameras read "
        "it with the motion-blob detector (large files: never commit them)",
    )
    p.set_defaults(func=partial(run, write_expected=write_expected))
    return p


def run(args: argparse.Namespace, write_expected: WriteExpected | None = None) -> int:
    try:
        import jupedsim  # noqa: F401
    except ImportError:
        print(
            "simulate needs the simulator's extra: pip install 'edge-agent[sim]'",
            file=sys.stderr,
        )
        return EXIT_FAILED
    from agent.sim.fixture import make_fixture

    if args.minutes <= 0:
        print("--minutes must be positive", file=sys.stderr)
        return EXIT_FAILED
    store, out = Path(args.config), Path(args.out)
    command = (
        f"edge-agent simulate --config {store.name} --minutes {args.minutes:g} --seed {args.seed}"
        + (" --video" if args.video else "")
    )
    bar = StageBar()
    try:
        rec, files = make_fixture(
            store, out, args.minutes, args.seed, command, on_progress=bar, video=args.video
        )
    except ConfigError as e:
        bar.finish()
        for line in e.lines:
            print(line, file=sys.stderr)
        return EXIT_FAILED
    bar.finish()
    shoppers = sum(1 for p in rec.people if p.kind == "shopper")
    size = sum(f.stat().st_size for f in files)
    print(
        f"wrote {len(files)} files ({size / 1e6:.1f} MB) to {out}: {shoppers} shoppers, "
        f"{len(rec.people) - shoppers} companions, staff and passers-by, {args.minutes:g} minutes",
        file=sys.stderr,
    )
    if write_expected is not None and not args.no_expected:
        return write_expected(out)
    return EXIT_OK
