"""Image sources: folders (PNG/JPEG), IDX files, .npy/.npz arrays, and their bad inputs."""

from __future__ import annotations

import gzip
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wsgm.data.images import (
    FASHION_MNIST_DIR,
    ImageOptions,
    ImageSkipWarning,
    convert_images,
    load_images,
    open_images,
)
from wsgm.data.io import load_fields, load_labels, save_fields
from wsgm.errors import WSGMError


def _png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr.astype(np.uint8)).save(path)


def _idx(path: Path, arr: np.ndarray, *, type_code: int = 0x08) -> None:
    header = struct.pack(">BBBB", 0, 0, type_code, arr.ndim) + struct.pack(
        f">{arr.ndim}I", *arr.shape
    )
    data = header + arr.astype(">u1").tobytes()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as fh:
        fh.write(data)


# ----------------------------------------------------------------------------- folders


def test_folder_recursive_mixed_modes(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    _png(folder / "a.png", np.full((10, 10, 3), 51))  # RGB constant 51
    _png(folder / "sub" / "b.png", np.full((12, 16), 204))  # gray, non-square
    Image.fromarray(np.full((9, 9, 3), 255, np.uint8)).save(
        folder / "sub" / "deep.jpg", quality=100
    )
    (folder / "notes.txt").write_text("not an image")
    x, labels, meta = load_images(folder, ImageOptions(size=8, channels=3))
    assert x.shape == (3, 3, 8, 8) and x.dtype == np.float32 and labels is None
    np.testing.assert_allclose(x[0], 51 / 127.5 - 1, atol=1e-6)
    np.testing.assert_allclose(x[1], 204 / 127.5 - 1, atol=1e-6)  # gray -> 3 equal channels
    np.testing.assert_allclose(x[2], 1.0, atol=2 / 127.5)  # JPEG white
    assert meta["files"] == 3 and meta["channels"] == 3


def test_folder_centre_crop_and_channels(tmp_path: Path) -> None:
    # A 16x32 image whose central 16x16 square is pure red and whose sides are black:
    # the centre crop keeps only the red; to gray it is Pillow's luma 0.299*255 -> 76.
    img = np.zeros((16, 32, 3))
    img[:, 8:24, 0] = 255
    _png(tmp_path / "f" / "r.png", img)
    x, _, meta = load_images(tmp_path / "f", ImageOptions(size=4))
    assert meta["channels"] == 3
    np.testing.assert_allclose(x[0, 0], 1.0)
    np.testing.assert_allclose(x[0, 1:], -1.0)
    g, _, _ = load_images(tmp_path / "f", ImageOptions(size=4, channels=1))
    np.testing.assert_allclose(g, 76 / 127.5 - 1, atol=1e-6)


def test_folder_auto_channels_gray(tmp_path: Path) -> None:
    _png(tmp_path / "g" / "a.png", np.arange(64).reshape(8, 8) * 4)
    x, _, meta = load_images(tmp_path / "g", ImageOptions(size=8))
    assert x.shape == (1, 1, 8, 8) and meta["channels"] == 1
    np.testing.assert_allclose(x[0, 0], np.arange(64).reshape(8, 8) * 4 / 127.5 - 1, atol=1e-6)


@pytest.mark.parametrize(
    ("batch_size", "limit", "expected"), [(2, None, [2, 2, 1]), (2, 3, [2, 1]), (10, 4, [4])]
)
def test_folder_streams_in_batches(
    tmp_path: Path, batch_size: int, limit: int | None, expected: list[int]
) -> None:
    for i in range(5):
        _png(tmp_path / "s" / f"{i}.png", np.full((8, 8), 10 * i))
    src = open_images(tmp_path / "s", ImageOptions(size=4, batch_size=batch_size, limit=limit))
    sizes = [len(x) for x, _ in src]
    assert sizes == expected


def test_corrupt_images_are_skipped_and_named(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    _png(folder / "good.png", np.full((8, 8), 100))
    (folder / "garbage.png").write_bytes(b"this is not a png")
    _png(tmp_path / "full.png", np.random.default_rng(0).integers(0, 255, (64, 64, 3)))
    (folder / "truncated.png").write_bytes((tmp_path / "full.png").read_bytes()[:200])
    out = tmp_path / "out.npz"
    with pytest.warns(ImageSkipWarning) as record:
        meta = convert_images(folder, out, ImageOptions(size=8))
    messages = " ".join(str(w.message) for w in record)
    assert "garbage.png" in messages and "truncated.png" in messages
    assert meta["count"] == 1 and meta["skipped_count"] == 2
    data = load_fields(out)
    assert data.fields.shape == (1, 1, 8, 8) and data.meta["skipped_count"] == 2


def test_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(WSGMError, match="no image files"):
        open_images(tmp_path / "empty", ImageOptions(size=8))


def test_folder_of_only_corrupt_images_keeps_previous_output(tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.jpg").write_bytes(b"\xff\xd8garbage")
    out = tmp_path / "out.npz"
    save_fields(out, np.zeros((2, 4, 4)), {"source": "previous"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImageSkipWarning)
        with pytest.raises(WSGMError, match="no readable images"):
            convert_images(tmp_path / "bad", out, ImageOptions(size=8))
    assert load_fields(out).meta["source"] == "previous"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("size", [0, -8, 12, 33])
def test_size_must_be_power_of_two(size: int) -> None:
    with pytest.raises(WSGMError, match="power of two"):
        ImageOptions(size=size)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"channels": 2}, "channels"),
        ({"fit": "stretch"}, "fit"),
        ({"split": "val"}, "split"),
        ({"limit": 0}, "limit"),
        ({"value_range": (1.0, float("nan"))}, "range"),
    ],
)
def test_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(WSGMError, match=match):
        ImageOptions(**kwargs)


# --------------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_folder_pads_28_to_32_with_labels(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 28, 28))
    _idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", imgs)
    _idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", np.array([3, 1, 4, 1, 5]))
    x, labels, meta = load_images(tmp_path, ImageOptions(split="test", batch_size=2))
    assert x.shape == (5, 1, 32, 32) and meta["fit"] == "pad"
    np.testing.assert_allclose(x[:, 0, 2:30, 2:30], imgs / 127.5 - 1, atol=1e-6)
    assert (x[:, :, :2] == -1).all() and (x[:, :, :, 30:] == -1).all()
    np.testing.assert_array_equal(labels, [3, 1, 4, 1, 5])


def test_idx_resize_and_three_channels(tmp_path: Path) -> None:
    _idx(tmp_path / "img-idx3-ubyte", np.full((3, 28, 28), 255))
    x, labels, meta = load_images(tmp_path / "img-idx3-ubyte", ImageOptions(size=16, channels=3))
    assert x.shape == (3, 3, 16, 16) and labels is None and meta["fit"] == "resize"
    np.testing.assert_allclose(x, 1.0, atol=1e-5)


def test_idx_bad_magic(tmp_path: Path) -> None:
    (tmp_path / "x-idx3-ubyte").write_bytes(b"\x01\x02\x08\x03" + b"\0" * 40)
    with pytest.raises(WSGMError, match="magic number"):
        open_images(tmp_path / "x-idx3-ubyte")


def test_idx_truncated_raw_fails_before_writing(tmp_path: Path) -> None:
    _idx(tmp_path / "a-images-idx3-ubyte", np.zeros((4, 28, 28)))
    path = tmp_path / "a-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(WSGMError, match="truncated"):
        open_images(path)


def test_idx_truncated_gz_keeps_previous_output(tmp_path: Path) -> None:
    raw = struct.pack(">BBBBIII", 0, 0, 8, 3, 4, 28, 28) + bytes(28 * 28 * 3)  # 3 of 4
    (tmp_path / "b-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw))
    out = tmp_path / "out.npz"
    save_fields(out, np.ones((1, 4, 4)), {"source": "previous"})
    with pytest.raises(WSGMError, match="truncated"):
        convert_images(tmp_path / "b-images-idx3-ubyte.gz", out, ImageOptions(batch_size=2))
    assert load_fields(out).meta["source"] == "previous"


def test_idx_label_count_mismatch(tmp_path: Path) -> None:
    _idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 8, 8)))
    _idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3))
    with pytest.raises(WSGMError, match="3 labels for 4 images"):
        open_images(tmp_path)


@pytest.mark.parametrize("name", ["missing-images-idx3-ubyte.gz", "nowhere"])
def test_missing_path_says_how_to_get_fashion_mnist(tmp_path: Path, name: str) -> None:
    with pytest.raises(WSGMError, match="apt-get install dataset-fashion-mnist"):
        open_images(tmp_path / name)


def test_idx_folder_without_the_split(tmp_path: Path) -> None:
    _idx(tmp_path / "train-images-idx3-ubyte", np.zeros((1, 4, 4)))
    with pytest.raises(WSGMError, match="t10k-images"):
        open_images(tmp_path, ImageOptions(split="test"))


@pytest.mark.skipif(not FASHION_MNIST_DIR.exists(), reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist() -> None:
    x, labels, meta = load_images("fashion-mnist", ImageOptions(split="test", limit=64))
    assert x.shape == (64, 1, 32, 32) and labels is not None
    assert set(np.unique(labels)) <= set(range(10)) and meta["class_names"][9] == "Ankle boot"
    assert x.min() == -1.0 and x.max() <= 1.0


# ------------------------------------------------------------------------------ arrays


@pytest.mark.parametrize("layout", ["nhw", "nchw", "nhwc"])
def test_npy_layouts_uint8(tmp_path: Path, layout: str) -> None:
    base = np.random.default_rng(1).integers(0, 256, (3, 8, 8)).astype(np.uint8)
    arr = {
        "nhw": base,
        "nchw": np.repeat(base[:, None], 3, 1),
        "nhwc": np.repeat(base[..., None], 3, -1),
    }[layout]
    np.save(tmp_path / "a.npy", arr)
    x, _, meta = load_images(tmp_path / "a.npy")
    channels = 1 if layout == "nhw" else 3
    assert x.shape == (3, channels, 8, 8) and meta["input_range"] == [0.0, 255.0]
    np.testing.assert_allclose(x[:, 0], base / 127.5 - 1, atol=1e-6)


def test_npz_splits_labels_and_float_ranges(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    train, test = rng.random((4, 8, 8)), rng.random((2, 8, 8))
    np.savez(
        tmp_path / "d.npz",
        x_train=train,
        y_train=np.arange(4),
        x_test=test,
        y_test=np.array([7, 8]),
    )
    x, y, _ = load_images(tmp_path / "d.npz")
    np.testing.assert_allclose(x[:, 0], train * 2 - 1, atol=1e-6)  # [0,1] -> [-1,1]
    np.testing.assert_array_equal(y, np.arange(4))
    x, y, meta = load_images(tmp_path / "d.npz", ImageOptions(split="test", size=16))
    assert x.shape == (2, 1, 16, 16) and meta["fit"] == "pad"
    np.testing.assert_array_equal(y, [7, 8])


def test_array_out_of_range_needs_value_range(tmp_path: Path) -> None:
    np.save(tmp_path / "f.npy", np.linspace(0, 10, 2 * 16).reshape(2, 4, 4))
    with pytest.raises(WSGMError, match="--range"):
        open_images(tmp_path / "f.npy")
    x, _, _ = load_images(tmp_path / "f.npy", ImageOptions(value_range=(0.0, 10.0)))
    assert x.min() == -1.0 and x.max() == 1.0


def test_truncated_npz(tmp_path: Path) -> None:
    np.savez(tmp_path / "g.npz", x=np.zeros((10, 8, 8), np.uint8))
    data = (tmp_path / "g.npz").read_bytes()
    (tmp_path / "g.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(WSGMError, match="truncated or corrupt"):
        open_images(tmp_path / "g.npz")


def test_convert_round_trip_with_labels(tmp_path: Path) -> None:
    np.savez(
        tmp_path / "h.npz",
        images=np.full((5, 4, 4, 3), 255, np.uint8),
        labels=np.array([0, 1, 2, 1, 0]),
    )
    meta = convert_images(tmp_path / "h.npz", tmp_path / "o.npz", ImageOptions(batch_size=2))
    data = load_fields(tmp_path / "o.npz")
    assert data.fields.shape == (5, 3, 4, 4) and meta["count"] == 5
    assert data.meta["labels"] is True and data.meta["num_classes"] == 3
    np.testing.assert_array_equal(load_labels(tmp_path / "o.npz"), [0, 1, 2, 1, 0])


def test_folder_without_pillow_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _png(tmp_path / "p" / "a.png", np.zeros((4, 4)))
    monkeypatch.setitem(__import__("sys").modules, "PIL", None)  # import PIL -> ImportError
    with pytest.raises(WSGMError, match="pip install Pillow"):
        open_images(tmp_path / "p", ImageOptions(size=4))
