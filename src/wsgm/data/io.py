"""The one on-disk format every data command writes and every other command reads.

A data file is a ``.npz`` holding

- ``fields``: float32, shape ``(n, H, W)`` for one-channel fields, ``(n, C, H, W)`` otherwise
  (1-d and 3-d fields: ``(n, C, *spatial)`` with an explicit channel axis);
- ``meta``: a JSON string (source, parameters, size, seed, wsgm version, ...);
- ``labels`` (optional): int64, shape ``(n,)``, one class label per field (image data sets).

Writes are atomic (:func:`wsgm.fileio.atomic_write`: temporary file, fsync, rename), so a
killed writer never leaves a half-written file under the final name. :func:`load_fields`
always returns the channel-explicit layout ``(n, C, *spatial)``. :class:`FieldWriter` writes
the same format batch by batch, for data sets too large to hold in memory twice.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import WSGMError
from ..fileio import atomic_write

__all__ = [
    "FieldData",
    "FieldWriter",
    "save_fields",
    "load_fields",
    "load_labels",
    "check_finite",
    "unreadable_message",
    "DATA_KINDS",
    "data_kind",
]

DATA_KINDS = ("image", "field")
"""What a data file holds: ``image`` (values in a fixed range, zero padding, no wrap-around
augmentation, image metrics) or ``field`` (a physical field, periodic unless the file says
otherwise: circular padding, shift/flip augmentation, field metrics)."""

# What files written by wsgm before files said their kind hold, by their ``source``.
_SOURCE_KINDS = {
    "phi4": "field",
    "gaussian": "field",
    "image_folder": "image",
    "idx": "image",
    "images": "image",
}


def data_kind(meta: dict[str, Any]) -> str | None:
    """The kind a file's metadata states (``meta["kind"]``), or the kind of the wsgm command
    that wrote an older file; None when the file does not say (a bare array): never guessed
    from the words in it."""
    kind = meta.get("kind")
    if kind in DATA_KINDS:
        return str(kind)
    source = meta.get("source")
    if source in _SOURCE_KINDS:
        return _SOURCE_KINDS[str(source)]
    if source in ("wsgm sample", "wsgm upsample") and isinstance(meta.get("periodic"), bool):
        return "field" if meta["periodic"] else "image"
    return None


def _with_kind(meta: dict[str, Any], fields_range: tuple[float, float] | None) -> dict[str, Any]:
    """``meta`` with ``kind`` and ``periodic`` where they follow from it, and the observed
    ``value_range`` unless it states one."""
    out = dict(meta)
    kind = data_kind(out)
    if kind is not None:
        out.setdefault("kind", kind)
        out.setdefault("periodic", kind == "field")
    if fields_range is not None:
        out.setdefault("value_range", [float(fields_range[0]), float(fields_range[1])])
    return out


@dataclass
class FieldData:
    """Fields with an explicit channel axis, ``(n, C, *spatial)``, and their metadata."""

    fields: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def channels(self) -> int:
        return int(self.fields.shape[1])

    @property
    def spatial(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.fields.shape[2:])


def check_finite(fields: np.ndarray, *, what: str = "fields", offset: int = 0) -> None:
    """Refuse NaN/Inf, naming the index of the first bad sample (``offset`` + its index
    here, for a batch of a longer sequence)."""
    flat = fields.reshape(fields.shape[0], -1)
    bad = ~np.isfinite(flat).all(axis=1)
    if bad.any():
        first = offset + int(np.argmax(bad))
        raise WSGMError(
            f"{what} contain NaN or Inf: {int(bad.sum())} bad sample(s), the first at index {first}"
        )


def save_fields(
    path: str | os.PathLike[str],
    fields: np.ndarray,
    meta: dict[str, Any] | None = None,
    *,
    spatial_dims: int = 2,
    labels: np.ndarray | None = None,
) -> Path:
    """Write ``fields`` and ``meta`` (and optional per-field integer ``labels``) atomically.

    ``fields`` is (n, C, *spatial) with ``spatial_dims`` spatial axes, or (n, H, W) for
    one-channel 2-d fields; one-channel 2-d fields are stored as (n, H, W), the layout the
    data issue specifies. ``meta["spatial_dims"]`` records how to read the array back.
    """
    arr = np.asarray(fields, dtype=np.float32)
    if spatial_dims == 2 and arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != spatial_dims + 2:
        raise WSGMError(
            f"fields must be (n, C, *spatial) with {spatial_dims} spatial axes, "
            f"got shape {arr.shape}"
        )
    check_finite(arr)
    arrays: dict[str, np.ndarray] = {}
    if labels is not None:
        arrays["labels"] = _check_labels(labels, len(arr))
    if spatial_dims == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    arrays["fields"] = arr
    value_range = (float(arr.min()), float(arr.max())) if arr.size else None
    arrays["meta"] = np.array(_meta_text(_with_kind(meta or {}, value_range), spatial_dims))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, allow_pickle=False, **dict[str, Any](arrays))

    return atomic_write(path, write)


def _meta_text(meta: dict[str, Any] | None, spatial_dims: int) -> str:
    info = {"wsgm_version": __version__, **(meta or {}), "spatial_dims": spatial_dims}
    return json.dumps(info, sort_keys=True, default=_json_default)


def _check_labels(labels: np.ndarray, n: int) -> np.ndarray:
    lab = np.asarray(labels)
    if lab.shape != (n,) or not np.issubdtype(lab.dtype, np.integer):
        raise WSGMError(
            f"labels must be integers of shape ({n},), one per field; got {lab.dtype} {lab.shape}"
        )
    return lab.astype(np.int64)


class FieldWriter:
    """Write a data file batch by batch, in the format of :func:`save_fields`.

    Batches are appended to a hidden spool file next to ``path``; :meth:`close` then streams
    the spool into the final ``.npz`` through :func:`atomic_write`, so memory stays at one
    batch and a failure at any point leaves the previous file at ``path`` untouched. Use it
    as a context manager: leaving the block without :meth:`close` (e.g. on an exception)
    discards the spool and writes nothing.
    """

    def __init__(self, path: str | os.PathLike[str], *, spatial_dims: int = 2) -> None:
        self.path = Path(path)
        self.spatial_dims = spatial_dims
        parent = self.path.parent if str(self.path.parent) else Path(".")
        if not parent.is_dir():
            raise WSGMError(f"output folder {parent} does not exist")
        self._spool = parent / f".{self.path.name}.spool-{os.getpid()}"
        try:
            self._fh: Any = open(self._spool, "wb")
        except OSError as exc:
            raise WSGMError(f"cannot write in output folder {parent}: {exc}") from exc
        self._sample_shape: tuple[int, ...] | None = None
        self._labels: list[np.ndarray] | None = None
        self.count = 0
        self._range: tuple[float, float] | None = None

    def append(self, fields: np.ndarray, labels: np.ndarray | None = None) -> None:
        """Add a batch ``(b, C, *spatial)`` (or ``(b, H, W)``) and, optionally, its labels."""
        arr = np.ascontiguousarray(fields, dtype="<f4")
        if self.spatial_dims == 2 and arr.ndim == 3:
            arr = arr[:, None]
        if arr.ndim != self.spatial_dims + 2:
            raise WSGMError(
                f"a batch must be (b, C, *spatial) with {self.spatial_dims} spatial axes, "
                f"got shape {arr.shape}"
            )
        if self._sample_shape is None:
            self._sample_shape = arr.shape[1:]
            self._labels = None if labels is None else []
        elif arr.shape[1:] != self._sample_shape:
            raise WSGMError(
                f"every batch must hold fields of shape {self._sample_shape}, got {arr.shape[1:]}"
            )
        if (labels is None) != (self._labels is None):
            raise WSGMError("either every batch has labels or none does")
        check_finite(arr, offset=self.count)
        if self._labels is not None and labels is not None:
            self._labels.append(_check_labels(labels, len(arr)))
        self._fh.write(arr.tobytes())
        self.count += len(arr)
        if arr.size:
            lo, hi = float(arr.min()), float(arr.max())
            old = self._range or (lo, hi)
            self._range = (min(old[0], lo), max(old[1], hi))

    def close(self, meta: dict[str, Any] | None = None) -> Path:
        """Write the final file (with ``meta`` plus ``count``) and remove the spool."""
        try:
            self._fh.close()
            if self._sample_shape is None or self.count == 0:
                raise WSGMError(f"nothing to write to {self.path}: no fields were produced")
            shape: tuple[int, ...] = (self.count, *self._sample_shape)
            if self.spatial_dims == 2 and shape[1] == 1:
                shape = (shape[0], *shape[2:])
            info = _with_kind({**(meta or {}), "count": self.count}, self._range)
            text = _meta_text(info, self.spatial_dims)
            labels = None if self._labels is None else np.concatenate(self._labels)
            spool = self._spool

            def write(tmp: Path) -> None:
                with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                    with zf.open("fields.npy", "w", force_zip64=True) as out:
                        header = {"descr": "<f4", "fortran_order": False, "shape": shape}
                        np.lib.format.write_array_header_2_0(out, header)
                        with open(spool, "rb") as src:
                            shutil.copyfileobj(src, out, 1 << 22)
                    if labels is not None:
                        with zf.open("labels.npy", "w", force_zip64=True) as out:
                            np.lib.format.write_array(out, labels)
                    with zf.open("meta.npy", "w") as out:
                        np.lib.format.write_array(out, np.array(text))

            return atomic_write(self.path, write)
        finally:
            self.abort()

    def abort(self) -> None:
        """Discard everything appended so far (the file at ``path`` is not touched)."""
        if not self._fh.closed:
            self._fh.close()
        self._spool.unlink(missing_ok=True)

    def __enter__(self) -> FieldWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def load_fields(path: str | os.PathLike[str], *, allow_nonfinite: bool = False) -> FieldData:
    """Read a data file written by any ``wsgm data`` command (or any .npz with ``fields``).

    Returns fields as float32 with an explicit channel axis. A missing, truncated or
    corrupt file raises :class:`WSGMError` with one clear message.
    """
    path = Path(path)
    if not path.exists():
        raise WSGMError(f"data file {path} does not exist (make one with `wsgm data ...`)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "fields" not in npz.files:
                raise WSGMError(
                    f"{path} has no 'fields' array (found: {', '.join(npz.files) or 'nothing'})"
                )
            arr = np.asarray(npz["fields"], dtype=np.float32)
            meta_raw = npz["meta"] if "meta" in npz.files else None
            meta: dict[str, Any] = json.loads(str(meta_raw)) if meta_raw is not None else {}
    except WSGMError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, json.JSONDecodeError) as exc:
        raise WSGMError(unreadable_message(path, exc)) from exc
    if arr.size == 0:
        raise WSGMError(f"{path} holds no fields ('fields' has shape {arr.shape})")
    spatial_dims = int(meta.get("spatial_dims", 2))
    if spatial_dims == 2 and arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != spatial_dims + 2:
        raise WSGMError(
            f"{path}: 'fields' must be (n, H, W) or (n, C, *spatial) with {spatial_dims} spatial "
            f"axes, got shape {arr.shape}"
        )
    if not allow_nonfinite:
        check_finite(arr, what=f"{path}: fields")
    return FieldData(arr, meta)


def load_labels(path: str | os.PathLike[str]) -> np.ndarray | None:
    """The int64 ``labels`` array of a data file, or None if it has none."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "labels" not in npz.files:
                return None
            return np.asarray(npz["labels"], dtype=np.int64)
    except FileNotFoundError as exc:
        raise WSGMError(f"data file {path} does not exist (make one with `wsgm data ...`)") from exc
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise WSGMError(unreadable_message(path, exc)) from exc


def unreadable_message(path: Path, exc: Exception) -> str:
    """One message for a data file numpy cannot read (numpy's advice to unpickle is not
    passed on: wsgm never loads pickled objects from a file)."""
    if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
        return (
            f"{path} holds Python objects (pickled) rather than numeric arrays; wsgm never "
            "unpickles files: save the fields as a float array"
        )
    return f"{path} is not a readable .npz data file (truncated or corrupt?): {exc}"
