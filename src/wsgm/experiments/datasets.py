"""The training and held-out reference sets of a reproduction, made once and reused.

``DIR/data/train.npz`` and ``DIR/data/reference.npz`` (the :mod:`wsgm.data.io` format) come
from independent seeds (Gaussian fields, phi^4 chains) or from the train and test splits
(images). An existing file is reused if it holds fields of the preset's size; a file of
another size is an error (nothing is overwritten).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data.io import FieldData, load_fields, save_fields
from ..errors import WSGMError
from .presets import Preset

__all__ = ["DataSets", "make_datasets", "FASHION_MNIST", "check_size"]

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


class DataSets:
    """Paths and arrays of the training and reference sets."""

    def __init__(self, train_path: Path, reference_path: Path) -> None:
        self.train_path = train_path
        self.reference_path = reference_path
        self.train: FieldData = load_fields(train_path)
        self.reference: FieldData = load_fields(reference_path)

    def labels(self, which: str) -> np.ndarray | None:
        from ..data.io import load_labels

        return load_labels(self.train_path if which == "train" else self.reference_path)


def check_size(data: FieldData, path: Path, size: int, *, what: str) -> None:
    """Raise if the fields in ``path`` are not ``size`` x ``size``."""
    spatial = data.spatial
    if spatial != (size, size):
        raise WSGMError(
            f"{what} {path} holds fields of size {'x'.join(map(str, spatial))}, but this "
            f"run needs {size}x{size}; delete it, use another --out, or pass --size "
            f"{spatial[-1]}"
        )


def _gaussian(path: Path, n: int, preset: Preset, seed: int) -> None:
    from ..data.gaussian import gaussian_fields

    rng = np.random.default_rng(seed)
    fields = gaussian_fields(n, size=preset.size, eta=preset.eta, xi=preset.xi, generator=rng)
    meta = {
        "source": "gaussian",
        "size": preset.size,
        "eta": preset.eta,
        "xi": preset.xi,
        "seed": seed,
        "periodic": True,
    }
    save_fields(path, fields, meta)


def _phi4(path: Path, n: int, preset: Preset, seed: int, progress: bool) -> None:
    import torch

    from ..data.phi4 import sample_phi4

    # 4 chains fix the fields (seed, chains); the workers only share them out, so they follow
    # the command's thread count and change nothing but the wall time.
    fields, meta = sample_phi4(
        n, size=preset.size, seed=seed, workers=max(1, min(4, torch.get_num_threads())),
        chains=4, progress=progress,
    )  # fmt: skip
    save_fields(path, fields, {**meta, "periodic": True})


def _images(path: Path, n: int, preset: Preset, source: str, split: str) -> None:
    from ..data.images import ImageOptions, load_images

    images, labels, meta = load_images(source, ImageOptions(size=preset.size, limit=n, split=split))
    if len(images) < n and split == "test":
        raise WSGMError(
            f"{source} has {len(images)} {split} images, the sweep needs {n} "
            f"(2 x --n); pass a smaller --n"
        )
    save_fields(
        path, images, {**meta, "source": "images", "periodic": False, "split": split}, labels=labels
    )


def make_datasets(
    out_dir: str | os.PathLike[str],
    preset: Preset,
    *,
    source: str | None = None,
    progress: bool = True,
) -> DataSets:
    """Make (or reuse) ``DIR/data/train.npz`` and ``DIR/data/reference.npz`` for ``preset``."""
    d = Path(out_dir) / "data"
    d.mkdir(parents=True, exist_ok=True)
    train, ref = d / "train.npz", d / "reference.npz"
    n_ref = 2 * preset.n_samples
    for path, n, seed, split in (
        (train, preset.n_train, preset.seed * 2 + 1, "train"),
        (ref, n_ref, preset.seed * 2 + 2, "test"),
    ):
        if path.exists():
            continue
        if progress:
            print(f"making {preset.experiment} data: {path} ({n} fields)", flush=True)
        if preset.experiment == "gaussian":
            _gaussian(path, n, preset, seed)
        elif preset.experiment == "phi4":
            _phi4(path, n, preset, seed, progress)
        else:
            _images(path, n, preset, source or FASHION_MNIST, split)
    sets = DataSets(train, ref)
    check_size(sets.train, train, preset.size, what="training data")
    check_size(sets.reference, ref, preset.size, what="reference data")
    if len(sets.reference.fields) < n_ref:
        raise WSGMError(
            f"reference data {ref} hold {len(sets.reference.fields)} fields, the sweep needs "
            f"{n_ref} (2 x --n); delete the file or pass a smaller --n"
        )
    return sets
