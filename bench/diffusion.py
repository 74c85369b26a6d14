"""Benchmark: lesson 13's diffusion model, trained in full mode and judged like lesson 10's generators.

    COURSE_DATA_DIR=../shared/data/mnist-full python bench/diffusion.py        # full mode (hours on a CPU)
    python bench/diffusion.py --time-steps 20    # only time 20 full-size training steps, estimate the full run
    COURSE_FAST=1 python bench/diffusion.py      # fast mode: a smoke test of the whole script

Same U-Net, cosine schedule, optimiser, moving average and judge as solutions/13_diffusion.ipynb (its
library versions of q_sample, the loss and the DDIM step). Reports the training time, then one row per
sampler (DDIM at each --ddim step count, and DDPM with all T steps unless --no-ddpm): FID, KID and IS from
the course's MNIST classifier against held-out test digits, the nearest-training-image novelty check, and
samples per second (after a warm-up call that compiles the U-Net for the batch size). The first row is
other held-out test digits: the floor. Target in full mode: a lower FID than the course's best GAN with
50 DDIM steps or fewer (the GAN rows are in bench/results/metrics.md and gan_quality.md).
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402

from course_lib import config, data, diffusion, evaluator, metrics, unet  # noqa: E402
from course_lib.ema import MovingAverage  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=config.choose(full=20000, fast=20), help="training steps")
    parser.add_argument("--batch-size", type=int, default=config.choose(full=128, fast=32))
    parser.add_argument("--num-steps", type=int, default=config.choose(full=1000, fast=50), help="T")
    parser.add_argument("--ddim", type=int, nargs="+", default=config.choose(full=[10, 20, 50], fast=[5, 10]))
    parser.add_argument("--no-ddpm", action="store_true", help="skip DDPM (T network calls per batch)")
    parser.add_argument("--n-eval", type=int, default=config.choose(full=10000, fast=100),
                        help="samples per row (at most half the test set: the other half is the real row)")
    parser.add_argument("--time-steps", type=int, default=None,
                        help="only time this many full-size training steps (after one compiling step) and stop")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def build(args):
    config.set_seed(args.seed)
    network = unet.build_unet(**unet.course_config())  # lesson 13's U-Net
    schedule = diffusion.cosine_schedule(args.num_steps)
    model = diffusion.Diffusion(network, schedule, seed=args.seed)
    model.compile(optimizer=keras.optimizers.Adam(config.choose(full=2e-4, fast=1e-3)))
    return network, schedule, model, MovingAverage(network, decay=config.choose(full=0.999, fast=0.9))


def time_training(model, ema, x_train, args):
    diffusion.train(model, x_train, steps=1, batch_size=args.batch_size, ema=ema, verbose=0)  # compiles
    start = time.perf_counter()
    diffusion.train(model, x_train, steps=args.time_steps, batch_size=args.batch_size, ema=ema, verbose=0)
    per_step = (time.perf_counter() - start) / args.time_steps
    full_steps = parse_args([]).steps
    print(f"{args.time_steps} training steps of batch {args.batch_size}: {per_step * 1000:.0f} ms per step "
          f"(EMA update included); {full_steps} steps would take about {per_step * full_steps / 3600:.1f} h")


def main(argv=None):
    args = parse_args(argv)
    config.setup(seed=args.seed)
    mnist = data.load_data("mnist", value_range=(-1, 1))
    network, schedule, model, ema = build(args)
    print(f"{config.mode_name()} mode; data: {mnist.source}; {len(mnist.x_train):,} training images; "
          f"U-Net {network.count_params():,} parameters; T = {schedule.num_steps} (cosine)")
    if args.time_steps:
        return time_training(model, ema, mnist.x_train, args)

    start = time.perf_counter()
    diffusion.train(model, mnist.x_train, steps=args.steps, batch_size=args.batch_size, ema=ema,
                    verbose=config.choose(full=2, fast=0))
    train_seconds = time.perf_counter() - start

    judge = evaluator.get_evaluator("mnist")
    held_out = metrics.HeldOutJudge(judge, mnist.x_test, mnist.x_train, args.n_eval, value_range=(-1, 1))
    n_eval = held_out.n_eval

    samplers = {f"DDIM {k} steps": (lambda k=k: diffusion.ddim_sample(ema.model, schedule, n_eval, k, seed=1))
                for k in args.ddim}
    if not args.no_ddpm:
        samplers[f"DDPM {schedule.num_steps} steps"] = (
            lambda: diffusion.ddpm_sample(ema.model, schedule, n_eval, seed=1))
    diffusion.ddim_sample(ema.model, schedule, n_eval, 1)  # warm-up: compile for this batch size
    rows = {"real (held-out)": held_out.report(held_out.x_held_out)}
    for name, sample in samplers.items():
        x_fake, seconds = diffusion.timed(sample)
        rows[name] = held_out.report(x_fake)
        rows[name]["samples/s"] = n_eval / seconds

    print(f"\ntraining: {args.steps} steps of batch {args.batch_size} in {train_seconds:.0f} s "
          f"({train_seconds / args.steps * 1000:.0f} ms per step, EMA decay {ema.decay})")
    print(f"samples per row: {n_eval}; features: {judge.name} (held-out accuracy {judge.test_accuracy:.2%}); "
          f"real reference: {n_eval} test digits; KID over subsets of {held_out.kid_subset_size}; near copies: "
          f"pixel distance <= {held_out.threshold:.2f} (1st percentile of the held-out row)\n")
    print(metrics.markdown_table(rows, extra_columns=["samples/s"]))
    return rows


if __name__ == "__main__":
    main()
