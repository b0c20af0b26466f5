"""All image metrics in one call, each with its data-vs-data noise floor.

A finite sample is at a non-zero distance even from its own law, and for FID the bias is
large (two sets of 1000 images of the same distribution are far from FID 0), so a number is
only meaningful next to its noise floor at the same sample size. With n generated images,
:class:`ImageMetricSuite` draws two disjoint random subsets A and B of n reference images and
reports, for each metric D,

    value = D(generated, A),    noise_floor = D(B, A),

so value and floor compare sets of the same sizes against the same reference images (and,
for the randomized SWD/KID, with the same random draws). A model is as good as the metric
can tell when its value is near the floor.

Metrics (names as in the result):

- ``kid``, ``fid``: Kernel / Fréchet Inception Distance with the standard FID Inception
  network (:mod:`wsgm.metrics.inception`; optional, needs the weights file). KID is
  unbiased and the one to read at small n; for n ≤ ``kid_subset_size`` (1000) it is the
  unbiased MMD² estimate on all n images (no random subsets).
- ``classifier_fd``: Fréchet distance in the feature space of a classifier trained on the
  data set (:mod:`wsgm.metrics.classifier`, :mod:`wsgm.metrics.frechet`).
- ``swd``: sliced Wasserstein distance of Laplacian-pyramid patches (:mod:`wsgm.metrics.swd`).
- ``spectrum``: RMS log-ratio of radial power spectra
  (:func:`wsgm.metrics.distances.spectrum_error`).

The reference's features are computed once per suite; :meth:`ImageMetricSuite.evaluate`
can then be called for many generated sets (e.g. one per number of sampling steps).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import numpy as np
import torch

from ..errors import WSGMError
from .classifier import Classifier, classifier_features
from .distances import spectrum_error
from .frechet import frechet_distance
from .halves import two_halves
from .inception import (
    InceptionFeatures,
    default_inception_path,
    fid_from_features,
    inception_features,
    kid_from_features,
    load_inception,
)
from .swd import sliced_wasserstein

__all__ = ["IMAGE_METRICS", "ImageMetricSuite", "image_metrics", "available_image_metrics"]

IMAGE_METRICS = ("kid", "fid", "classifier_fd", "swd", "spectrum")
_INCEPTION = ("kid", "fid")


def available_image_metrics(
    *, classifier: Classifier | None = None, inception_path: str | os.PathLike[str] | None = None
) -> tuple[str, ...]:
    """The metrics that can run here: Inception ones if the weights exist, classifier_fd if a
    classifier is given, SWD and spectrum always."""
    has_inception = inception_path is not None or default_inception_path() is not None
    skip = set() if has_inception else set(_INCEPTION)
    if classifier is None:
        skip.add("classifier_fd")
    return tuple(m for m in IMAGE_METRICS if m not in skip)


def _images(x: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4 or arr.shape[1] not in (1, 3) or arr.shape[2] != arr.shape[3]:
        raise WSGMError(
            f"{name} must be square images (n, C, S, S) or (n, S, S) with C = 1 or 3, "
            f"got {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise WSGMError(f"{name} contain NaN or Inf; cannot compute image metrics")
    return arr.astype(np.float32, copy=False)


class ImageMetricSuite:
    """A reference set prepared for image metrics (module doc): subsets A, B and their features.

    ``sample_size`` is n, the size every generated set must have (its default is half the
    reference, the most the two disjoint subsets allow). ``metrics`` defaults to
    :func:`available_image_metrics`; asking for one that cannot run is an error.
    """

    def __init__(
        self,
        reference: np.ndarray | torch.Tensor,
        *,
        sample_size: int | None = None,
        metrics: Sequence[str] | None = None,
        generator: torch.Generator,
        classifier: Classifier | None = None,
        inception_path: str | os.PathLike[str] | None = None,
        device: torch.device | str | None = None,
        batch_size: int = 50,
        kid_subset_size: int = 1000,
        swd_patches: int = 128,
        swd_projections: int = 512,
        progress: bool = False,
    ) -> None:
        ref = _images(reference, "reference images")
        self.progress = progress
        names = (
            tuple(metrics)
            if metrics is not None
            else available_image_metrics(classifier=classifier, inception_path=inception_path)
        )
        unknown = [m for m in names if m not in IMAGE_METRICS]
        if unknown or not names:
            raise WSGMError(
                f"unknown image metric(s) {unknown or list(names)}; choose from "
                f"{', '.join(IMAGE_METRICS)}"
            )
        if "classifier_fd" in names and classifier is None:
            raise WSGMError(
                "classifier_fd needs a classifier: pass classifier=, e.g. from "
                "wsgm.metrics.classifier.classifier_for(train_images, train_labels, ...)"
            )
        if batch_size < 1:
            raise WSGMError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.metrics = names
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.batch_size = batch_size
        self.kid_subset_size = kid_subset_size
        self.swd_options = {"patches": swd_patches, "projections": swd_projections}
        self.classifier = classifier
        self._a, self._b, n = two_halves(
            ref, sample_size, generator, what="reference images", fewer="fewer generated ones"
        )
        self.sample_size = n
        self.image_shape = tuple(int(s) for s in ref.shape[1:])
        # One seed per randomized metric: value and floor see the same random draws.
        self._seeds = {
            m: int(torch.randint(0, 2**62, (1,), generator=generator)) for m in IMAGE_METRICS
        }
        self.seconds: dict[str, float] = {}
        """Wall time of the last evaluation, per feature extractor and per metric."""
        self._inception: InceptionFeatures | None = None
        if any(m in _INCEPTION for m in names):
            self._inception = InceptionFeatures(load_inception(inception_path, device=self.device))
        self._feat_a = self._features(self._a)
        self.noise_floors = {k: v for k, v in self._scores(self._b).items()}

    def _features(self, images: np.ndarray) -> dict[str, torch.Tensor]:
        feats = {}
        if self._inception is not None:
            start = time.perf_counter()
            feats["inception"] = inception_features(
                images,
                self._inception,
                batch_size=self.batch_size,
                device=self.device,
                progress=self.progress,
            )
            self.seconds["inception_features"] = time.perf_counter() - start
        if "classifier_fd" in self.metrics and self.classifier is not None:
            start = time.perf_counter()
            feats["classifier"] = classifier_features(
                self.classifier, torch.as_tensor(images), batch_size=max(self.batch_size, 256)
            )
            self.seconds["classifier_features"] = time.perf_counter() - start
        return feats

    def _generator(self, metric: str) -> torch.Generator:
        return torch.Generator().manual_seed(self._seeds[metric])

    def _scores(self, images: np.ndarray) -> dict[str, float]:
        feats, ref = self._features(images), self._feat_a
        out: dict[str, float] = {}
        for m in self.metrics:
            start = time.perf_counter()
            if m == "kid":
                out[m] = kid_from_features(
                    feats["inception"],
                    ref["inception"],
                    subset_size=self.kid_subset_size,
                    generator=self._generator(m),
                )[0]
            elif m == "fid":
                out[m] = fid_from_features(feats["inception"], ref["inception"])
            elif m == "classifier_fd":
                out[m] = frechet_distance(
                    feats["classifier"].double().cpu().numpy(),
                    ref["classifier"].double().cpu().numpy(),
                )
            elif m == "swd":
                out[m] = sliced_wasserstein(
                    torch.as_tensor(images).to(self.device),
                    torch.as_tensor(self._a),
                    generator=self._generator(m),
                    **self.swd_options,
                )
            else:
                out[m] = spectrum_error(images, self._a)
            self.seconds[m] = time.perf_counter() - start
        return out

    def evaluate(self, generated: np.ndarray | torch.Tensor) -> dict[str, dict[str, float]]:
        """``{metric: {"value": D(generated, A), "noise_floor": D(B, A)}}`` (module doc)."""
        gen = _images(generated, "generated images")
        if tuple(gen.shape[1:]) != self.image_shape:
            raise WSGMError(
                f"generated images have shape {tuple(gen.shape[1:])}, the reference "
                f"{self.image_shape}"
            )
        if len(gen) != self.sample_size:
            raise WSGMError(
                f"this suite compares sets of {self.sample_size} images (its noise floor's "
                f"sample size), got {len(gen)} generated images"
            )
        values = self._scores(gen)
        return {m: {"value": values[m], "noise_floor": self.noise_floors[m]} for m in self.metrics}


def image_metrics(
    generated: np.ndarray | torch.Tensor,
    reference: np.ndarray | torch.Tensor,
    *,
    metrics: Sequence[str] | None = None,
    generator: torch.Generator,
    classifier: Classifier | None = None,
    inception_path: str | os.PathLike[str] | None = None,
    device: torch.device | str | None = None,
    batch_size: int = 50,
    kid_subset_size: int = 1000,
) -> dict[str, dict[str, float]]:
    """Every requested metric of ``generated`` against ``reference`` with its noise floor.

    Images ``(n, C, S, S)`` in [−1, 1]; ``reference`` needs at least 2n images. Returns
    ``{name: {"value": float, "noise_floor": float}}``; see :class:`ImageMetricSuite` to
    compare many generated sets with one reference without recomputing its features.
    """
    gen = _images(generated, "generated images")
    suite = ImageMetricSuite(
        reference,
        sample_size=len(gen),
        metrics=metrics,
        generator=generator,
        classifier=classifier,
        inception_path=inception_path,
        device=device,
        batch_size=batch_size,
        kid_subset_size=kid_subset_size,
    )
    return suite.evaluate(gen)
