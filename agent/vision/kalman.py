"""A constant-velocity Kalman filter over many boxes at once (numpy, batched).

State per box: centre x, centre y, aspect ratio w/h, height, and their velocities,
as in SORT and ByteTrack. Noise scales with the box height, so a near (large)
person may move more pixels per frame than a far one. All tracks are predicted
and updated in one numpy call each, which is what keeps the tracker cheap.
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

_F = np.eye(8)
_F[:4, 4:] = np.eye(4)  # position += velocity (one frame)
_H = np.eye(4, 8)


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


def _noise(heights: Array, position: float, velocity: float, aspect: float) -> Array:
    """Diagonal variances (N, 8) for the given per-height standard deviations."""
    std = np.empty((len(heights), 8))
    std[:, [0, 1, 3]] = position * heights[:, None]
    std[:, 2] = aspect
    std[:, [4, 5, 7]] = velocity * heights[:, None]
    std[:, 6] = ASPECT_VELOCITY_NOISE
    out: Array = std**2
    return out


def initiate(measurements: Array) -> tuple[Array, Array]:
    """New states (N, 8) and covariances (N, 8, 8) from first measurements (N, 4)."""
    n = len(measurements)
    mean = np.zeros((n, 8))
    mean[:, :4] = measurements
    var = _noise(measurements[:, 3], 2 * POSITION_NOISE, 10 * VELOCITY_NOISE, ASPECT_NOISE)
    cov = np.zeros((n, 8, 8))
    idx = np.arange(8)
    cov[:, idx, idx] = var
    return mean, cov


def predict(mean: Array, cov: Array) -> tuple[Array, Array]:
    """Advance every state one frame."""
    if len(mean) == 0:
        return mean, cov
    q = _noise(mean[:, 3], POSITION_NOISE, VELOCITY_NOISE, ASPECT_NOISE)
    new_mean = mean @ _F.T
    new_cov = _F @ cov @ _F.T
    idx = np.arange(8)
    new_cov[:, idx, idx] += q
    return new_mean, new_cov


def update(mean: Array, cov: Array, measurements: Array) -> tuple[Array, Array]:
    """Correct states (N, 8) with measurements (N, 4), row by row."""
    if len(mean) == 0:
        return mean, cov
    heights = mean[:, 3]
    r = np.zeros((len(mean), 4, 4))
    idx = np.arange(4)
    r[:, idx, idx] = (POSITION_NOISE * heights[:, None]) ** 2
    r[:, 2, 2] = ASPECT_NOISE**2
    projected_cov = _H @ cov @ _H.T + r  # (N, 4, 4)
    cross = cov @ _H.T  # (N, 8, 4)
    # gain = cross @ inv(projected_cov), solved rather than inverted for stability
    gain = np.linalg.solve(projected_cov, cross.transpose(0, 2, 1)).transpose(0, 2, 1)
    innovation = measurements - mean[:, :4]
    new_mean = mean + np.einsum("nij,nj->ni", gain, innovation)
    new_cov = cov - gain @ projected_cov @ gain.transpose(0, 2, 1)
    return new_mean, new_cov
