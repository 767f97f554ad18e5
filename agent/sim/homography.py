"""Floor-to-image homographies from the point pairs in a camera's config.

The direct linear transform: each image<->floor pair gives two linear equations in
the nine entries of H; the least-squares solution is the right singular vector of
the smallest singular value. Four pairs in general position fix H exactly.

Example:
    >>> h = Homography.fit([(0, 0), (1, 0), (1, 1), (0, 1)],
    ...                    [(0, 0), (100, 0), (100, 100), (0, 100)])
    >>> [round(v, 6) for v in h.to_image(0.5, 0.5)]
    [50.0, 50.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
DEGENERATE = 1e-12
"""A homography whose last row nearly vanishes maps points to infinity: bad pairs."""
JACOBIAN_STEP_M = 0.01
MAX_CONDITION = 1e9
"""A real camera's floor homography is well conditioned (pixels vs metres: about 1e4 at
most); beyond this the image points lie on a line and the mapping flattens the floor."""


class HomographyError(ValueError):
    """The point pairs do not define a usable floor-to-image mapping."""


class Homography:
    """Maps floor metres to image pixels (and back)."""

    def __init__(self, matrix: Array) -> None:
        self.matrix = matrix
        self.inverse = np.linalg.inv(matrix)

    @classmethod
    def fit(
        cls, floor: Sequence[tuple[float, float]], image: Sequence[tuple[float, float]]
    ) -> Homography:
        rows = []
        for (x, y), (u, v) in zip(floor, image, strict=True):
            rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
            rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
        _, singular, vt = np.linalg.svd(np.asarray(rows, dtype=np.float64))
        matrix = vt[-1].reshape(3, 3)
        if abs(matrix[2, 2]) < DEGENERATE or singular[-2] < DEGENERATE:
            raise HomographyError("the point pairs are degenerate (three in a line?)")
        matrix = matrix / matrix[2, 2]
        if np.linalg.cond(matrix) > MAX_CONDITION:
            raise HomographyError("the point pairs are degenerate (three in a line?)")
        return cls(matrix)

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        u, v, w = self.matrix @ np.array([x, y, 1.0])
        return (float(u / w), float(v / w))

    def to_image_many(self, xy: Array) -> tuple[Array, Mask]:
        """Pixels of N floor points (an N x 2 array), and the N positive-depth flags."""
        homog = np.column_stack([xy, np.ones(len(xy))]) @ self.matrix.T
        w = homog[:, 2]
        safe = np.where(np.abs(w) < DEGENERATE, DEGENERATE, w)
        pixels: Array = homog[:, :2] / safe[:, None]
        return pixels, w > 0

    def to_floor(self, u: float, v: float) -> tuple[float, float]:
        x, y, w = self.inverse @ np.array([u, v, 1.0])
        return (float(x / w), float(y / w))

    def scale_many(self, xy: Array) -> Array:
        """Pixels per metre around each floor point: sqrt of the local area scale."""
        base, _ = self.to_image_many(xy)
        dx, _ = self.to_image_many(xy + np.array([JACOBIAN_STEP_M, 0.0]))
        dy, _ = self.to_image_many(xy + np.array([0.0, JACOBIAN_STEP_M]))
        jx = (dx - base) / JACOBIAN_STEP_M
        jy = (dy - base) / JACOBIAN_STEP_M
        det = np.abs(jx[:, 0] * jy[:, 1] - jx[:, 1] * jy[:, 0])
        result: Array = np.sqrt(det)
        return result
