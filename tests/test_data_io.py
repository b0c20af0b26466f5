"""The data file format: save/load round trips, streamed writing, labels, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wsgm.data.io import FieldData, FieldWriter, load_fields, load_labels, save_fields
from wsgm.errors import WSGMError


@pytest.mark.parametrize(
    ("shape", "spatial_dims", "stored"),
    [
        ((3, 8, 8), 2, (3, 8, 8)),
        ((3, 1, 8, 8), 2, (3, 8, 8)),
        ((3, 2, 4, 8), 2, (3, 2, 4, 8)),
        ((3, 1, 16), 1, (3, 1, 16)),
        ((2, 1, 4, 4, 4), 3, (2, 1, 4, 4, 4)),
    ],
)
def test_save_load_round_trip(
    tmp_path: Path, shape: tuple, spatial_dims: int, stored: tuple
) -> None:
    x = np.random.default_rng(0).standard_normal(shape)
    save_fields(tmp_path / "a.npz", x, {"source": "test", "L": 8}, spatial_dims=spatial_dims)
    with np.load(tmp_path / "a.npz") as npz:
        assert npz["fields"].shape == stored and npz["fields"].dtype == np.float32
    data = load_fields(tmp_path / "a.npz")
    assert isinstance(data, FieldData) and data.meta["source"] == "test"
    np.testing.assert_allclose(data.fields.reshape(shape), x.astype(np.float32))
    assert data.fields.ndim == spatial_dims + 2
    assert load_labels(tmp_path / "a.npz") is None


@pytest.mark.parametrize("batches", [[4], [1, 2, 3], [5, 5]])
def test_field_writer_equals_save_fields(tmp_path: Path, batches: list[int]) -> None:
    rng = np.random.default_rng(1)
    parts = [rng.standard_normal((b, 3, 4, 4)) for b in batches]
    labels = [rng.integers(0, 10, b) for b in batches]
    with FieldWriter(tmp_path / "w.npz") as writer:
        for x, y in zip(parts, labels, strict=True):
            writer.append(x, y)
        writer.close({"source": "stream"})
    save_fields(
        tmp_path / "s.npz",
        np.concatenate(parts),
        {"source": "stream", "count": sum(batches)},
        labels=np.concatenate(labels),
    )
    a, b = load_fields(tmp_path / "w.npz"), load_fields(tmp_path / "s.npz")
    np.testing.assert_array_equal(a.fields, b.fields)
    assert a.meta == b.meta and a.meta["count"] == sum(batches)
    np.testing.assert_array_equal(load_labels(tmp_path / "w.npz"), load_labels(tmp_path / "s.npz"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npz", "w.npz"]  # no spool left


def test_field_writer_one_channel_layout(tmp_path: Path) -> None:
    with FieldWriter(tmp_path / "o.npz") as writer:
        writer.append(np.ones((2, 8, 8)))
        writer.append(np.zeros((1, 1, 8, 8)))
        writer.close()
    with np.load(tmp_path / "o.npz") as npz:
        assert npz["fields"].shape == (3, 8, 8)
    assert load_fields(tmp_path / "o.npz").fields.shape == (3, 1, 8, 8)


def test_field_writer_failure_keeps_previous_file(tmp_path: Path) -> None:
    out = tmp_path / "d.npz"
    save_fields(out, np.zeros((1, 4, 4)), {"source": "old"})
    with pytest.raises(WSGMError, match="NaN"), FieldWriter(out) as writer:
        writer.append(np.ones((2, 4, 4)))
        bad = np.ones((2, 4, 4))
        bad[1, 0, 0] = np.nan
        writer.append(bad)
    assert load_fields(out).meta["source"] == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]


@pytest.mark.parametrize(
    ("second", "labels", "match"),
    [
        (np.ones((2, 4, 8)), None, "shape"),
        (np.ones((2, 4, 4)), np.array([1, 2]), "labels"),
        (np.ones((2, 5)), None, "spatial axes"),
    ],
)
def test_field_writer_rejects_inconsistent_batches(
    tmp_path: Path, second: np.ndarray, labels: np.ndarray | None, match: str
) -> None:
    with FieldWriter(tmp_path / "x.npz") as writer:
        writer.append(np.ones((1, 4, 4)))
        with pytest.raises(WSGMError, match=match):
            writer.append(second, labels)


def test_field_writer_empty(tmp_path: Path) -> None:
    with pytest.raises(WSGMError, match="no fields"), FieldWriter(tmp_path / "e.npz") as writer:
        writer.close()
    assert not (tmp_path / "e.npz").exists()


def test_bad_labels(tmp_path: Path) -> None:
    with pytest.raises(WSGMError, match="labels"):
        save_fields(tmp_path / "l.npz", np.ones((3, 4, 4)), labels=np.array([0.5, 1, 2]))
    with pytest.raises(WSGMError, match="labels"):
        save_fields(tmp_path / "l.npz", np.ones((3, 4, 4)), labels=np.array([0, 1]))


@pytest.mark.parametrize("cut", [0.3, 0.9])
def test_truncated_file(tmp_path: Path, cut: float) -> None:
    save_fields(tmp_path / "t.npz", np.ones((20, 8, 8)), labels=np.arange(20))
    data = (tmp_path / "t.npz").read_bytes()
    (tmp_path / "t.npz").write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(WSGMError, match="truncated or corrupt"):
        load_fields(tmp_path / "t.npz")
    with pytest.raises(WSGMError, match="truncated or corrupt"):
        load_labels(tmp_path / "t.npz")


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(WSGMError, match="does not exist"):
        load_fields(tmp_path / "nope.npz")
    with pytest.raises(WSGMError, match="does not exist"):
        save_fields(tmp_path / "no" / "dir.npz", np.ones((1, 2, 2)))
    with pytest.raises(WSGMError, match="does not exist"):
        FieldWriter(tmp_path / "no" / "dir.npz")


def test_nan_fields_refused(tmp_path: Path) -> None:
    x = np.ones((3, 4, 4))
    x[2, 1, 1] = np.inf
    with pytest.raises(WSGMError, match="index 2"):
        save_fields(tmp_path / "n.npz", x)
    assert not (tmp_path / "n.npz").exists()
