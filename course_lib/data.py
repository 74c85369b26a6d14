"""MNIST and Fashion-MNIST through one call, `load_data`.

Where the pixels come from:

* **Online (real users).** Keras' own download-and-cache path,
  `keras.utils.get_file`, with the published checksum: MNIST as Keras'
  `mnist.npz` (SHA-256), Fashion-MNIST as its four IDX `.gz` files (MD5).
  The files are cached in `~/.keras/datasets`. Splits: the official 60,000
  training and 10,000 test images.
* **Offline.** When `COURSE_DATA_DIR` names a directory, the original IDX
  `.gz` files are read from it (or from its `mnist/` or `fashion_mnist/`
  sub-directory) and verified: a `.gz` whose MD5 is the published one is
  accepted as it is; for MNIST, a file that was recompressed (other `.gz`
  bytes) is accepted when the SHA-256 of its decompressed IDX content is the
  original's. Anything else is refused, naming the file. If the training
  files are there, the official split is used. If only the 10,000-image test
  split is there (as on CI), it is shuffled once with a fixed seed and cut into
  8,000 training and 2,000 held-out images; the held-out part plays the role of
  the test split in every lesson. The loader prints which files it read and
  how many examples each split has.

Options: value range [0, 1] or [-1, 1]; binarization (`"threshold"` at 0.5 or
`"stochastic"`, each pixel ~ Bernoulli(intensity)); flat (784,) or (28, 28, 1)
images; integer or one-hot labels.
"""
import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course_lib.validate import check_bool, check_optional_int, check_value_range

DATA_DIR_ENV = "COURSE_DATA_DIR"
OFFLINE_SPLIT_SEED = 0
OFFLINE_TEST_SIZE = 2000
KERAS_MIRROR = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

# Published MD5 sums of the original IDX files (LeCun's site, Zalando's repository).
IDX_MD5 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}
# SHA-256 of the decompressed IDX content of the original MNIST files: a recompressed copy of a
# genuine file has other .gz bytes (so another MD5) but exactly these contents.
IDX_CONTENT_SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion_mnist": {},  # only the .gz MD5 sums are published for Fashion-MNIST
}
MNIST_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}
VALUE_RANGES = ((0, 1), (-1, 1))
BINARIZE_METHODS = (None, "threshold", "stochastic")


class DataError(RuntimeError):
    """A data file is missing, truncated or not the file it claims to be."""


@dataclass
class Dataset:
    """Images and labels of one dataset, already split and preprocessed."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    class_names: list

    def __repr__(self):
        return (f"Dataset({self.name}: train {self.x_train.shape}, test {self.x_test.shape}, "
                f"source: {self.source})")


# ----------------------------------------------------------------------------- public API

def load_data(name="mnist", value_range=(0, 1), binarize=None, flat=False, one_hot=False,
              n_train=None, n_test=None, seed=0, verbose=True):
    """Load MNIST or Fashion-MNIST, split and preprocessed as the lessons need.

    Args:
        name: "mnist" or "fashion_mnist".
        value_range: (0, 1) or (-1, 1) (GANs with a tanh output use the latter).
        binarize: None, "threshold" (pixel > 0.5) or "stochastic" (pixel ~ Bernoulli(intensity),
            drawn once here with `seed`; re-draw each epoch with `binarize(x, "stochastic", seed=epoch)`).
        flat: images as (N, 784) instead of (N, 28, 28, 1).
        one_hot: labels as (N, 10) float32 instead of int64.
        n_train, n_test: keep only the first n examples of each split (fast mode uses this).
        seed: seed of the stochastic binarization.
        verbose: print where the data came from and the split sizes.
    """
    value_range = _check_options(name, value_range, binarize, n_train, n_test)
    flat, one_hot = check_bool("flat", flat), check_bool("one_hot", one_hot)
    (x_train, y_train), (x_test, y_test), source = _load_raw(name, verbose)
    x_train, y_train = x_train[:n_train], y_train[:n_train]
    x_test, y_test = x_test[:n_test], y_test[:n_test]
    data = Dataset(
        name=name,
        x_train=_prepare_images(x_train, value_range, binarize, flat, seed),
        y_train=_prepare_labels(y_train, one_hot),
        x_test=_prepare_images(x_test, value_range, binarize, flat, seed + 1),
        y_test=_prepare_labels(y_test, one_hot),
        source=source,
        class_names=CLASS_NAMES[name],
    )
    if verbose:
        print(f"[course_lib.data] {name}: using {len(data.x_train):,} training and "
              f"{len(data.x_test):,} test images, shape {data.x_train.shape[1:]}, "
              f"range {tuple(value_range)}, binarize={binarize}")
    return data


def binarize(x, method="threshold", seed=None):
    """Turn [0, 1] grey levels into {0, 1}.

    "threshold": 1 where x > 0.5. "stochastic": 1 with probability x (Salakhutdinov & Murray's
    binarization, used for likelihood results such as PixelCNN's 81.30 nats); pass a new seed
    each epoch to re-sample.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.min() < 0 or x.max() > 1:
        raise ValueError(f"binarize expects grey levels in [0, 1]; got values in [{x.min():.3g}, {x.max():.3g}].")
    if method == "threshold":
        return (x > 0.5).astype(np.float32)
    if method == "stochastic":
        rng = np.random.default_rng(seed)
        return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)
    raise ValueError(f"binarize method {method!r} is unknown: use 'threshold' or 'stochastic'.")


def read_idx(path, expected_dims):
    """Read one gzipped IDX file (the original MNIST format) into a uint8 array.

    IDX: 2 zero bytes, a type byte (0x08 = uint8), a byte with the number of dimensions,
    then one big-endian int32 per dimension, then the data.
    """
    return parse_idx(decompress(path), expected_dims, path)


def decompress(path):
    """The bytes inside a .gz file, or a DataError naming the file."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path} is not a readable gzip file ({err}); the download was probably "
                        f"interrupted. Delete it and download it again.") from None


def parse_idx(raw, expected_dims, path):
    """IDX bytes -> uint8 array; `path` only names the file in errors."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] != expected_dims:
        raise DataError(f"{path} does not start with the IDX header of a uint8 array with "
                        f"{expected_dims} dimensions (first bytes {raw[:4].hex()}).")
    header_end = 4 + 4 * expected_dims
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(expected_dims))
    if len(raw) - header_end != int(np.prod(shape)):
        raise DataError(f"{path}: the header promises shape {shape} ({int(np.prod(shape)):,} bytes) "
                        f"but {len(raw) - header_end:,} bytes follow. The file is truncated or corrupt: "
                        f"download it again.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_end).reshape(shape)


def md5sum(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_content(path, name):
    """Decompressed IDX bytes of `path`, after checking that they are the original `name` file.

    Returns (raw bytes, what was verified). Accepted: the published .gz (its MD5), or, where the
    content hash is known (MNIST), any gzip whose decompressed bytes have the original SHA-256,
    such as a copy recompressed with other settings. Anything else raises a DataError naming the file.
    """
    if not path.exists():
        raise DataError(f"{path} is missing. Copy the original {name} file {path.name} there.")
    expected_md5 = IDX_MD5[name][path.name]
    expected_sha = IDX_CONTENT_SHA256[name].get(path.name)
    found_md5 = md5sum(path)
    if found_md5 == expected_md5:
        return decompress(path), "MD5 of the .gz"
    try:
        raw = decompress(path)
    except DataError as err:
        raise DataError(f"{path} has MD5 {found_md5}, not the published {name} file's {expected_md5}, and "
                        f"{err} The file is corrupt or truncated: download it again.") from None
    found_sha = hashlib.sha256(raw).hexdigest()
    if expected_sha is not None and found_sha == expected_sha:
        return raw, "SHA-256 of the decompressed content (recompressed file)"
    other = [n for n in IDX_MD5 if IDX_MD5[n].get(path.name) == found_md5
             or IDX_CONTENT_SHA256[n].get(path.name) == found_sha]
    guess = f" It looks like the {other[0]} file." if other else ""
    content = (f" and its decompressed content has SHA-256 {found_sha}, not the original's {expected_sha}"
               if expected_sha else "")
    raise DataError(f"{path} has MD5 {found_md5}, but the published {name} file has MD5 {expected_md5}"
                    f"{content}.{guess} The file is corrupt, truncated or from another dataset: "
                    f"download it again.")


# ----------------------------------------------------------------------------- loading

def _load_raw(name, verbose):
    data_dir = os.environ.get(DATA_DIR_ENV)
    if data_dir:
        return _load_offline(name, Path(data_dir), verbose)
    return _load_with_keras(name, verbose)


def _load_offline(name, data_dir, verbose):
    if not data_dir.is_dir():
        raise DataError(f"{DATA_DIR_ENV}={data_dir} is not a directory. Point it at a folder holding the "
                        f"original {name} IDX files (t10k-images-idx3-ubyte.gz, ...), or unset it to "
                        f"download through Keras.")
    folder = _find_dataset_folder(name, data_dir)
    test, verified = _read_pair(folder, "t10k", name)
    if (folder / "train-images-idx3-ubyte.gz").exists():
        train, verified_train = _read_pair(folder, "train", name)
        verified = verified_train + verified
        files = "train-*.gz and t10k-*.gz"
        split = "official split"
    else:
        train, test = _split_test_file(*test)
        files = "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (no training files there)"
        split = (f"the 10,000 test images shuffled with seed {OFFLINE_SPLIT_SEED} and cut into "
                 f"{len(train[0]):,} train / {len(test[0]):,} held-out")
    source = f"offline: {folder}, {files}; {split}; verified: " + "; ".join(verified)
    if verbose:
        print(f"[course_lib.data] {name} read offline from {folder}: {files}.\n"
              f"[course_lib.data] verified: " + "; ".join(verified) + ".\n"
              f"[course_lib.data] splits: {split}: train {len(train[0]):,}, test {len(test[0]):,}.")
    return train, test, source


def _find_dataset_folder(name, data_dir):
    for folder in (data_dir / name, data_dir):
        if (folder / "t10k-images-idx3-ubyte.gz").exists():
            return folder
    raise DataError(f"{DATA_DIR_ENV}={data_dir} holds no {name} files: expected "
                    f"t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz in {data_dir / name} or "
                    f"{data_dir}. Copy the original IDX .gz files there, or unset {DATA_DIR_ENV} to "
                    f"download through Keras.")


def _read_pair(folder, prefix, name):
    images_file = folder / f"{prefix}-images-idx3-ubyte.gz"
    labels_file = folder / f"{prefix}-labels-idx1-ubyte.gz"
    raw_images, images_check = verified_content(images_file, name)
    raw_labels, labels_check = verified_content(labels_file, name)
    images, labels = parse_idx(raw_images, 3, images_file), parse_idx(raw_labels, 1, labels_file)
    if len(images) != len(labels):
        raise DataError(f"{images_file} has {len(images)} images but {labels_file} has {len(labels)} labels.")
    verified = [f"{images_file.name}: {images_check}", f"{labels_file.name}: {labels_check}"]
    return (images, labels), verified


def _split_test_file(images, labels):
    order = np.random.default_rng(OFFLINE_SPLIT_SEED).permutation(len(images))
    train_idx, test_idx = order[:-OFFLINE_TEST_SIZE], order[-OFFLINE_TEST_SIZE:]
    return (images[train_idx], labels[train_idx]), (images[test_idx], labels[test_idx])


def _load_with_keras(name, verbose):
    try:
        train, test = _download_with_keras(name)
    except Exception as err:  # Keras raises a bare Exception on a failed download
        if isinstance(err, DataError):
            raise
        raise DataError(f"Could not download {name} through Keras ({err}). Without internet, set "
                        f"{DATA_DIR_ENV} to a folder holding the original IDX .gz files "
                        f"(see data/README.md).") from err
    source = "keras.utils.get_file (checksum verified), official split"
    if verbose:
        print(f"[course_lib.data] {name} from the Keras cache: train {len(train[0]):,}, test {len(test[0]):,}.")
    return train, test, source


def _download_with_keras(name):
    import keras

    if name == "mnist":
        path = keras.utils.get_file("mnist.npz", origin=KERAS_MIRROR + "mnist.npz",
                                    file_hash=MNIST_NPZ_SHA256)
        with np.load(path, allow_pickle=False) as f:
            train, test = (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
    else:
        paths = {fname: keras.utils.get_file(fname, origin=KERAS_MIRROR + fname, file_hash=md5,
                                             cache_subdir="datasets/fashion-mnist")
                 for fname, md5 in IDX_MD5[name].items()}
        train = (read_idx(paths["train-images-idx3-ubyte.gz"], 3), read_idx(paths["train-labels-idx1-ubyte.gz"], 1))
        test = (read_idx(paths["t10k-images-idx3-ubyte.gz"], 3), read_idx(paths["t10k-labels-idx1-ubyte.gz"], 1))
    return train, test


# ----------------------------------------------------------------------------- preprocessing

def _check_options(name, value_range, binarize_method, n_train, n_test):
    """Check load_data's arguments; returns value_range as a tuple."""
    if name not in IDX_MD5:
        raise ValueError(f"Unknown dataset {name!r}: choose one of {sorted(IDX_MD5)}.")
    value_range = check_value_range("value_range", value_range, VALUE_RANGES)
    if binarize_method not in BINARIZE_METHODS:
        raise ValueError(f"binarize={binarize_method!r} is unknown: use None, 'threshold' or 'stochastic'.")
    if binarize_method is not None and value_range != (0, 1):
        raise ValueError("binarize needs value_range=(0, 1): binary pixels are 0 or 1.")
    check_optional_int("n_train", n_train, none_means="all examples")
    check_optional_int("n_test", n_test, none_means="all examples")
    return value_range


def _prepare_images(images, value_range, binarize_method, flat, seed):
    x = images.astype(np.float32) / 255.0  # [0, 1]
    if binarize_method is not None:
        x = binarize(x, binarize_method, seed=seed)
    if tuple(value_range) == (-1, 1):
        x = x * 2.0 - 1.0  # [0, 1] -> [-1, 1]
    return x.reshape(len(x), -1) if flat else x[..., None]  # (N, 784) or (N, 28, 28, 1)


def _prepare_labels(labels, one_hot):
    labels = labels.astype(np.int64)
    if one_hot:
        return np.eye(10, dtype=np.float32)[labels]  # (N, 10)
    return labels
