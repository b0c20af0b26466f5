"""Sampling settings and jobs: the :class:`SamplingSpec` every command and model shares
(:mod:`~wsgm.sampling.spec`) and resumable many-batch sampling (:mod:`~wsgm.sampling.job`).

This package sits with the diffusion core (it imports only samplers, grids, errors and the
file-safety layer), so the model classes take their defaults from it.
"""

from __future__ import annotations

from .spec import DEFAULT, SamplingSpec, derive_seed

__all__ = ["SamplingSpec", "DEFAULT", "derive_seed"]
