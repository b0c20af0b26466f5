"""Noise floors: two disjoint random halves of a reference set (docs/design.md §7).

A distance between n samples and n reference fields is never 0, even for a perfect model:
it has a floor set by the sample size. Every metric here measures samples against half A
of the reference and reports D(B, A), half B against half A, as that floor: value and
floor then compare sets of the same size with the same reference set.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import WSGMError

__all__ = ["two_halves"]


def two_halves(
    reference: np.ndarray,
    n: int | None,
    generator: np.random.Generator | torch.Generator,
    *,
    what: str = "reference fields",
    fewer: str = "a smaller --n",
    min_size: int = 2,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(A, B, n): two disjoint random subsets of ``n`` entries (default: half) each.

    The permutation comes from ``generator`` (numpy's ``permutation`` or torch's
    ``randperm``, whichever is given), so a seed fixes the halves.
    """
    size = len(reference) // 2 if n is None else n
    if isinstance(size, bool) or not isinstance(size, int) or size < min_size:
        raise WSGMError(f"the sample size must be an integer >= {min_size}, got {n!r}")
    if 2 * size > len(reference):
        raise WSGMError(
            f"a noise floor at sample size {size} needs 2 x {size} = {2 * size} {what} "
            f"(two disjoint halves), got {len(reference)}; give more {what} or {fewer}"
        )
    if isinstance(generator, torch.Generator):
        perm = torch.randperm(len(reference), generator=generator).numpy()
    else:
        perm = generator.permutation(len(reference))
    return reference[perm[:size]], reference[perm[size : 2 * size]], size
