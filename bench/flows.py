"""Benchmark: train lesson 12's RealNVP flow on MNIST's 256 grey levels, report test bits/dim.

    COURSE_DATA_DIR=../shared/data/mnist-full python bench/flows.py            # full mode, official split
    COURSE_FAST=1 python bench/flows.py                                          # a smoke run with tiny numbers
    python bench/flows.py --epochs 5 --seed 1                                    # any setting can be overridden
    python bench/flows.py --time-steps 20                                        # only time 20 training steps

The flow is lesson 12's: `course_lib.flows.build_multiscale_flow` (uniform dequantization, logit,
checkerboard couplings on 28x28x1, a squeeze, channel couplings after learned 1x1 convolutions, then half of
the channels factored out and the rest squeezed to 7x7x8 for more couplings), trained with
`course_lib.training.train` on the negative log-likelihood, Adam with clipnorm and a cosine-decayed learning
rate; `--arch single` builds the earlier one-scale `build_image_flow` instead. The test score is the
dequantization bound, -log p(y) + D log 256 with one noise draw per digit, in bits per dimension, on the
test split that `course_lib.data` loads (the official 10,000 test digits with `mnist-full`; the script
prints which split it used).

Target (issue 15): at most 1.3 bits/dim on the official test split (stretch 1.1). Results go in
bench/results/flows.md.
"""
import argparse
import time

import keras
import numpy as np

from course_lib import config, data, flows, training


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=config.choose(full=20, fast=1))
    parser.add_argument("--n-train", type=int, default=config.choose(full=None, fast=1000))
    parser.add_argument("--n-test", type=int, default=config.choose(full=None, fast=500))
    parser.add_argument("--arch", choices=["single", "multiscale"], default="multiscale",
                        help="single: build_image_flow (one squeeze); multiscale: build_multiscale_flow")
    parser.add_argument("--hidden", type=int, default=config.choose(full=32, fast=8), help="single-scale width")
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--num-checkerboard", type=int, default=config.choose(full=3, fast=2))
    parser.add_argument("--num-channel", type=int, default=config.choose(full=3, fast=2))
    parser.add_argument("--scale-hidden", type=int, nargs=3, default=config.choose(full=[32, 64, 64], fast=[8, 8, 8]),
                        help="multiscale: the coupling networks' width at each of the 3 scales")
    parser.add_argument("--scale-couplings", type=int, nargs=3, default=config.choose(full=[3, 3, 4], fast=[1, 1, 2]),
                        help="multiscale: the number of couplings at each of the 3 scales")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's (initial) learning rate")
    parser.add_argument("--schedule", choices=["cosine", "constant"], default="cosine",
                        help="cosine: the learning rate decays to 0 over the whole run, as in lesson 12")
    parser.add_argument("--clipnorm", type=float, default=100.0, help="clip each gradient's norm (Adam's clipnorm)")
    parser.add_argument("--n-samples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-steps", type=int, default=0,
                        help="only time this many training steps (after 2 warm-up steps) and estimate an epoch")
    return parser.parse_args()


def time_steps(model, x_train, batch_size, n_steps):
    """Seconds per training step, measured on n_steps steps after two warm-up (compiling) steps."""
    rng = np.random.default_rng(0)
    batches = [x_train[rng.integers(0, len(x_train), batch_size)] for _ in range(n_steps + 2)]
    for batch in batches[:2]:
        model.train_on_batch(batch)
    start = time.perf_counter()
    for batch in batches[2:]:
        model.train_on_batch(batch)
    return (time.perf_counter() - start) / n_steps


def main():
    args = parse_args()
    config.setup(seed=args.seed)
    print(f"settings: {vars(args)}")
    mnist = data.load_data("mnist", n_train=args.n_train, n_test=args.n_test)
    x_train, x_test = flows.to_grey_levels(mnist.x_train), flows.to_grey_levels(mnist.x_test)
    print(f"split: {mnist.source}; {len(x_train):,} training and {len(x_test):,} test digits, 256 grey levels")
    if args.arch == "single":
        model = flows.build_image_flow((28, 28, 1), num_checkerboard=args.num_checkerboard,
                                       num_channel=args.num_channel, hidden=args.hidden, depth=args.depth,
                                       seed=args.seed)
    else:
        model = flows.build_multiscale_flow((28, 28, 1), num_couplings=args.scale_couplings,
                                            hidden=args.scale_hidden, depth=args.depth, seed=args.seed)
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    learning_rate = args.learning_rate
    if args.schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(args.learning_rate, args.epochs * steps_per_epoch)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=args.clipnorm))
    print(f"flow: {model.count_params():,} parameters, {len(model.steps)} steps")

    if args.time_steps:
        seconds = time_steps(model, x_train, args.batch_size, args.time_steps)
        print("TIMING (no training run)")
        print(f"  {seconds:.3f} s per step (batch {args.batch_size}, mean of {args.time_steps} steps)")
        print(f"  estimate: {seconds * steps_per_epoch:.0f} s per epoch of {steps_per_epoch} steps, "
              f"{seconds * steps_per_epoch * args.epochs / 3600:.2f} h for {args.epochs} epochs")
        return

    start = time.perf_counter()
    history = training.train(model, x_train, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
    train_seconds = time.perf_counter() - start
    for epoch, (bits, seconds) in enumerate(zip(history.epochs["bits_per_dim"], history.epoch_seconds)):
        print(f"epoch {epoch + 1}: train {bits:.4f} bits/dim ({seconds:.0f} s)")

    test_bits = flows.evaluate_bits_per_dim(model, x_test)
    start = time.perf_counter()
    model.sample(args.n_samples, seed=args.seed)
    sample_seconds = time.perf_counter() - start
    print("RESULT")
    print(f"  data: {mnist.source}")
    print(f"  train digits {len(x_train):,}, test digits {len(x_test):,}, uniform dequantization of 256 levels")
    print(f"  training: {args.epochs} epochs in {train_seconds:.0f} s")
    print(f"  test NLL (dequantization bound): {test_bits:.4f} bits/dim (target <= 1.3, stretch 1.1)")
    print(f"  sampling {args.n_samples} digits (one inverse pass, includes compiling): {sample_seconds:.2f} s")
    print(f"  device: {config.gpu_devices() or 'CPU'}")


if __name__ == "__main__":
    main()
