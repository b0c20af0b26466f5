"""The training data of a run: read once, its kind resolved, its identity kept.

- **Kind.** ``image`` or ``field`` (:data:`wsgm.data.io.DATA_KINDS`) decides the padding
  (zeros / circular), the augmentation (none / random shifts and flips of periodic fields)
  and, later, which metrics ``wsgm eval`` uses. It comes from the run config (``kind``,
  ``--kind``), else from the data file, which says it when a ``wsgm data`` command wrote it;
  a bare array that does not say is refused until the user does. A resumed run keeps the
  kind its model was trained with.
- **Identity.** ``RUN/data.json`` records the data path (resolved), the SHA-256 of the
  fields and their shape. A resumed run accepts its data from any path, also after a move,
  if the fields hash the same; other data are refused, naming both.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.inputs import load_data
from ..data.io import data_kind
from ..errors import WSGMError
from ..fileio import read_json, write_json_atomic
from ..models.config import ModelConfig

__all__ = ["TrainingData", "read_training_data", "DATA_RECORD"]

DATA_RECORD = "data.json"


@dataclass
class TrainingData:
    """The fields ``(n, C, H, W)``, their metadata and what the run makes of them."""

    fields: np.ndarray
    meta: dict[str, Any]
    path: Path
    kind: str
    periodic: bool
    sha256: str

    @property
    def value_range(self) -> tuple[float, float]:
        stated = self.meta.get("value_range")
        if isinstance(stated, list | tuple) and len(stated) == 2:
            return float(stated[0]), float(stated[1])
        return float(self.fields.min()), float(self.fields.max())

    def record(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "shape": list(self.fields.shape),
            "kind": self.kind,
        }


def fields_sha256(fields: np.ndarray) -> str:
    """SHA-256 of the fields' shape and float32 bytes (what training sees, not the file)."""
    h = hashlib.sha256(f"{tuple(fields.shape)}|float32|".encode())
    h.update(np.ascontiguousarray(fields, dtype=np.float32).tobytes())
    return h.hexdigest()


def read_training_data(
    path: str, *, kind: str, run_dir: Path, model: ModelConfig | None
) -> TrainingData:
    """Read the data of a run and resolve its kind (``kind`` is the config's: auto, image or
    field); ``model`` is the resumed model's config, None for a new run."""
    if not path:
        raise WSGMError("no training data: give --data FILE (or `data = ...` in the config)")
    p = Path(path)
    saved = _saved_record(run_dir)
    if not p.exists() and saved is not None:
        raise WSGMError(
            f"the data of the run in {run_dir}, {p}, does not exist (moved, or a relative path "
            "from another directory?); give --data with its new path: it is recognized by its "
            f"content (sha256 {str(saved.get('sha256', '?'))[:12]}...)"
        )
    data = load_data(p)
    if data.fields.ndim != 4:
        raise WSGMError(f"training needs 2-d fields (n, C, H, W), got shape {data.fields.shape}")
    _, c, h, w = data.fields.shape
    if model is not None and (model.channels, *model.size) != (c, h, w):
        raise WSGMError(
            f"data {p} has fields {c}x{h}x{w} but the model in {run_dir} was trained on "
            f"{model.channels}x{model.size[0]}x{model.size[1]}"
        )
    stated = data_kind(data.meta)
    if kind != "auto":
        resolved = kind
    elif model is not None:
        resolved = model.resolved_kind
    elif stated is not None:
        resolved = stated
    else:
        raise WSGMError(
            f"{p} does not say whether it holds images or physical fields (a bare array); "
            "give --kind image (zero padding, no wrap-around augmentation, image metrics) or "
            "--kind field (periodic: circular padding, shift/flip augmentation, field metrics)"
        )
    if model is not None:
        periodic = model.periodic
    else:
        periodic = resolved == "field" and bool(data.meta.get("periodic", True))
    out = TrainingData(
        data.fields, data.meta, p.resolve(), resolved, periodic, fields_sha256(data.fields)
    )
    if saved is not None and saved.get("sha256") not in (None, out.sha256):
        raise WSGMError(
            f"{p} holds other data than the run in {run_dir} was trained on (sha256 "
            f"{out.sha256[:12]}... vs {str(saved['sha256'])[:12]}... of {saved.get('path')}); "
            "give the run's data or another --run-dir"
        )
    return out


def _saved_record(run_dir: Path) -> dict[str, Any] | None:
    f = run_dir / DATA_RECORD
    return read_json(f, what="data record") if f.exists() else None


def write_record(run_dir: Path, data: TrainingData) -> None:
    """Record the data's identity in the run directory (rewritten when the data moved)."""
    write_json_atomic(run_dir / DATA_RECORD, data.record())
