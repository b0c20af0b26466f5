"""Image data sets read in batches: a folder of images, IDX files (Fashion-MNIST), .npy/.npz.

Every source yields float32 batches ``(b, C, S, S)`` with values in [-1, 1] (the input
range, e.g. 0..255, mapped linearly onto [-1, 1]) and, where the source has them, integer
labels. S is a power of two so that the wavelet pyramid of WSGM halves it down to 1
(docs/design.md §4.2, §5.4). How images reach S:

- folders (PNG/JPEG/..., recursive): centre crop to a square, then resize with Lanczos;
- IDX and arrays: ``fit="pad"`` centres the image on a background (−1) canvas (28×28
  Fashion-MNIST → 32×32, the default), ``fit="resize"`` crops to a square and resizes with
  antialiased bicubic interpolation; ``fit="auto"`` pads when the image fits, else resizes.

Nothing is loaded whole: folders decode one batch of files at a time, IDX files are read
batch by batch (gzip or raw, :mod:`wsgm.data.idx`), .npy arrays are memory-mapped. An
unreadable image is skipped with an :class:`ImageSkipWarning` naming it; its path is kept
in ``skipped``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import WSGMError
from .idx import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_DIR,
    FASHION_MNIST_HINT,
    IdxImages,
    find_idx_images,
    is_idx_name,
    looks_like_idx,
)
from .io import FieldWriter, unreadable_message

__all__ = [
    "FASHION_MNIST_DIR",
    "FASHION_MNIST_CLASSES",
    "IMAGE_SUFFIXES",
    "ImageOptions",
    "ImageSkipWarning",
    "ImageSource",
    "open_images",
    "load_images",
    "convert_images",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_HOW_TO_GET = (
    "image sources are a folder of PNG/JPEG files, an IDX file or folder, or a .npy/.npz "
    f"array; {FASHION_MNIST_HINT}"
)


class ImageSkipWarning(UserWarning):
    """An image file could not be decoded and was skipped."""


@dataclass(frozen=True)
class ImageOptions:
    """How to turn a source into ``(n, C, S, S)`` images in [-1, 1].

    size: output side S, a power of two; None keeps the next power of two above the
      source's own size (required for folders). channels: 1 or 3; None keeps the source's
      (folders: the first readable image's). limit: keep at most this many images.
    split: "train" or "test" (IDX folders and .npz files with x_test/y_test).
    value_range: the input values mapped to [-1, 1]; None: 0..255 for bytes, 0..1 or −1..1
      for floats already in those ranges (arrays only).
    """

    size: int | None = None
    channels: int | None = None
    fit: str = "auto"
    limit: int | None = None
    split: str = "train"
    batch_size: int = 256
    value_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        s = self.size
        if s is not None and (not isinstance(s, int) or s < 1 or s & (s - 1)):
            raise WSGMError(
                f"image size must be a positive power of two (8, 16, 32, ...), got {s!r}"
            )
        if self.channels not in (None, 1, 3):
            raise WSGMError(f"channels must be 1 or 3, got {self.channels!r}")
        if self.fit not in ("auto", "pad", "resize"):
            raise WSGMError(f"fit must be auto, pad or resize, got {self.fit!r}")
        if self.limit is not None and self.limit < 1:
            raise WSGMError(f"limit must be a positive number of images, got {self.limit!r}")
        if self.split not in ("train", "test"):
            raise WSGMError(f"split must be train or test, got {self.split!r}")
        if self.batch_size < 1:
            raise WSGMError(f"batch_size must be positive, got {self.batch_size!r}")
        vr = self.value_range
        if vr is not None and not (np.all(np.isfinite(vr)) and vr[0] < vr[1]):
            raise WSGMError(f"value_range must be two finite numbers LO < HI, got {vr!r}")


@dataclass
class ImageSource:
    """An opened source: ``meta`` describes it, iterating yields (images, labels) batches."""

    meta: dict[str, Any]
    _batches: Iterator[tuple[np.ndarray, np.ndarray | None]]
    skipped: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        return self._batches


def _next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _effective_fit(fit: str, native: int, size: int) -> str:
    """What :func:`_fit` does to square images of side ``native``: none, pad or resize."""
    if native == size:
        return "none"
    return ("pad" if native < size else "resize") if fit == "auto" else fit


def open_images(source: str | os.PathLike[str], options: ImageOptions | None = None) -> ImageSource:
    """Open a folder of images, an IDX file or folder, or a .npy/.npz array (see module doc)."""
    opts = options or ImageOptions()
    path = FASHION_MNIST_DIR if str(source) == "fashion-mnist" else Path(source)
    if not path.exists():
        raise WSGMError(f"{path} does not exist; {_HOW_TO_GET}")
    if path.is_dir():
        if any(is_idx_name(p.name) for p in path.iterdir()):
            return _open_idx(find_idx_images(path, opts.split), opts)
        return _open_folder(path, opts)
    if path.suffix.lower() in (".npy", ".npz"):
        return _open_array(path, opts)
    if is_idx_name(path.name) or looks_like_idx(path):
        return _open_idx(path, opts)
    raise WSGMError(f"{path} is not a folder, an IDX file or a .npy/.npz array; {_HOW_TO_GET}")


def load_images(
    source: str | os.PathLike[str], options: ImageOptions | None = None
) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """All images of ``source`` in memory: (images (n, C, S, S), labels or None, meta)."""
    src = open_images(source, options)
    images, labels = [], []
    for x, y in src:
        images.append(x)
        labels.append(y)
    if not images:
        raise WSGMError(f"no readable images in {src.meta['path']}")
    lab = None if labels[0] is None else np.concatenate([np.asarray(v) for v in labels])
    return np.concatenate(images), lab, {**src.meta, "skipped": src.skipped}


def convert_images(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    options: ImageOptions | None = None,
    *,
    progress: bool = False,
) -> dict[str, Any]:
    """Stream ``source`` into the data file ``out`` (atomic); returns the meta written.
    ``progress``: a bar over the images (their number, where the source knows it)."""
    from tqdm import tqdm

    src = open_images(source, options)
    total = src.meta.get("images") or src.meta.get("files")
    with (
        FieldWriter(out) as writer,
        tqdm(total=total, desc="images", unit="image", disable=not progress) as bar,
    ):
        for x, y in src:
            writer.append(x, y)
            bar.update(len(x))
        if writer.count == 0:
            raise WSGMError(
                f"no readable images in {src.meta['path']} ({len(src.skipped)} skipped)"
            )
        meta = {**src.meta, "skipped_count": len(src.skipped), "skipped": src.skipped[:100]}
        writer.close(meta)
    return {**meta, "count": writer.count}


# ---------------------------------------------------------------- shared pixel operations


def _to_unit(x: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """Map [lo, hi] linearly onto [-1, 1]; values outside a user's range saturate."""
    lo, hi = value_range
    y = (np.asarray(x, dtype=np.float32) - np.float32(lo)) * np.float32(2.0 / (hi - lo)) - 1.0
    return np.clip(y, -1.0, 1.0, out=y).astype(np.float32, copy=False)


def _set_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """(b, C, H, W) -> (b, channels, H, W); RGB -> gray by ITU-R 601 luma like Pillow's "L"."""
    if x.shape[1] == 4:
        x = x[:, :3]  # drop alpha
    if x.shape[1] == channels:
        return x
    if channels == 3:
        return np.repeat(x, 3, axis=1)
    luma = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.einsum("bchw,c->bhw", x, luma)[:, None]


def _fit(x: np.ndarray, size: int, fit: str) -> np.ndarray:
    """Centre-crop (b, C, H, W) to a square, then pad onto a −1 canvas or resize to size²."""
    h, w = x.shape[-2:]
    s = min(h, w)
    x = x[..., (h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    if s == size:
        return x
    if fit == "pad" or (fit == "auto" and s < size):
        if s > size:
            raise WSGMError(f"cannot pad {s}x{s} images to the smaller size {size}; use fit=resize")
        lo = (size - s) // 2
        out = np.full((*x.shape[:2], size, size), -1.0, dtype=np.float32)
        out[..., lo : lo + s, lo : lo + s] = x
        return out
    t = F.interpolate(
        torch.from_numpy(np.ascontiguousarray(x)),
        size=(size, size),
        mode="bicubic",
        antialias=True,
        align_corners=False,
    )
    return t.clamp_(-1.0, 1.0).numpy()


# ------------------------------------------------------------------------------ folders


def _open_folder(path: Path, opts: ImageOptions) -> ImageSource:
    try:
        from PIL import Image
    except ImportError as exc:
        raise WSGMError("reading a folder of images needs Pillow: pip install Pillow") from exc
    if opts.size is None:
        raise WSGMError("an image folder needs an output size (--size 32, 64, ...)")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise WSGMError(
            f"no image files ({', '.join(IMAGE_SUFFIXES)}) found in {path} or its sub-folders"
        )
    size = opts.size
    skipped: list[str] = []
    meta: dict[str, Any] = {
        "source": "image_folder",
        "kind": "image",
        "periodic": False,
        "path": str(path),
        "size": size,
        "files": len(files),
        "value_range": [-1.0, 1.0],
        "input_range": [0, 255],
        "labels": False,
    }

    def decode(p: Path, channels: int | None) -> np.ndarray | None:
        try:
            with Image.open(p) as raw:
                raw.load()  # decode now, so a truncated file fails here and not later
                if channels is None:
                    channels = 1 if raw.mode in ("1", "L", "LA", "I", "I;16", "F") else 3
                im = raw.convert("L" if channels == 1 else "RGB")
                w, h = im.size
                s = min(w, h)
                box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
                # crop first: resize(box=...) would let the filter read pixels outside the box
                im = im.crop(box).resize((size, size), Image.Resampling.LANCZOS)
                arr = np.asarray(im, dtype=np.uint8)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            warnings.warn(f"skipping unreadable image {p}: {exc}", ImageSkipWarning, stacklevel=3)
            skipped.append(str(p))
            return None
        return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        channels = opts.channels
        done = 0
        buf: list[np.ndarray] = []
        for p in files:
            if opts.limit is not None and done + len(buf) >= opts.limit:
                break
            arr = decode(p, channels)
            if arr is None:
                continue
            channels = channels or arr.shape[0]
            meta["channels"] = channels
            buf.append(arr)
            if len(buf) == opts.batch_size:
                done += len(buf)
                yield _to_unit(np.stack(buf), (0, 255)), None
                buf = []
        if buf:
            yield _to_unit(np.stack(buf), (0, 255)), None

    meta["channels"] = opts.channels
    return ImageSource(meta, batches(), skipped)


# ---------------------------------------------------------------------------- IDX files


def _open_idx(path: Path, opts: ImageOptions) -> ImageSource:
    idx = IdxImages.open(path)
    labels = idx.labels()
    h, w = idx.rows, idx.cols
    size = opts.size or _next_pow2(min(h, w))
    channels = opts.channels or 1
    value_range = opts.value_range or ((0.0, 255.0) if idx.dtype.kind in "ui" else None)
    if value_range is None:
        raise WSGMError(f"{path} holds {idx.dtype} values: give their range (--range LO HI)")
    count = idx.count if opts.limit is None else min(idx.count, opts.limit)
    meta: dict[str, Any] = {
        "source": "idx",
        "kind": "image",
        "periodic": False,
        "path": str(path),
        "size": size,
        "channels": channels,
        "native_size": [h, w],
        "fit": _effective_fit(opts.fit, min(h, w), size),
        "split": opts.split,
        "images": count,
        "value_range": [-1.0, 1.0],
        "input_range": list(value_range),
        "labels": labels is not None,
    }
    if labels is not None:
        meta["num_classes"] = int(labels.max()) + 1
        if "fashion" in str(path).lower() and meta["num_classes"] == 10:
            meta["class_names"] = list(FASHION_MNIST_CLASSES)

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        start = 0
        for raw in idx.batches(count=count, batch_size=opts.batch_size):
            x = _fit(_set_channels(_to_unit(raw[:, None], value_range), channels), size, opts.fit)
            yield x, None if labels is None else labels[start : start + len(x)]
            start += len(x)

    return ImageSource(meta, batches())


# ------------------------------------------------------------------------------- arrays

_KEYS = {
    "train": (
        ("fields", "images", "x", "x_train", "train_images", "arr_0", "data"),
        ("labels", "y", "y_train", "train_labels"),
    ),
    "test": (("x_test", "test_images", "images_test"), ("y_test", "test_labels", "labels_test")),
}


def _open_array(path: Path, opts: ImageOptions) -> ImageSource:
    labels: np.ndarray | None = None
    key = None
    try:
        if path.suffix.lower() == ".npy":
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as npz:
                names = npz.files
                image_keys, label_keys = _KEYS[opts.split]
                key = next((k for k in image_keys if k in names), None)
                if key is None and opts.split == "train" and len(names) == 1:
                    key = names[0]
                if key is None:
                    raise WSGMError(
                        f"{path} has no {opts.split} image array: looked for "
                        f"{', '.join(image_keys)}; found {', '.join(names) or 'nothing'}"
                    )
                arr = npz[key]
                lkey = next((k for k in label_keys if k in names), None)
                labels = None if lkey is None else np.asarray(npz[lkey]).astype(np.int64)
    except WSGMError:
        raise
    except Exception as exc:  # zip, pickle and format errors all mean a bad file here
        raise WSGMError(unreadable_message(path, exc)) from exc
    x = _channels_first(arr, path)
    if labels is not None and labels.shape != (len(x),):
        raise WSGMError(f"{path}: {len(labels)} labels for {len(x)} images")
    value_range = opts.value_range or _auto_range(x, path)
    n = len(x) if opts.limit is None else min(len(x), opts.limit)
    size = opts.size or _next_pow2(min(x.shape[-2:]))
    channels = opts.channels or (1 if x.shape[1] == 1 else 3)
    meta: dict[str, Any] = {
        "source": "array",
        "kind": "image",
        "periodic": False,
        "path": str(path),
        "key": key,
        "size": size,
        "channels": channels,
        "native_size": list(x.shape[-2:]),
        "images": n,
        "value_range": [-1.0, 1.0],
        "fit": _effective_fit(opts.fit, min(x.shape[-2:]), size),
        "input_range": list(value_range),
        "labels": labels is not None,
    }
    if labels is not None:
        meta["num_classes"] = int(labels.max()) + 1

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        for start in range(0, n, opts.batch_size):
            b = x[start : min(n, start + opts.batch_size)]
            out = _fit(_set_channels(_to_unit(b, value_range), channels), size, opts.fit)
            yield out, None if labels is None else labels[start : start + len(b)]

    return ImageSource(meta, batches())


def _channels_first(arr: np.ndarray, path: Path) -> np.ndarray:
    """(n, H, W) / (n, C, H, W) / (n, H, W, C) with C in {1, 3, 4} -> (n, C, H, W) view."""
    if arr.ndim == 3:
        return arr[:, None]
    if arr.ndim == 4:
        first, last = arr.shape[1] in (1, 3, 4), arr.shape[3] in (1, 3, 4)
        if first:
            return arr
        if last:
            return arr.transpose(0, 3, 1, 2)
    raise WSGMError(
        f"{path}: images must be (n, H, W), (n, C, H, W) or (n, H, W, C) with C in "
        f"1, 3, 4; got shape {arr.shape}"
    )


def _auto_range(x: np.ndarray, path: Path) -> tuple[float, float]:
    if x.dtype == np.bool_:
        return (0.0, 1.0)
    if x.dtype.kind == "u":
        return (0.0, float(np.iinfo(x.dtype).max))
    lo, hi = np.inf, -np.inf
    for start in range(0, len(x), 1024):  # chunked: x may be a memory map
        chunk = np.asarray(x[start : start + 1024], dtype=np.float64)
        if not np.isfinite(chunk).all():
            raise WSGMError(f"{path} contains NaN or Inf values")
        lo, hi = min(lo, float(chunk.min())), max(hi, float(chunk.max()))
    if lo >= 0 and hi <= 1:
        return (0.0, 1.0)
    if lo >= -1 and hi <= 1:
        return (-1.0, 1.0)
    raise WSGMError(
        f"{path} holds values in [{lo:g}, {hi:g}]; say which range maps to [-1, 1] "
        "(--range LO HI, e.g. --range 0 255)"
    )
