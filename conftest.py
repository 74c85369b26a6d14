"""Settings for every test run, unit tests and notebooks (nbval) alike.

Set here, before any kernel starts, so the notebook kernels inherit them:
fast mode, the offline MNIST files when they exist, a cache folder inside the
repository and quiet TensorFlow logs.
"""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"

os.environ.setdefault("COURSE_FAST", "1")
if "COURSE_DATA_DIR" not in os.environ and SHARED_MNIST.is_dir():
    os.environ["COURSE_DATA_DIR"] = str(SHARED_MNIST)
os.environ.setdefault("COURSE_CACHE_DIR", str(ROOT / "build" / "cache"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# On a small CPU, OpenBLAS threads spinning beside TensorFlow's slow scipy.linalg.sqrtm (FID) tenfold.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
