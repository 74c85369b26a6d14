"""Benchmark: lesson 14's flow matching with classifier-free guidance, trained in full mode and judged.

    COURSE_DATA_DIR=../shared/data/mnist-full python bench/flow_matching.py    # full mode (hours on a CPU)
    python bench/flow_matching.py --time-steps 20    # only time 20 full-size training steps, estimate the run
    COURSE_FAST=1 python bench/flow_matching.py      # fast mode: a smoke test of the whole script
    python bench/flow_matching.py --figure guidance.png    # also save the two curves as a picture

Same label-conditioned U-Net, optimiser, label dropout and moving average as solutions/14_flow_matching.ipynb
(the library versions of the path, the Euler step and the guidance). After training it prints

  * the guidance curve: for each weight w (--weights; 0 = unconditional, 1 = conditional), the judge's
    label accuracy (as in lesson 08), FID, KID and IS against held-out test digits, novelty and samples
    per second, with --euler Euler steps; the first row is other held-out test digits (the floor);
  * FID against the number of Euler steps (--step-counts) at w = --w-steps.

Target in full mode (issue 16): label accuracy >= 99% at some w, above lesson 08's cGAN
(bench/results/gan_quality.md).
"""
import argparse
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # a script: pictures go to --figure, not to a window
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402

from course_lib import config, data, diffusion, evaluator, flow_matching, metrics, plotting, unet  # noqa: E402
from course_lib.ema import MovingAverage  # noqa: E402

NUM_CLASSES = 10
ACCURACY_TARGET = 0.99


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=config.choose(full=20000, fast=20), help="training steps")
    parser.add_argument("--batch-size", type=int, default=config.choose(full=128, fast=32))
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 1.0, 2.0, 4.0], help="guidance weights w")
    parser.add_argument("--euler", type=int, default=config.choose(full=20, fast=5), help="Euler steps per sample")
    parser.add_argument("--step-counts", type=int, nargs="+", default=config.choose(full=[2, 5, 10, 20, 50],
                                                                                     fast=[2, 5]))
    parser.add_argument("--w-steps", type=float, default=2.0, help="the guidance weight of the steps curve")
    parser.add_argument("--n-eval", type=int, default=config.choose(full=5000, fast=100),
                        help="samples per row (at most half the test set: the other half is the real row)")
    parser.add_argument("--time-steps", type=int, default=None,
                        help="only time this many full-size training steps (after one compiling step) and stop")
    parser.add_argument("--figure", type=Path, default=None, help="save the guidance and steps curves here (PNG)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def build(args):
    config.set_seed(args.seed)
    network = unet.build_unet(**unet.course_config(), num_classes=NUM_CLASSES, time_scale=1000.0)
    model = flow_matching.FlowMatching(network, NUM_CLASSES, label_dropout=0.1, seed=args.seed)
    model.compile(optimizer=keras.optimizers.Adam(config.choose(full=2e-4, fast=1e-3)))
    return network, model, MovingAverage(network, decay=config.choose(full=0.999, fast=0.9))


def train(model, ema, mnist, steps, args, verbose):
    start = time.perf_counter()
    diffusion.train(model, [mnist.x_train, mnist.y_train], steps=steps, batch_size=args.batch_size, ema=ema,
                    verbose=verbose)
    return time.perf_counter() - start


def main(argv=None):
    args = parse_args(argv)
    config.setup(seed=args.seed)
    mnist = data.load_data("mnist", value_range=(-1, 1))
    network, model, ema = build(args)
    print(f"{config.mode_name()} mode; data: {mnist.source}; {len(mnist.x_train):,} training images; "
          f"conditional U-Net {network.count_params():,} parameters")
    if args.time_steps:
        train(model, ema, mnist, 1, args, verbose=0)  # compiles
        per_step = train(model, ema, mnist, args.time_steps, args, verbose=0) / args.time_steps
        full_steps = parse_args([]).steps
        print(f"{args.time_steps} training steps of batch {args.batch_size}: {per_step * 1000:.0f} ms per step "
              f"(EMA update included); {full_steps} steps would take about {per_step * full_steps / 3600:.1f} h")
        return None

    train_seconds = train(model, ema, mnist, args.steps, args, verbose=config.choose(full=2, fast=0))

    judge = evaluator.get_evaluator("mnist")
    held_out = metrics.HeldOutJudge(judge, mnist.x_test, mnist.x_train, args.n_eval, value_range=(-1, 1))
    n_eval = held_out.n_eval
    labels = np.arange(n_eval) % NUM_CLASSES  # every digit equally often

    def report(images):
        row = held_out.report(images)
        row["label accuracy"] = judge.accuracy(np.clip(images, -1, 1), labels, value_range=(-1, 1))
        return row

    def sample(w, num_steps):
        return flow_matching.euler_sample(ema.model, labels, num_steps, w=w, num_classes=NUM_CLASSES, seed=1)

    sample(1.0, 1)  # warm-up: compile for this batch size, so that the times below are sampling only
    rows = {"real (held-out)": held_out.report(held_out.x_held_out)}
    rows["real (held-out)"]["label accuracy"] = judge.accuracy(held_out.x_held_out, mnist.y_test[n_eval:2 * n_eval],
                                                                value_range=(-1, 1))
    for w in args.weights:
        x_fake, seconds = diffusion.timed(lambda: sample(w, args.euler))
        name = f"w = {w:g}, {args.euler} Euler steps"
        rows[name] = report(x_fake)
        rows[name]["samples/s"] = n_eval / seconds
        print(f"  {name}: label accuracy {rows[name]['label accuracy']:.4f}, FID {rows[name]['fid']:.2f}", flush=True)
    fid_steps = []
    for k in args.step_counts:
        fid_steps.append(report(sample(args.w_steps, k))["fid"])
        print(f"  w = {args.w_steps:g}, {k} Euler steps: FID {fid_steps[-1]:.2f}", flush=True)

    print(f"\ntraining: {args.steps} steps of batch {args.batch_size} in {train_seconds:.0f} s "
          f"({train_seconds / args.steps * 1000:.0f} ms per step, EMA decay {ema.decay})")
    print(f"samples per row: {n_eval} (every digit equally often); features: {judge.name} (held-out accuracy "
          f"{judge.test_accuracy:.2%}); real reference: {n_eval} test digits; near copies: pixel distance <= "
          f"{held_out.threshold:.2f} (1st percentile of the held-out row)\n")
    print(metrics.markdown_table(rows, extra_columns=["label accuracy", "samples/s"]))
    print(f"\nFID against Euler steps at w = {args.w_steps:g}: "
          + ", ".join(f"{k}: {f:.2f}" for k, f in zip(args.step_counts, fid_steps)))
    best_w, best = max(((w, rows[f"w = {w:g}, {args.euler} Euler steps"]["label accuracy"]) for w in args.weights),
                       key=lambda pair: pair[1])
    verdict = "meets" if best >= ACCURACY_TARGET else "below"
    print(f"best label accuracy {best:.4f} at w = {best_w:g} ({verdict} the target {ACCURACY_TARGET})")
    if args.figure:
        accuracy = [rows[f"w = {w:g}, {args.euler} Euler steps"]["label accuracy"] for w in args.weights]
        fid = [rows[f"w = {w:g}, {args.euler} Euler steps"]["fid"] for w in args.weights]
        fig = plotting.guidance_curves(args.weights, accuracy, fid, args.step_counts, fid_steps, args.w_steps)
        fig.savefig(args.figure, dpi=120)
        print(f"figure saved: {args.figure}")
    return rows


if __name__ == "__main__":
    main()
