"""A constant-velocity Kalman filter over many boxes at once (numpy, elementwise).

State per box: centre x, centre y, aspect ratio w/h, height, and their velocities,
as in SORT and ByteTrack. Noise scales with the box height, so a near (large)
person may move more pixels per frame than a far one.

With this model every measured quantity is coupled only with its own velocity
(the transition adds velocity to position, and every noise is diagonal), so the
8x8 covariance is four independent 2x2 blocks and never needs a matrix solve:
each box is four scalar filters. The covariance is kept as (N, 4, 3) — for each
quantity, var(position), cov(position, velocity), var(velocity) — and every
step is a handful of elementwise numpy operations over all tracks.

Example:
    >>> mean, cov = initiate(np.array([[50.0, 100.0, 0.4, 80.0]]))
    >>> mean, cov = predict(mean, cov)
    >>> mean, cov = update(mean, cov, np.array([[52.0, 100.0, 0.4, 80.0]]))
    >>> bool(50 < mean[0, 0] < 52)
    True
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

POSITION_NOISE = 1.0 / 20
VELOCITY_NOISE = 1.0 / 160
"""Standard deviations as fractions of the box height per frame, the values SORT-family
trackers settled on for pedestrians filmed at 10-30 frames per second."""
ASPECT_NOISE = 1e-2
ASPECT_VELOCITY_NOISE = 1e-5
"""The aspect ratio of a walking person barely changes; keep it stiff."""

PP, PV, VV = 0, 1, 2
"""Covariance parts per quantity: var(position), cov(position, velocity), var(velocity)."""


def boxes_to_xyah(boxes: npt.NDArray[np.float32]) -> Array:
    """(N, 4+) x1 y1 x2 y2 -> (N, 4) centre x, centre y, aspect, height."""
    b = boxes[:, :4].astype(np.float64)
    w = np.maximum(b[:, 2] - b[:, 0], 1e-3)
    h = np.maximum(b[:, 3] - b[:, 1], 1e-3)
    return np.stack([b[:, 0] + w / 2, b[:, 1] + h / 2, w / h, h], axis=1)


def xyah_to_boxes(xyah: Array) -> npt.NDArray[np.float32]:
    """(N, 4+) centre x, centre y, aspect, height -> (N, 4) x1 y1 x2 y2."""
    h = np.maximum(xyah[:, 3], 1e-3)
    w = xyah[:, 2] * h
    out = np.stack(
        [xyah[:, 0] - w / 2, xyah[:, 1] - h / 2, xyah[:, 0] + w / 2, xyah[:, 1] + h / 2], axis=1
    )
    return out.astype(np.float32)


def _variances(heights: Array, position: float, aspect: float) -> Array:
    """(N, 4) variances for x, y, aspect, height with the given relative deviation."""
    std = np.empty((len(heights), 4))
    std[:, [0, 1, 3]] = position * heights[:, None]
    std[:, 2] = aspect
    out: Array = std**2
    return out


def initiate(measurements: Array) -> tuple[Array, Array]:
    """New states (N, 8) and covariances (N, 4, 3) from first measurements (N, 4)."""
    n = len(measurements)
    mean = np.zeros((n, 8))
    mean[:, :4] = measurements
    heights = measurements[:, 3]
    cov = np.zeros((n, 4, 3))
    # Unknown velocity at birth: start uncertain, so the first matches set it quickly.
    cov[:, :, PP] = _variances(heights, 2 * POSITION_NOISE, ASPECT_NOISE)
    cov[:, :, VV] = _variances(heights, 10 * VELOCITY_NOISE, ASPECT_VELOCITY_NOISE)
    return mean, cov


def predict(mean: Array, cov: Array) -> tuple[Array, Array]:
    """Advance every state one frame (position += velocity), adding process noise."""
    if len(mean) == 0:
        return mean, cov
    heights = mean[:, 3]
    new_mean = mean.copy()
    new_mean[:, :4] += mean[:, 4:]
    pp, pv, vv = cov[:, :, PP], cov[:, :, PV], cov[:, :, VV]
    new_cov = np.empty_like(cov)
    new_cov[:, :, PP] = pp + 2 * pv + vv + _variances(heights, POSITION_NOISE, ASPECT_NOISE)
    new_cov[:, :, PV] = pv + vv
    new_cov[:, :, VV] = vv + _variances(heights, VELOCITY_NOISE, ASPECT_VELOCITY_NOISE)
    return new_mean, new_cov


def update(mean: Array, cov: Array, measurements: Array) -> tuple[Array, Array]:
    """Correct states (N, 8) with measurements (N, 4), row by row."""
    if len(mean) == 0:
        return mean, cov
    pp, pv, vv = cov[:, :, PP], cov[:, :, PV], cov[:, :, VV]
    innovation_var = pp + _variances(mean[:, 3], POSITION_NOISE, ASPECT_NOISE)
    gain_position = pp / innovation_var
    gain_velocity = pv / innovation_var
    innovation = measurements - mean[:, :4]
    new_mean = mean.copy()
    new_mean[:, :4] += gain_position * innovation
    new_mean[:, 4:] += gain_velocity * innovation
    new_cov = np.empty_like(cov)
    new_cov[:, :, PP] = (1 - gain_position) * pp
    new_cov[:, :, PV] = (1 - gain_position) * pv
    new_cov[:, :, VV] = vv - gain_velocity * pv
    return new_mean, new_cov
