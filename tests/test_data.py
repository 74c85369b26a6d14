"""course_lib.data: offline IDX loading, checksums, options and clear errors."""
import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from course_lib import data

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="offline MNIST test split not present")


def write_idx(path, array):
    """Write a uint8 array in the IDX format, gzipped (the inverse of data.read_idx)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_read_idx_round_trip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "x.gz", images)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "x.gz", 3), images)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    write_idx(tmp_path / "x.gz", np.zeros((50, 28, 28), np.uint8))
    raw = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "x.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(data.DataError, match="x.gz"):
        data.read_idx(tmp_path / "x.gz", 3)


def test_header_that_promises_more_bytes_is_a_clear_error(tmp_path):
    header = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in (10, 28, 28))
    with gzip.open(tmp_path / "x.gz", "wb") as f:
        f.write(header + bytes(28 * 28 * 3))  # 3 images where 10 are promised
    with pytest.raises(data.DataError, match="truncated"):
        data.read_idx(tmp_path / "x.gz", 3)


@needs_shared
def test_offline_split_sizes_values_and_labels(monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(SHARED))
    ds = data.load_data("mnist", verbose=False)
    assert ds.x_train.shape == (8000, 28, 28, 1) and ds.x_test.shape == (2000, 28, 28, 1)
    assert ds.x_train.dtype == np.float32 and 0.0 == ds.x_train.min() and ds.x_train.max() == 1.0
    # The first t10k label is a 7 (a fact about the real file); the split is a permutation of all 10,000.
    raw_labels = data.read_idx(SHARED / "t10k-labels-idx1-ubyte.gz", 1)
    assert raw_labels[0] == 7
    assert np.array_equal(np.bincount(np.concatenate([ds.y_train, ds.y_test]), minlength=10),
                          np.bincount(raw_labels, minlength=10))
    # Mean MNIST intensity is about 0.13: the pixels are real digits, not garbage.
    assert 0.12 < ds.x_train.mean() < 0.14


@needs_shared
def test_offline_loader_says_which_files_and_split_sizes(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DATA_DIR", str(SHARED))
    data.load_data("mnist")
    out = capsys.readouterr().out
    assert "t10k-images-idx3-ubyte.gz" in out and "8,000" in out and "2,000" in out


@needs_shared
def test_options_range_flat_one_hot_and_binarization(monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(SHARED))
    base = data.load_data(verbose=False, n_train=500, n_test=100)
    signed = data.load_data(value_range=(-1, 1), flat=True, one_hot=True, verbose=False, n_train=500, n_test=100)
    np.testing.assert_allclose(signed.x_train, base.x_train.reshape(500, 784) * 2 - 1, atol=1e-6)
    np.testing.assert_array_equal(signed.y_train.argmax(1), base.y_train)
    assert signed.y_train.shape == (500, 10) and np.all(signed.y_train.sum(1) == 1)
    thresholded = data.load_data(binarize="threshold", verbose=False, n_train=500, n_test=100)
    np.testing.assert_array_equal(thresholded.x_train, (base.x_train > 0.5).astype(np.float32))


def test_stochastic_binarization_has_the_pixel_as_its_mean():
    x = np.full((200, 28, 28, 1), 0.3, np.float32)
    first, second = data.binarize(x, "stochastic", seed=1), data.binarize(x, "stochastic", seed=2)
    assert set(np.unique(first)) == {0.0, 1.0}
    assert abs(first.mean() - 0.3) < 0.01
    assert not np.array_equal(first, second)  # a new seed re-samples (once per epoch)
    np.testing.assert_array_equal(first, data.binarize(x, "stochastic", seed=1))


def make_data_dir(tmp_path, files=("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")):
    for name in files:
        shutil.copy(SHARED / name, tmp_path / name)
    return tmp_path


@needs_shared
def test_checksum_mismatch_names_the_file_and_both_sums(tmp_path, monkeypatch):
    folder = make_data_dir(tmp_path)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(labels.read_bytes())
    raw[-1] ^= 0xFF
    labels.write_bytes(bytes(raw))
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder))
    with pytest.raises(data.DataError) as err:
        data.load_data(verbose=False)
    message = str(err.value)
    assert "t10k-labels-idx1-ubyte.gz" in message and data.IDX_MD5["mnist"]["t10k-labels-idx1-ubyte.gz"] in message
    assert "download it again" in message


@needs_shared
def test_mnist_files_offered_as_fashion_mnist_are_recognised(tmp_path, monkeypatch):
    folder = make_data_dir(tmp_path)
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder))
    with pytest.raises(data.DataError, match="looks like the mnist file"):
        data.load_data("fashion_mnist", verbose=False)


def test_missing_directory_and_missing_files(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(data.DataError, match="nowhere is not a directory"):
        data.load_data(verbose=False)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataError, match="t10k-images-idx3-ubyte.gz"):
        data.load_data(verbose=False)


@pytest.mark.parametrize("kwargs, word", [
    ({"name": "cifar"}, "Unknown dataset"),
    ({"value_range": (0, 255)}, "value_range"),
    ({"binarize": "otsu"}, "binarize"),
    ({"binarize": "threshold", "value_range": (-1, 1)}, "binarize needs"),
    ({"n_train": 0}, "n_train"),
])
def test_bad_options_name_the_argument(kwargs, word):
    with pytest.raises(ValueError, match=word):
        data.load_data(verbose=False, **kwargs)


def test_keras_download_path_uses_keras_cache_with_checksum(tmp_path, monkeypatch):
    """The real users' path: keras.utils.get_file with the published hash, then np.load without pickle."""
    import keras

    rng = np.random.default_rng(0)
    npz = tmp_path / "mnist.npz"
    arrays = {"x_train": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), "y_train": np.arange(6, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8), "y_test": np.arange(4, dtype=np.uint8)}
    np.savez(npz, **arrays)
    calls = []

    def fake_get_file(fname, origin, file_hash=None, **kwargs):
        calls.append((fname, origin, file_hash))
        return str(npz)

    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    ds = data.load_data("mnist", verbose=False)
    assert calls == [("mnist.npz", data.KERAS_MIRROR + "mnist.npz", data.MNIST_NPZ_SHA256)]
    np.testing.assert_array_equal(ds.y_train, np.arange(6))
    np.testing.assert_allclose(ds.x_test[..., 0], arrays["x_test"] / 255.0, atol=1e-7)


def test_fashion_download_path_checks_md5_of_each_file(tmp_path, monkeypatch):
    import keras

    for prefix, n in (("train", 6), ("t10k", 4)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", np.full((n, 28, 28), 255, np.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8))
    hashes = {}

    def fake_get_file(fname, origin, file_hash=None, cache_subdir=None, **kwargs):
        hashes[fname] = file_hash
        return str(tmp_path / fname)

    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    ds = data.load_data("fashion_mnist", verbose=False)
    assert hashes == data.IDX_MD5["fashion_mnist"]
    assert ds.x_train.shape == (6, 28, 28, 1) and ds.x_train.min() == 1.0
    assert ds.class_names[9] == "Ankle boot"


def test_download_failure_says_how_to_work_offline(monkeypatch):
    import keras

    def failing_get_file(*args, **kwargs):
        raise Exception("URL fetch failure: no network")

    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setattr(keras.utils, "get_file", failing_get_file)
    with pytest.raises(data.DataError, match="COURSE_DATA_DIR"):
        data.load_data(verbose=False)


def test_md5_table_matches_the_shared_files():
    if not SHARED.is_dir():
        pytest.skip("offline MNIST not present")
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert hashlib.md5((SHARED / name).read_bytes()).hexdigest() == data.IDX_MD5["mnist"][name]


def recompress(source, target, change=None):
    """Write the decompressed content of `source` into `target` gzipped with other settings
    (other .gz bytes, so another MD5); `change(bytearray)` may alter the content first."""
    raw = bytearray(gzip.decompress(source.read_bytes()))
    if change is not None:
        change(raw)
    target.write_bytes(gzip.compress(bytes(raw), compresslevel=1, mtime=12345))


@needs_shared
def test_recompressed_genuine_file_is_accepted_by_its_content(tmp_path, monkeypatch, capsys):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        recompress(SHARED / name, tmp_path / name)
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    assert data.md5sum(labels) != data.IDX_MD5["mnist"][labels.name]  # the container really differs
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    reference = data.load_data("mnist", verbose=False, n_train=300)
    monkeypatch.setenv("COURSE_DATA_DIR", str(SHARED))
    original = data.load_data("mnist", verbose=False, n_train=300)
    np.testing.assert_array_equal(reference.x_train, original.x_train)
    assert "SHA-256 of the decompressed content" in reference.source


@needs_shared
@pytest.mark.parametrize("flip_at", [-1, 20])  # a pixel of the last image; a header byte
def test_recompressed_altered_file_is_refused_naming_the_file(tmp_path, monkeypatch, flip_at):
    def flip(raw):
        raw[flip_at] ^= 0x01

    recompress(SHARED / "t10k-images-idx3-ubyte.gz", tmp_path / "t10k-images-idx3-ubyte.gz", change=flip)
    shutil.copy(SHARED / "t10k-labels-idx1-ubyte.gz", tmp_path / "t10k-labels-idx1-ubyte.gz")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataError) as err:
        data.load_data("mnist", verbose=False)
    message = str(err.value)
    assert "t10k-images-idx3-ubyte.gz" in message
    assert data.IDX_CONTENT_SHA256["mnist"]["t10k-images-idx3-ubyte.gz"] in message
    assert "download it again" in message


@needs_shared
def test_content_hashes_match_the_shared_files():
    for name, digest in data.IDX_CONTENT_SHA256["mnist"].items():
        if (SHARED / name).exists():
            assert hashlib.sha256(gzip.decompress((SHARED / name).read_bytes())).hexdigest() == digest
