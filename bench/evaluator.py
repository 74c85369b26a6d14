"""Benchmark: the MNIST evaluator's held-out accuracy (target: at least 99% in full mode on real MNIST).

    python bench/evaluator.py                      # full mode: all training images, 8 epochs
    python bench/evaluator.py --epochs 3           # fewer epochs (say so when you report it)
    COURSE_FAST=1 python bench/evaluator.py        # the fast-mode evaluator the tests use

Always retrains (into a temporary cache folder unless --keep), so the time is the training time.
Offline (COURSE_DATA_DIR with only the 10,000 test digits) the split is 8,000 train / 2,000
held-out, so the figure is not the official MNIST test accuracy; the output says which it is.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib import config, evaluator  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=None, help="default: 8 (full) or 3 (fast)")
    parser.add_argument("--n-train", type=int, default=None, help="default: all (full) or 3000 (fast)")
    parser.add_argument("--keep", action="store_true", help="write into the course cache instead of a temp folder")
    args = parser.parse_args(argv)
    if not args.keep:
        os.environ[evaluator.CACHE_ENV] = tempfile.mkdtemp(prefix="course_bench_")
    config.report()
    start = time.perf_counter()
    judge = evaluator.get_evaluator("mnist", epochs=args.epochs, n_train=args.n_train, retrain=True)
    seconds = time.perf_counter() - start
    from course_lib.data import load_data

    data = load_data("mnist", verbose=False)
    n_test = len(data.x_test)
    split = ("official MNIST test set" if n_test == 10000
             else f"offline held-out split ({n_test:,} images; training on the rest of the 10,000 test digits)")
    print(f"\n| evaluator | mode | held-out accuracy | evaluated on | train time (s) |")
    print(f"|---|---|---|---|---|")
    print(f"| {judge.name} | {config.mode_name()} | {judge.test_accuracy:.2%} | {split} | {seconds:.0f} |")
    return judge


if __name__ == "__main__":
    main()
