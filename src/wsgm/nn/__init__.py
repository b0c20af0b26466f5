"""Score networks: a UNet noise predictor and its time embedding (no SDE knowledge here)."""

from .embedding import TimeEmbedding
from .unet import PADDING_MODES, UNet, UNetConfig

__all__ = ["UNet", "UNetConfig", "TimeEmbedding", "PADDING_MODES"]
