"""A small CNN classifier trained by wsgm on the data set itself, for a Fréchet distance
that needs no downloaded weights.

FID measures distances in the feature space of an ImageNet network, which knows little of
32×32 grey clothes or of physical fields. A classifier trained for a few epochs on the
labelled training data gives features tuned to what distinguishes the data's classes; the
Fréchet distance of :mod:`wsgm.metrics.frechet` between the Gaussians fitted to those
features (the penultimate layer) of two image sets is then a cheap, sensitive check
(the "FID with a domain classifier" used for MNIST-like data since Heusel et al. 2017).

Architecture: three 3×3 conv + batch-norm + ReLU stages (width w, 2w, 4w; 2×2 max-pool
between them), adaptive average pooling to 4×4, a hidden layer of ``feature_dim`` ReLU units
(the features) and a linear layer to the class logits. Trained with Adam and cross-entropy;
on Fashion-MNIST at 32×32, 2 epochs reach about 90 % test accuracy (see
``benchmarks/image_metrics_floor.py``).

On disk: ``<name>.safetensors`` (weights, including batch-norm statistics) and
``<name>.json`` (the :class:`ClassifierConfig` plus training information such as the test
accuracy), written atomically next to a data set or in a cache folder the caller chooses.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import WSGMError
from ..fileio import atomic_write, read_json, write_json_atomic

__all__ = [
    "ClassifierConfig",
    "Classifier",
    "train_classifier",
    "classifier_accuracy",
    "classifier_features",
    "save_classifier",
    "load_classifier",
    "classifier_for",
]


@dataclass(frozen=True)
class ClassifierConfig:
    """Shape of the classifier: input channels, number of classes, image side, widths."""

    in_channels: int
    num_classes: int
    image_size: int
    width: int = 16
    feature_dim: int = 128

    def __post_init__(self) -> None:
        for key in ("in_channels", "num_classes", "image_size", "width", "feature_dim"):
            value = getattr(self, key)
            if not (isinstance(value, int) and value >= 1):
                raise WSGMError(f"classifier {key} must be a positive integer, got {value!r}")
        if self.num_classes < 2:
            raise WSGMError(f"a classifier needs at least 2 classes, got {self.num_classes}")
        if self.image_size < 8:
            raise WSGMError(f"classifier images must be at least 8×8, got {self.image_size}")


def _stage(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())


class Classifier(nn.Module):
    """The CNN of the module doc; :meth:`features` gives the ``feature_dim`` features."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.body = nn.Sequential(
            _stage(config.in_channels, w),
            nn.MaxPool2d(2),
            _stage(w, 2 * w),
            nn.MaxPool2d(2),
            _stage(2 * w, 4 * w),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(4 * w * 16, config.feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(config.feature_dim, config.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.body(x))
        return out


def _check_images(images: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    x = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[0] == 0 or x.shape[-1] != x.shape[-2]:
        raise WSGMError(f"{name} must have shape (n, C, S, S) with n ≥ 1, got {tuple(x.shape)}")
    return x.float()


def _check_labels(labels: np.ndarray | torch.Tensor, n: int) -> torch.Tensor:
    y = torch.as_tensor(np.asarray(labels)).long()
    if y.shape != (n,):
        raise WSGMError(f"labels must have shape ({n},), one per image, got {tuple(y.shape)}")
    if n and int(y.min()) < 0:
        raise WSGMError(f"labels must be 0, 1, ..., K − 1, got the value {int(y.min())}")
    return y


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def train_classifier(
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    *,
    epochs: int = 2,
    generator: torch.Generator,
    batch_size: int = 128,
    lr: float = 2e-3,
    width: int = 16,
    feature_dim: int = 128,
    num_classes: int | None = None,
    device: torch.device | str | None = None,
) -> Classifier:
    """Train a :class:`Classifier` on images ``(n, C, S, S)`` in [−1, 1] and integer labels.

    Adam with a cosine learning-rate decay to 0 over ``epochs``; batches are shuffled with
    ``generator`` (and the initial weights drawn from it), so the result is reproducible.
    Returns the model in eval mode.
    """
    if not (isinstance(epochs, int) and epochs >= 1):
        raise WSGMError(f"epochs must be a positive integer, got {epochs!r}")
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise WSGMError(f"batch_size must be a positive integer, got {batch_size!r}")
    x = _check_images(images, "training images")
    y = _check_labels(labels, len(x))
    classes = int(y.max()) + 1 if num_classes is None else num_classes
    if int(y.max()) >= classes:
        raise WSGMError(f"labels go up to {int(y.max())} but num_classes is {classes}")
    config = ClassifierConfig(int(x.shape[1]), classes, int(x.shape[-1]), width, feature_dim)
    dev = torch.device(device) if device is not None else torch.device("cpu")
    # PyTorch's default initialization, drawn from a global RNG seeded by the caller's
    # generator and restored afterwards, so training is reproducible without side effects.
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Classifier(config)
    model.to(dev).train()
    steps = epochs * ((len(x) + batch_size - 1) // batch_size)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            loss = F.cross_entropy(model(x[idx].to(dev)), y[idx].to(dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def _batched(
    model: Classifier, images: np.ndarray | torch.Tensor, batch_size: int, fn: str
) -> torch.Tensor:
    x = _check_images(images, "images")
    cfg = model.config
    if tuple(x.shape[1:]) != (cfg.in_channels, cfg.image_size, cfg.image_size):
        raise WSGMError(
            f"the classifier was trained on images ({cfg.in_channels}, {cfg.image_size}, "
            f"{cfg.image_size}), got {tuple(x.shape[1:])}"
        )
    dev = _device_of(model)
    was_training = model.training
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            batch = x[start : start + batch_size].to(dev)
            out.append(model.features(batch) if fn == "features" else model(batch))
    model.train(was_training)
    return torch.cat(out)


def classifier_features(
    model: Classifier, images: np.ndarray | torch.Tensor, *, batch_size: int = 256
) -> torch.Tensor:
    """Penultimate-layer features ``(n, feature_dim)`` of images, on the model's device."""
    return _batched(model, images, batch_size, "features")


def classifier_accuracy(
    model: Classifier,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    *,
    batch_size: int = 256,
) -> float:
    """Fraction of ``images`` whose arg-max logit is the label."""
    logits = _batched(model, images, batch_size, "logits")
    y = _check_labels(labels, len(logits)).to(logits.device)
    return float((logits.argmax(dim=1) == y).double().mean())


def _paths(folder: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
    base = Path(folder)
    return base / f"{name}.safetensors", base / f"{name}.json"


def save_classifier(
    model: Classifier,
    folder: str | os.PathLike[str],
    *,
    name: str = "classifier",
    info: dict[str, Any] | None = None,
) -> Path:
    """Write ``folder/<name>.safetensors`` and ``folder/<name>.json`` (config + ``info``)."""
    weights, meta = _paths(folder, name)
    weights.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(weights, lambda tmp: save_file(tensors, str(tmp)))
    write_json_atomic(meta, {"config": asdict(model.config), "info": info or {}})
    return weights


def load_classifier(
    folder: str | os.PathLike[str],
    *,
    name: str = "classifier",
    device: torch.device | str | None = None,
) -> tuple[Classifier, dict[str, Any]]:
    """Load a classifier written by :func:`save_classifier`: (model in eval mode, info)."""
    weights, meta = _paths(folder, name)
    if not weights.is_file() or not meta.is_file():
        raise WSGMError(
            f"no classifier in {folder} (need {weights.name} and {meta.name}); train one with "
            "wsgm.metrics.classifier.train_classifier and save_classifier"
        )
    doc = read_json(meta, what="classifier config")
    try:
        known = {f.name for f in fields(ClassifierConfig)}
        config = ClassifierConfig(**{k: v for k, v in doc["config"].items() if k in known})
    except (KeyError, TypeError, AttributeError) as exc:
        raise WSGMError(f"{meta} is not a classifier config ({type(exc).__name__})") from None
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise WSGMError(f"{weights} is not a readable safetensors file: {exc}") from None
    model = Classifier(config)
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise WSGMError(f"{weights} does not match the config in {meta.name}") from None
    if device is not None:
        model.to(torch.device(device))
    return model.eval(), dict(doc.get("info", {}))


def classifier_for(
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    *,
    cache_dir: str | os.PathLike[str],
    generator: torch.Generator,
    epochs: int = 2,
    test_images: np.ndarray | torch.Tensor | None = None,
    test_labels: np.ndarray | torch.Tensor | None = None,
    name: str = "classifier",
    device: torch.device | str | None = None,
) -> tuple[Classifier, dict[str, Any]]:
    """The classifier cached in ``cache_dir``, or a new one trained and saved there.

    A cached classifier is reused only if it was trained on images of the same shape with
    the same number of epochs and training-set size; its info records the test accuracy
    when test data are given.
    """
    x = _check_images(images, "training images")
    weights, _ = _paths(cache_dir, name)
    if weights.is_file():
        cached, cached_info = load_classifier(cache_dir, name=name, device=device)
        cfg = cached.config
        if (
            (cfg.in_channels, cfg.image_size) == (int(x.shape[1]), int(x.shape[-1]))
            and cached_info.get("epochs") == epochs
            and cached_info.get("train_count") == len(x)
        ):
            return cached, cached_info
    model = train_classifier(x, labels, epochs=epochs, generator=generator, device=device)
    info: dict[str, Any] = {"epochs": epochs, "train_count": len(x)}
    if test_images is not None and test_labels is not None:
        info["test_accuracy"] = classifier_accuracy(model, test_images, test_labels)
        info["test_count"] = len(test_labels)
    save_classifier(model, cache_dir, name=name, info=info)
    return model, info
