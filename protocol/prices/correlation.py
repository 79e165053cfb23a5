"""Correlation-matrix validation and a PSD-tolerant Cholesky factorisation."""

from __future__ import annotations

import math
from typing import Sequence

from protocol.prices import _validate as v

#: Absolute tolerance for symmetry, unit diagonal and zero pivots.
TOLERANCE = 1e-10

Matrix = tuple[tuple[float, ...], ...]


def validate_correlation(matrix: object, n: int | None = None) -> Matrix:
    """``matrix`` as a tuple of float tuples if it is a valid correlation matrix: square
    (``n x n`` when ``n`` is given), symmetric, unit diagonal, entries in [-1, 1] and positive
    semi-definite. Otherwise ``ValueError``."""
    if isinstance(matrix, (str, bytes)) or not isinstance(matrix, Sequence):
        raise ValueError(f"correlation must be a square matrix (sequence of rows), got {matrix!r}")
    rows = []
    for i, row in enumerate(matrix):
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
            raise ValueError(f"correlation[{i}] must be a row of numbers, got {row!r}")
        rows.append(tuple(v.real(f"correlation[{i}][{j}]", x, lo=-1, hi=1)
                          for j, x in enumerate(row)))
    size = len(rows)
    if size == 0 or any(len(r) != size for r in rows):
        raise ValueError("correlation matrix must be square and non-empty")
    if n is not None and size != n:
        raise ValueError(f"correlation matrix must be {n}x{n} (one row per symbol), got "
                         f"{size}x{size}")
    for i in range(size):
        if abs(rows[i][i] - 1.0) > TOLERANCE:
            raise ValueError(f"correlation matrix must have a unit diagonal; "
                             f"correlation[{i}][{i}] = {rows[i][i]!r}")
        for j in range(i):
            if abs(rows[i][j] - rows[j][i]) > TOLERANCE:
                raise ValueError(f"correlation matrix must be symmetric; correlation[{i}][{j}] "
                                 f"= {rows[i][j]!r} but correlation[{j}][{i}] = {rows[j][i]!r}")
    result = tuple(rows)
    cholesky(result)  # raises if not PSD
    return result


def cholesky(matrix: Matrix) -> Matrix:
    """Lower-triangular ``L`` with ``L L^T = matrix`` for a positive semi-definite matrix.

    A pivot within ``TOLERANCE`` of zero (singular but PSD, e.g. perfectly correlated assets)
    gives a zero column, which is valid only if the rest of that column's residual is also ~0.
    Raises ``ValueError("correlation matrix is not positive semi-definite")`` otherwise.
    """
    n = len(matrix)
    low = [[0.0] * n for _ in range(n)]
    for j in range(n):
        pivot = matrix[j][j] - math.fsum(low[j][k] ** 2 for k in range(j))
        if pivot < -TOLERANCE:
            raise ValueError("correlation matrix is not positive semi-definite")
        if pivot <= TOLERANCE:
            for i in range(j + 1, n):
                residual = matrix[i][j] - math.fsum(low[i][k] * low[j][k] for k in range(j))
                if abs(residual) > math.sqrt(TOLERANCE):
                    raise ValueError("correlation matrix is not positive semi-definite")
            continue
        root = math.sqrt(pivot)
        low[j][j] = root
        for i in range(j + 1, n):
            residual = matrix[i][j] - math.fsum(low[i][k] * low[j][k] for k in range(j))
            low[i][j] = residual / root
    return tuple(tuple(r) for r in low)
