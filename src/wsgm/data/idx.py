"""The IDX format of (Fashion-)MNIST, read in batches, raw or gzip-compressed.

An IDX file is a 4-byte magic number — two zero bytes, a type code (0x08 unsigned byte,
0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64) and the number of
dimensions d — then d big-endian uint32 sizes, then the values in C order, big-endian.
Debian's ``dataset-fashion-mnist`` installs ``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``
in :data:`FASHION_MNIST_DIR`.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from ..errors import WSGMError

__all__ = [
    "FASHION_MNIST_DIR",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_HINT",
    "IdxImages",
    "is_idx_name",
    "looks_like_idx",
    "find_idx_images",
    "read_idx_header",
    "read_idx_labels",
]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
FASHION_MNIST_HINT = (
    "for Fashion-MNIST run `sudo apt-get install dataset-fashion-mnist`, which puts the IDX "
    f"files in {FASHION_MNIST_DIR} (or pass the name fashion-mnist)"
)
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def is_idx_name(name: str) -> bool:
    """File names like ``train-images-idx3-ubyte(.gz)``."""
    return "-idx" in name and "-ubyte" in name


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def looks_like_idx(path: Path) -> bool:
    """Whether the file starts with an IDX magic number."""
    try:
        with _open(path) as fh:
            head = fh.read(4)
    except (OSError, EOFError):
        return False
    return len(head) == 4 and head[:2] == b"\0\0" and head[2] in _DTYPES


def find_idx_images(folder: Path, split: str) -> Path:
    """The images file of ``split`` ("train" or "test" = t10k) in an MNIST-style folder."""
    prefix = "train" if split == "train" else "t10k"
    for name in (
        f"{prefix}-images-idx3-ubyte",
        f"{prefix}-images-idx3-ubyte.gz",
        f"{prefix}-images.idx3-ubyte",
    ):
        if (folder / name).exists():
            return folder / name
    raise WSGMError(
        f"no {prefix}-images-idx3-ubyte[.gz] (the {split} split) in {folder}; {FASHION_MNIST_HINT}"
    )


def read_idx_header(fh: IO[bytes], path: Path) -> tuple[np.dtype, tuple[int, ...]]:
    """Parse the header at the start of ``fh``: (value dtype, dimensions)."""
    head = fh.read(4)
    if len(head) < 4 or head[:2] != b"\0\0" or head[2] not in _DTYPES:
        raise WSGMError(
            f"{path} is not an IDX file (bad magic number {head.hex() or 'empty file'}; "
            "expected 0000 then a type byte 08/09/0b/0c/0d/0e)"
        )
    dims_raw = fh.read(4 * head[3])
    if len(dims_raw) < 4 * head[3]:
        raise WSGMError(f"{path} is truncated inside its IDX header")
    dims = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
    return np.dtype(_DTYPES[head[2]]), dims


def read_idx_labels(path: Path, count: int) -> np.ndarray:
    """A 1-d IDX label file as int64, checked to hold ``count`` labels."""
    with _open(path) as fh:
        dtype, dims = read_idx_header(fh, path)
        if len(dims) != 1:
            raise WSGMError(f"{path}: IDX labels must be 1-d, got dimensions {dims}")
        try:
            raw = fh.read(dims[0] * dtype.itemsize)
        except (OSError, EOFError) as exc:
            raise WSGMError(f"{path} is truncated or corrupt: {exc}") from exc
    if len(raw) < dims[0] * dtype.itemsize:
        raise WSGMError(f"{path} is truncated: its header promises {dims[0]} labels")
    if dims[0] != count:
        raise WSGMError(f"{path} holds {dims[0]} labels for {count} images")
    return np.frombuffer(raw, dtype=dtype).astype(np.int64)


@dataclass(frozen=True)
class IdxImages:
    """A 3-d IDX images file (count, rows, cols), its labels file if one lies next to it."""

    path: Path
    dtype: np.dtype
    count: int
    rows: int
    cols: int
    labels_path: Path | None

    @classmethod
    def open(cls, path: Path) -> IdxImages:
        """Read and check the header; a raw file shorter than it promises is refused here."""
        with _open(path) as fh:
            dtype, dims = read_idx_header(fh, path)
        if len(dims) != 3:
            raise WSGMError(f"{path}: IDX images must be 3-d (count, rows, cols), got {dims}")
        n, h, w = dims
        need = 4 + 4 * 3 + n * h * w * dtype.itemsize
        if path.suffix != ".gz" and path.stat().st_size < need:
            raise WSGMError(f"{path} is truncated: its header promises {n} images of {h}x{w}")
        lab = path.with_name(
            path.name.replace("images-idx3", "labels-idx1").replace("images.idx3", "labels.idx1")
        )
        return cls(path, dtype, n, h, w, lab if lab != path and lab.exists() else None)

    def labels(self) -> np.ndarray | None:
        return None if self.labels_path is None else read_idx_labels(self.labels_path, self.count)

    def batches(self, *, count: int, batch_size: int) -> Iterator[np.ndarray]:
        """The first ``count`` images, ``batch_size`` at a time, as (b, rows, cols) arrays.

        A gzip file can only be checked while reading: its truncation raises here.
        """
        per_image = self.rows * self.cols * self.dtype.itemsize
        with _open(self.path) as fh:
            fh.read(4 + 4 * 3)
            for start in range(0, count, batch_size):
                b = min(batch_size, count - start)
                try:
                    raw = fh.read(b * per_image)
                except (OSError, EOFError) as exc:
                    raise WSGMError(f"{self.path} is truncated or corrupt: {exc}") from exc
                if len(raw) < b * per_image:
                    raise WSGMError(
                        f"{self.path} is truncated: its header promises {self.count} images, "
                        f"the data stops after {start + len(raw) // per_image}"
                    )
                yield np.frombuffer(raw, dtype=self.dtype).reshape(b, self.rows, self.cols)
