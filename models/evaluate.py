"""Metrics for the model card: per-axis F1 against the best one-feature rule,
calibration, and the error of per-window segment shares."""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

import numpy as np

from agent.behaviour.models import AXES, INPUT_NAME, OUTPUT_NAME
from agent.fusion.features import SensorSet

WINDOW_S = 300
CALIBRATION_BINS = 5
QUANTILES = np.linspace(0.05, 0.95, 19)


def _f1s(y: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    """Macro F1 over the two classes, plus precision and recall of the second pole."""
    from sklearn.metrics import f1_score, precision_score, recall_score

    return (
        float(f1_score(y, pred, average="macro", zero_division=0)),
        float(precision_score(y, pred, zero_division=0)),
        float(recall_score(y, pred, zero_division=0)),
    )


def best_single_feature(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    names: tuple[str, ...],
) -> dict[str, Any]:
    """The one-feature threshold rule that does best on training data, scored held-out."""
    best = {"f1_train": -1.0}
    for j, name in enumerate(names):
        col = x_train[:, j]
        ok = ~np.isnan(col)
        if ok.sum() < 20 or np.unique(col[ok]).size < 2:
            continue
        for q in np.unique(np.quantile(col[ok], QUANTILES)):
            for above in (True, False):
                pred = np.where(np.isnan(col), 0, (col > q) if above else (col <= q))
                f1 = _f1s(y_train, pred.astype(int))[0]
                if f1 > best["f1_train"]:
                    best = {
                        "feature": name,
                        "threshold": float(q),
                        "above": above,
                        "f1_train": f1,
                        "j": j,
                    }
    if "j" not in best:
        return {"feature": None, "f1": float("nan")}
    col = x_test[:, best["j"]]
    rule = (col > best["threshold"]) if best["above"] else (col <= best["threshold"])
    pred = np.where(np.isnan(col), 0, rule).astype(int)
    return {
        "feature": best["feature"],
        "threshold": round(best["threshold"], 3),
        "direction": ">" if best["above"] else "<=",
        "f1": round(_f1s(y_test, pred)[0], 3),
    }


def evaluate_model(
    session: Any,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    names: tuple[str, ...],
) -> dict[str, Any]:
    probs = session.run([OUTPUT_NAME], {INPUT_NAME: x_test})[0]
    axes: dict[str, Any] = {}
    calibration: dict[str, Any] = {}
    for i, (_, pole) in enumerate(AXES):
        pred = (probs[:, i] >= 0.5).astype(int)
        f1, precision, recall = _f1s(y_test[:, i], pred)
        axes[pole] = {
            "f1": round(f1, 3),
            "precision": round(precision, 3),
            "recall": round(recall, 3),
            "brier": round(float(np.mean((probs[:, i] - y_test[:, i]) ** 2)), 3),
            "prevalence": round(float(y_test[:, i].mean()), 3),
            "best_single_feature": best_single_feature(
                x_train, y_train[:, i], x_test, y_test[:, i], names
            ),
        }
        bins = []
        edges = np.linspace(0, 1, CALIBRATION_BINS + 1)
        for lo, hi in itertools.pairwise(edges):
            sel = (probs[:, i] >= lo) & ((probs[:, i] < hi) | (hi == 1.0))
            if sel.any():
                bins.append(
                    {
                        "bin": f"{lo:.1f}-{hi:.1f}",
                        "n": int(sel.sum()),
                        "predicted": round(float(probs[sel, i].mean()), 3),
                        "observed": round(float(y_test[sel, i].mean()), 3),
                    }
                )
        calibration[pole] = bins
    return {"axes": axes, "calibration": calibration, "n_test": len(y_test)}


def window_share_error(
    session: Any, samples: list[Any], sensors: SensorSet, window_s: float = WINDOW_S
) -> dict[str, Any]:
    """How far published segment shares are from the truth's, per window of ``window_s``.

    ``error``: mean absolute difference (percentage points) between each window's share
    as the agent publishes it (expected counts: the mean probability) and the true
    share of its matched visits, over windows with at least 5 of them. ``floor``: what
    a perfectly calibrated model giving the same probabilities would still be off by
    on average (each visit's label drawn from its own probability, 2000 draws, fixed
    seed): the sampling noise of a window of that many visits, which no model that
    is unsure of single visits can beat.
    """
    if not samples:
        return {}
    x = np.stack([s.features(sensors) for s in samples]).astype(np.float32)
    probs = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
    keys = ("wanderer", "indecisive", "showroomer", "bargain")
    windows: dict[tuple[str, float], list[int]] = defaultdict(list)
    for n, s in enumerate(samples):
        windows[(s.recording, (s.visit.end // window_s) * window_s)].append(n)
    members = [m for m in windows.values() if len(m) >= 5]  # a share needs k visits
    rng = np.random.default_rng(0)
    error: dict[str, float] = {}
    floor: dict[str, float] = {}
    for i, (_, pole) in enumerate(AXES):
        diffs, noise = [], []
        for m in members:
            p = probs[m, i]
            true = float(np.mean([samples[k].labels[keys[i]] for k in m]))
            diffs.append(abs(float(p.mean()) - true))
            drawn = (rng.random((2000, len(m))) < p).mean(axis=1)
            noise.append(float(np.mean(np.abs(p.mean() - drawn))))
        error[pole] = round(100 * float(np.mean(diffs)), 1) if diffs else float("nan")
        floor[pole] = round(100 * float(np.mean(noise)), 1) if noise else float("nan")
    return {
        "window_min": round(window_s / 60),
        "windows": len(members),
        "mean_visits": round(float(np.mean([len(m) for m in members])), 1) if members else 0,
        "error": error,
        "floor": floor,
    }


def card(
    manifest: dict[str, Any], results: dict[str, Any], perfect: dict[str, dict[str, Any]]
) -> str:
    t = manifest["training"]
    lines = [
        "# Behaviour models: model card",
        "",
        "Generated by `models/train.py`; do not edit by hand. The ONNX files and",
        "`manifest.json` ship in `agent/behaviour/models/`.",
        "",
        "## What they do",
        "",
        "Each model reads one closed, anonymous visit's feature vector (feature schema "
        f"{manifest['feature_schema']}, {len(manifest['features'])} named features, NaN where the "
        "store lacks a sensor) and gives, for each of four axes, the probability of its second "
        "pole: wanderer (vs mission), indecisive (vs decisive), showroomer (vs shopper), "
        "bargain hunter (vs brand conscious). Per-visit figures below count a visit on the "
        "pole with p >= 0.5; the published window counts are expected counts (the sum of "
        "the probabilities, rounded), which keeps shares unbiased where the model is unsure. "
        "No demographic attribute is inferred.",
        "",
        "## Training data",
        "",
        f"Simulated stores only (no public data set labels these behaviours): layouts "
        f"{', '.join(t['layouts'])}, {t['seeds']} recordings of {t['minutes_per_recording']:.0f} "
        f"minutes each, {t['visits_train']} matched camera visits ({t['wifi_visits_train']} "
        f"Wi-Fi-only visits when the cameras are left out). Evaluation: the held-out layout "
        f"**{t['held_out']}** (never seen in training), {t['visits_held_out']} matched visits "
        f"({t['wifi_visits_held_out']} Wi-Fi-only). "
        f"Classifier: {t['classifier']}, hyperparameters {t['hyperparameters']}.",
        "",
        "## Held-out results per sensor combination",
        "",
        "Macro-F1 of the model, and beside it the macro-F1 of the best single-feature "
        "threshold rule (chosen on training data), so the model's gain over the obvious rule "
        "is visible. Target: 0.85 on each axis with all three sensors.",
        "",
    ]
    for combo, r in results.items():
        lines += [
            f"### {combo}",
            "",
            "| axis | F1 | precision | recall | Brier | best one-feature rule | its F1 |",
            "|---|---|---|---|---|---|---|",
        ]
        for pole, a in r["axes"].items():
            b = a["best_single_feature"]
            rule = (
                "-" if b["feature"] is None else f"{b['feature']} {b['direction']} {b['threshold']}"
            )
            lines.append(
                f"| {pole} | {a['f1']:.2f} | {a['precision']:.2f} | {a['recall']:.2f} | "
                f"{a['brier']:.3f} | {rule} | {b['f1']:.2f} |"
            )
        shares = r.get("window_share_error_pp", {}).get("error", {})
        lines += [
            "",
            "Mean absolute error of per-window segment shares as published (expected counts; "
            "percentage points, 5-minute windows with at least 5 matched visits; target 5): "
            + ", ".join(f"{k} {v}" for k, v in shares.items()),
            "",
        ]
    by_window = next(iter(results.values())).get("share_error_by_window", [])
    if by_window:
        lines += [
            "## Segment shares and window length",
            "",
            "A window's share is an average over few visits, so it carries sampling noise "
            "whatever the model: below, each share error (all three sensors, held out, "
            "percentage points) beside the floor a perfectly calibrated model giving the "
            "same probabilities would still have (each visit's label drawn from its own "
            "probability). The floor falls with the square root of the visits per window: "
            "a consumer wanting shares within a few points sums the published counts over "
            "longer periods (counts add up; shares do not). One held-out recording of 60 "
            "minutes gives few long windows, so the longer rows are rough.",
            "",
            "| window | windows | visits per window | "
            + " | ".join(f"{pole}: error (floor)" for _, pole in AXES)
            + " |",
            "|---|---|---|" + "---|" * len(AXES),
        ]
        for w in by_window:
            cells = [f"{w['error'][pole]} ({w['floor'][pole]})" for _, pole in AXES]
            lines.append(
                f"| {w['window_min']} min | {w['windows']} | {w['mean_visits']} | "
                + " | ".join(cells)
                + " |"
            )
        lines.append("")
    combos = [c for c in perfect if c != "visits"]
    lines += [
        "## What perfect sensing would reach",
        "",
        "The same recipe trained and judged on visits built from the simulator's truth "
        "(zone stays, walked path, stops and item interactions exactly as they happened: no "
        "tracker, fusion or RFID loss; no phones, which the truth does not record): "
        f"{perfect['visits']['train']} training and {perfect['visits']['held_out']} held-out "
        "shoppers. The gap between the agent's F1 and this one is sensing and fusion loss; "
        "the gap between this one and 1.0 is what the simulated shoppers' behaviour leaves "
        "open with these features.",
        "",
        "| axis | " + " | ".join(f"{c}: agent | {c}: perfect" for c in combos) + " |",
        "|---|" + "---|---|" * len(combos),
    ]
    for _, pole in AXES:
        cells = [
            f"{results[c]['axes'][pole]['f1']:.2f} | {perfect[c][pole]:.2f}"
            for c in combos
            if c in results
        ]
        lines.append(f"| {pole} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Calibration (all three sensors, held out)",
        "",
        "| axis | bin | n | mean predicted | observed rate |",
        "|---|---|---|---|---|",
    ]
    first = next(iter(results.values()))
    for pole, bins in first["calibration"].items():
        for b in bins:
            lines.append(f"| {pole} | {b['bin']} | {b['n']} | {b['predicted']} | {b['observed']} |")
    lines += [
        "",
        "## Limits",
        "",
        "- Trained and judged on simulation: real stores will differ; re-evaluate on "
        "labelled field data before relying on absolute shares.",
        "- Layout shift: the held-out layout measures it; per-store calibration is not done.",
        "- Visits without a camera (Wi-Fi only, RFID + Wi-Fi) are built from phones alone: "
        "people without a phone, or whose phone changes its random address mid-visit, are "
        "missed or split.",
        "",
    ]
    return "\n".join(lines)
