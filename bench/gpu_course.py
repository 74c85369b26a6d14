"""The whole course on a GPU machine with JAX and no TensorFlow: every lesson, then the quality benchmarks.

    KERAS_BACKEND=jax COURSE_DATA_DIR=/path/to/mnist python bench/gpu_course.py OUT_DIR
    KERAS_BACKEND=jax COURSE_DATA_DIR=../shared/data/mnist python bench/gpu_course.py OUT_DIR --fast \\
        --lessons 00 09 --benchmarks evaluator          # a smoke run of a subset, on a CPU

Each lesson runs headless through course_lib.run (full mode unless --fast); the executed notebooks, with
their figures, go to OUT_DIR, and each benchmark's printed output to OUT_DIR/bench_NAME.txt. At the end one
table: item, status, seconds and the key figure the lesson or benchmark printed. The exit code is 1 if
anything failed.

MNIST is read from COURSE_DATA_DIR (a folder of the IDX files, see data/README.md): such a machine has no
network. The evaluator classifier is trained once, by the first item that needs it, into COURSE_CACHE_DIR
(default OUT_DIR/cache). What the machine needs, all installable offline from wheels: jax with its CUDA
plugin, keras and its dependencies, numpy, scipy, matplotlib, tqdm, nbformat, nbclient, ipykernel, and
this repository on PYTHONPATH (or `pip install -e .`).
"""
import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# What each lesson's key figure looks like in its printed output (the first line that matches).
LESSON_FIGURES = {
    "00": r"independent-pixel model: mean test log-likelihood .*",
    "01": r"FVSBN: +[-\d.]+ nats per image",
    "02": r"PixelCNN test -log p\(x\) on .*",
    "03": r"conv autoencoder, d=2: test mean squared error per pixel [\d.]+",
    "04": r"test: negative ELBO .*",
    "05": r"the judge reads the requested digit in .*",
    "06": r"\S.*modes covered \d+/8, high-quality \d+%",
    "07": r"transpose, +average: IS [\d.]+, FID [\d.]+",
    "08": r"label accuracy of G\(z \| y\): [\d.]+",
    "09": r"Spearman\(W1 estimate, FID\) = [-+\d.]+",
    "10": r"\| cGAN \|.*",
    "11": r"code-to-digit agreement: InfoGAN .*",
    "11c": r"minibatch discrimination +modes [\d.]+/8.*",
    "12": r"test negative log-likelihood \(dequantization bound\): .*",
    "13": r"\| DDIM \d+ steps \|.*",
    "14": r"w = 2: label accuracy .*",
}
# The quality benchmarks (bench/NAME.py, default settings: full mode unless --fast) and their key lines.
BENCHMARKS = {
    "evaluator": r"\| \S+ \| \w+ \| [\d.]+% \|.*",
    "vae": r"\| dense \|.*",
    "pixelcnn": r"test NLL: .*",
    "gan_quality": r"(DCGAN|cGAN).*(IS|label accuracy) [\d.]+.*",
    "metrics_table": r"\| cGAN \|.*",
    "other_gans": r"\| semi-supervised GAN, 100 labels \|.*",
    "gan_techniques": r"\| minibatch discrimination \|.*",
    "flows": r"test NLL \(dequantization bound\): .*",
    "diffusion": r"\| DDIM 50 steps \|.*",
    "flow_matching": r"best label accuracy .*",
}


def key_figure(text, pattern, width=90):
    match = re.search(pattern, text, flags=re.MULTILINE)
    return match.group(0).strip().replace("|", "/")[:width] if match else "(not printed)"  # "|" would split the row


def lesson_number(path):
    """'11b' for solutions/11b_cyclegan.ipynb: the part of the name before the first underscore."""
    return path.name.split("_")[0]


def notebook_text(path):
    """Everything a notebook printed or displayed as text, cell after cell."""
    import nbformat

    parts = []
    for cell in nbformat.read(str(path), as_version=4).cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output["text"])
            for kind in ("text/markdown", "text/plain"):
                parts.append(output.get("data", {}).get(kind, ""))
    return "\n".join(parts)


def run_lessons(lessons, out_dir, timeout):
    from course_lib import run

    rows = []
    for path in run.select(lessons):
        print(f"lesson {path.stem} ...", flush=True)
        status, seconds, error = run.execute(path, out_dir, timeout)
        if error:
            print(f"{path.name} FAILED:\n{error[-3000:]}", flush=True)
        text = notebook_text(out_dir / path.name)
        rows.append((path.stem, status, seconds, key_figure(text, LESSON_FIGURES.get(lesson_number(path), "^$"))))
    return rows


def run_benchmarks(names, out_dir, timeout):
    rows = []
    for name in names:
        print(f"benchmark {name} ...", flush=True)
        start = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py")], cwd=ROOT, timeout=timeout,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            status, text = ("ok" if done.returncode == 0 else "FAILED"), done.stdout
        except subprocess.TimeoutExpired as err:
            status, text = "TIMEOUT", (err.stdout or b"").decode(errors="replace")
        seconds = time.perf_counter() - start
        (out_dir / f"bench_{name}.txt").write_text(text)
        if status != "ok":
            print(f"bench/{name}.py {status}:\n{text[-3000:]}", flush=True)
        rows.append((f"bench/{name}.py", status, seconds, key_figure(text, BENCHMARKS[name])))
    return rows


def check_setting(args):
    data_dir = os.environ.get("COURSE_DATA_DIR")
    if not data_dir or not Path(data_dir).is_dir():
        raise SystemExit(f"COURSE_DATA_DIR={data_dir!r} is not a folder: set it to a folder holding the MNIST IDX "
                         "files (see data/README.md); a GPU machine has no network to download them.")
    unknown = [name for name in args.benchmarks if name not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmarks {unknown}; available: {sorted(BENCHMARKS)}")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="folder for the executed notebooks and the benchmarks' outputs")
    parser.add_argument("--fast", action="store_true", help="fast mode (COURSE_FAST=1): a smoke run")
    parser.add_argument("--lessons", nargs="*", default=[], help="lesson numbers, e.g. 00 07 (default: all)")
    parser.add_argument("--benchmarks", nargs="*", default=list(BENCHMARKS),
                        help=f"benchmarks to run after the lessons (default: all of {list(BENCHMARKS)}; none: none)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per notebook cell and benchmark")
    args = parser.parse_args(argv)
    args.benchmarks = [] if args.benchmarks == ["none"] else args.benchmarks
    return args


def main(argv=None):
    args = parse_args(argv)
    check_setting(args)
    out_dir = Path(args.out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ["COURSE_FAST"] = "1" if args.fast else "0"  # the kernels and benchmarks inherit these
    os.environ.setdefault("COURSE_CACHE_DIR", str(out_dir / "cache"))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    from course_lib import config

    config.report()
    start = time.perf_counter()
    rows = run_lessons(args.lessons, out_dir, args.timeout) + run_benchmarks(args.benchmarks, out_dir, args.timeout)
    print(f"\n| item | status | seconds | key figure |\n|---|---|---|---|")
    for name, status, seconds, figure in rows:
        print(f"| {name} | {status} | {seconds:.1f} | {figure} |")
    print(f"\n{config.mode_name()} mode, {time.perf_counter() - start:.0f} s in all; outputs in {out_dir}")
    return 1 if any(status != "ok" for _, status, _, _ in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
