"""Lesson 11b's measurement in full mode: does CycleGAN's translation keep the digit?

    COURSE_DATA_DIR=../shared/data/mnist-full python bench/cyclegan.py                 # full mode, official split
    COURSE_DATA_DIR=../shared/data/mnist-full python bench/cyclegan.py --time-steps 5  # only time 5 steps
    COURSE_FAST=1 python bench/cyclegan.py --steps 20                                  # smoke run: tiny models

Domain A: the plain training digits of one half of the split, domain B: the other half thickened
(course_lib.cyclegan.make_domains). After training, the course's evaluator (trained on plain MNIST)
reads the held-out test digits after A -> B and after the round trip A -> B -> A (and B -> A, B -> A -> B
on the thickened test digits); "content kept" is the fraction read as the true label. The reference is
the evaluator's accuracy on real plain and real thick test digits. The cycle error is the mean
|x_back - x| on the held-out digits. Settings are the lesson's (solutions/11b_cyclegan.ipynb).
"""
import argparse
import time

import numpy as np

from course_lib import config, cyclegan, data, evaluator

CYCLE_WEIGHT = 10.0  # lambda, the paper's value
IDENTITY_WEIGHT = 0.5 * CYCLE_WEIGHT


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=config.choose(full=2000, fast=80),
                        help="training steps (the lesson's full-mode 2000 by default)")
    parser.add_argument("--batch-size", type=int, default=config.choose(full=32, fast=16))
    parser.add_argument("--n-eval", type=int, default=None, help="held-out test digits to measure (default: all)")
    parser.add_argument("--time-steps", type=int, default=None,
                        help="only time this many training steps (after 2 warm-up steps that compile) and stop")
    return parser.parse_args()


def build(seed=0):
    config.set_seed(seed)
    filters, num_residual = config.choose(full=32, fast=16), config.choose(full=2, fast=1)
    networks = [cyclegan.build_translator(filters=filters, num_residual=num_residual, name=name)
                for name in ("G_AB", "G_BA")]
    networks += [cyclegan.build_patch_discriminator(filters=filters, name=name) for name in ("D_A", "D_B")]
    return networks


def time_steps(trainer, x_a, x_b, batch_size, n_steps):
    """Seconds per training step over n_steps, after 2 warm-up steps that compile every step function."""
    trainer.train(x_a, x_b, 2, batch_size=batch_size)
    start = time.perf_counter()
    trainer.train(x_a, x_b, n_steps, batch_size=batch_size)
    return (time.perf_counter() - start) / n_steps


def measure(g_ab, g_ba, mnist, n_eval):
    """Content kept both ways on the held-out digits, next to the judge's accuracy on real A and B."""
    judge = evaluator.get_evaluator("mnist")
    n = n_eval or len(mnist.x_test)
    x_test_a, y_test = mnist.x_test[:n], mnist.y_test[:n]
    x_test_b = cyclegan.thicken(x_test_a)
    reference_a = judge.accuracy(x_test_a, y_test, value_range=(-1, 1))
    reference_b = judge.accuracy(x_test_b, y_test, value_range=(-1, 1))
    a_to_b = cyclegan.content_kept(g_ab, g_ba, judge, x_test_a, y_test)
    b_to_a = cyclegan.content_kept(g_ba, g_ab, judge, x_test_b, y_test)
    print(f"the judge on {n:,} held-out digits: plain {reference_a:.4f}, thickened {reference_b:.4f}")
    print(f"content kept A -> B {a_to_b['translated']:.4f} (reference {reference_b:.4f}), "
          f"A -> B -> A {a_to_b['round_trip']:.4f} (reference {reference_a:.4f})")
    print(f"content kept B -> A {b_to_a['translated']:.4f} (reference {reference_a:.4f}), "
          f"B -> A -> B {b_to_a['round_trip']:.4f} (reference {reference_b:.4f})")
    print(f"cycle error (mean |x_back - x|): A -> B -> A {a_to_b['cycle_error']:.4f}, "
          f"B -> A -> B {b_to_a['cycle_error']:.4f}")


def main():
    args = parse_args()
    config.setup(seed=0)
    mnist = data.load_data("mnist", value_range=(-1, 1))
    x_a, x_b, _, _ = cyclegan.make_domains(mnist.x_train, seed=0)
    g_ab, g_ba, d_a, d_b = build()
    trainer = cyclegan.CycleGANTrainer(g_ab, g_ba, d_a, d_b, cycle_weight=CYCLE_WEIGHT, identity_weight=IDENTITY_WEIGHT,
                                       learning_rate=config.choose(full=2e-4, fast=5e-4), seed=0, verbose=0)
    if args.time_steps:
        seconds = time_steps(trainer, x_a, x_b, args.batch_size, args.time_steps)
        print(f"{config.mode_name()} mode, batch {args.batch_size}: {seconds:.3f} s per step over {args.time_steps} "
              f"steps -> {args.steps} steps would take about {seconds * args.steps / 60:.1f} min")
        return
    trainer.verbose = 1
    start = time.perf_counter()
    trainer.train(x_a, x_b, args.steps, batch_size=args.batch_size)
    seconds = time.perf_counter() - start
    print(f"\nLesson 11b in {config.mode_name()} mode ({mnist.source}; domains of {len(x_a):,} and {len(x_b):,} "
          f"training digits; {args.steps} steps, batch {args.batch_size}, {seconds:.0f} s of training, "
          f"{seconds / max(args.steps, 1):.3f} s per step)")
    measure(g_ab, g_ba, mnist, args.n_eval)
    print("final losses (mean of the last 50 steps):",
          {key: round(float(np.mean(values[-50:])), 4) for key, values in trainer.history.items()})


if __name__ == "__main__":
    main()
