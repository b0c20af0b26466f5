"""One loader for every input a command takes: :func:`load_data` (docs/design.md §5.1).

- a wsgm data file (``.npz`` with ``fields`` and ``meta``): as written;
- an image folder, an IDX file or folder (Fashion-MNIST): converted like ``wsgm data
  images`` does (values in [-1, 1], side a power of two), kind ``image``;
- a bare ``.npy`` array, or an ``.npz`` without ``fields``: float arrays are taken as they
  are, (n, H, W) or (n, C, H, W), and their kind is unknown (``train`` asks which with
  ``--kind``); integer arrays (pixel bytes) are refused with the command that converts
  them, since 0..255 values are not what a model of images in [-1, 1] expects.

Every command that reads fields (``train --data``, ``eval --reference``, ``upsample
--input``, ``data inspect``) goes through here, so the same file means the same thing to
all of them.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import WSGMError
from .idx import is_idx_name, looks_like_idx
from .io import FieldData, check_finite, load_fields

__all__ = ["load_data", "ARRAY_KEYS"]

ARRAY_KEYS = ("fields", "x", "x_train", "images", "data", "arr_0")
"""Names looked for, in this order, in an ``.npz`` that is not a wsgm data file."""


def load_data(path: str | os.PathLike[str], *, allow_nonfinite: bool = False) -> FieldData:
    """The fields of any accepted input, channel axis explicit ``(n, C, H, W)``."""
    p = Path(path)
    if not p.exists():
        raise WSGMError(
            f"data file {p} does not exist (make one with `wsgm data ...`; accepted: a wsgm "
            ".npz, a .npy/.npz array, an image folder or IDX files)"
        )
    if p.is_dir() or is_idx_name(p.name) or looks_like_idx(p):
        return _images(p)
    suffix = p.suffix.lower()
    if suffix == ".npy":
        return _array(_read_npy(p), p, key=None, allow_nonfinite=allow_nonfinite)
    if suffix == ".npz":
        names = _npz_names(p)
        if "fields" in names:
            return load_fields(p, allow_nonfinite=allow_nonfinite)
        key = next((k for k in ARRAY_KEYS if k in names), None)
        if key is None and len(names) == 1:
            key = names[0]
        if key is None:
            raise WSGMError(
                f"{p} is neither a wsgm data file nor an array file: looked for "
                f"{', '.join(ARRAY_KEYS)}; found {', '.join(names) or 'nothing'}"
            )
        with np.load(p, allow_pickle=False) as npz:
            arr = np.asarray(npz[key])
        return _array(arr, p, key=key, allow_nonfinite=allow_nonfinite)
    raise WSGMError(
        f"{p}: unknown input format {suffix or '(no suffix)'}; accepted: a wsgm .npz, a "
        ".npy/.npz array, an image folder or IDX files"
    )


def _images(p: Path) -> FieldData:
    from .images import IMAGE_SUFFIXES, ImageOptions, load_images

    size = None
    if p.is_dir():  # a folder of pictures: the first one's side, up to a power of two
        first = next((f for f in sorted(p.rglob("*")) if f.suffix.lower() in IMAGE_SUFFIXES), None)
        if first is not None:
            from PIL import Image

            with Image.open(first) as im:
                side = min(im.size)
            size = 1 << max(side - 1, 1).bit_length()
    x, labels, meta = load_images(p, ImageOptions(size=size))
    if labels is not None:
        meta = {**meta, "labels": True}
    return FieldData(np.ascontiguousarray(x, dtype=np.float32), meta)


def _npz_names(p: Path) -> list[str]:
    try:
        with np.load(p, allow_pickle=False) as npz:
            return list(npz.files)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise WSGMError(f"{p} is not a readable .npz file (truncated or corrupt?)") from exc


def _read_npy(p: Path) -> np.ndarray:
    try:
        return np.load(p, allow_pickle=False)
    except (EOFError, OSError, ValueError) as exc:
        raise WSGMError(
            f"{p} is not a readable .npy array of numbers (truncated, corrupt, or objects?)"
        ) from exc


def _array(arr: np.ndarray, p: Path, *, key: str | None, allow_nonfinite: bool) -> FieldData:
    where = f"{p}" + (f" [{key}]" if key else "")
    if arr.dtype.kind in "ui":
        raise WSGMError(
            f"{where} holds {arr.dtype} values (pixel bytes?): convert images with `wsgm data "
            f"images {p} --out FILE.npz` (values mapped to [-1, 1]), or save fields as floats"
        )
    if arr.dtype.kind != "f":
        raise WSGMError(f"{where} holds {arr.dtype} values; fields must be floating point")
    if arr.size == 0:
        raise WSGMError(f"{where} is empty (shape {arr.shape}): no fields to read")
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4:
        raise WSGMError(f"{where}: fields must be (n, H, W) or (n, C, H, W), got shape {arr.shape}")
    fields = np.ascontiguousarray(arr, dtype=np.float32)
    if not allow_nonfinite:
        check_finite(fields, what=f"{where}: fields")
    meta: dict[str, Any] = {
        "source": "array",
        "path": str(p),
        "key": key,
        "value_range": [float(fields.min()), float(fields.max())],
    }
    return FieldData(fields, meta)
