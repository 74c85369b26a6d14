"""Lesson 11c's comparison in full mode: remedies for mode collapse on the ring of eight Gaussians.

    python bench/gan_techniques.py                          # the lesson's full-mode settings, 8 seeds
    python bench/gan_techniques.py --write                  # ... and bench/results/gan_techniques.md
    COURSE_FAST=1 python bench/gan_techniques.py            # smoke run: the lesson's fast-mode settings

For each method of course_lib.ring.METHODS (neither; lesson 06's minibatch std; Salimans et al.'s
minibatch discrimination; historical averaging for both players) and each seed, lesson 06's dense ring GAN
is trained with the same steps and learning rate, and 2,000 samples are scored with lesson 06's measure:
the modes covered (>= 1% of the samples within 3 std of a centre) and the high-quality fraction (within
3 std of some centre). A method's effect counts only where it exceeds the spread between seeds.
"""
import argparse
import time
from pathlib import Path

import numpy as np

from course_lib import backend, config, ring

RESULTS = Path(__file__).resolve().parent / "results" / "gan_techniques.md"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=config.choose(full=3000, fast=600), help="GAN steps per run")
    parser.add_argument("--seeds", type=int, default=config.choose(full=8, fast=2), help="runs per method (seeds 1..n)")
    parser.add_argument("--units", type=int, default=config.choose(full=128, fast=64))
    parser.add_argument("--lr", type=float, default=config.choose(full=1e-3, fast=2e-3))
    parser.add_argument("--write", action="store_true", help=f"write the table to {RESULTS}")
    return parser.parse_args()


def main():
    args = parse_args()
    config.setup(seed=0)
    x_ring, centers = ring.ring_data(), ring.ring_centers()
    rows = []
    for method in ring.METHODS:
        start, modes, quality = time.time(), [], []
        for seed in range(1, args.seeds + 1):
            g, _, _ = ring.train_method(method, seed, x_ring, args.steps, args.units, args.lr)
            m, q = ring.count_modes(ring.generate(g), centers, ring.STD)
            modes.append(m)
            quality.append(q)
        rows.append((method, modes, quality, time.time() - start))
        print(f"{method:25s} modes {np.mean(modes):.2f} +- {np.std(modes):.2f} {modes}, high-quality "
              f"{np.mean(quality):.3f} +- {np.std(quality):.3f}, {time.time() - start:.0f} s", flush=True)
    table = format_table(rows, args)
    print(table)
    if args.write:
        RESULTS.write_text(table)
        print(f"wrote {RESULTS}")


def format_table(rows, args):
    lines = [f"# Remedies for mode collapse on the ring of eight Gaussians ({config.mode_name()} mode)",
             "",
             f"`python bench/gan_techniques.py --steps {args.steps} --seeds {args.seeds} --units {args.units} "
             f"--lr {args.lr}`, backend {backend.name()}; 2,000 samples per run; mean +- standard deviation over "
             "the seeds, then the values per seed.",
             "",
             "| method | modes covered (of 8) | per seed | high-quality fraction | per seed | seconds |",
             "|---|---|---|---|---|---|"]
    for method, modes, quality, seconds in rows:
        lines.append(f"| {method} | {np.mean(modes):.2f} +- {np.std(modes):.2f} | {modes} | {np.mean(quality):.3f} "
                     f"+- {np.std(quality):.3f} | {[round(q, 3) for q in quality]} | {seconds:.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
