"""SGM and WSGM score models, their normalization statistics and model directories.

See :mod:`wsgm.models.wsgm` for the scale, normalization and grid conventions of the
coarse-to-fine sampler.
"""

from .base import ScoreModel, network_score_fn
from .config import MODEL_KINDS, ModelConfig, network_names
from .io import build_model, load_model, save_model
from .normalization import NormalizationStats, compute_stats
from .sgm import SGM, sgm_sample
from .wsgm import WSGM, scale_grid, wsgm_refine, wsgm_sample

__all__ = [
    "ScoreModel",
    "SGM",
    "WSGM",
    "ModelConfig",
    "MODEL_KINDS",
    "NormalizationStats",
    "compute_stats",
    "network_names",
    "network_score_fn",
    "build_model",
    "load_model",
    "save_model",
    "sgm_sample",
    "wsgm_sample",
    "wsgm_refine",
    "scale_grid",
]
