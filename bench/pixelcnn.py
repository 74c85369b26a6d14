"""Benchmark: train a PixelCNN on stochastically binarized MNIST, report test NLL and sampling time.

    python bench/pixelcnn.py                    # full mode: 64 channels, 7 blocks, 20 epochs
    COURSE_FAST=1 python bench/pixelcnn.py      # a smoke run with tiny numbers
    python bench/pixelcnn.py --epochs 5         # any setting can be overridden

Target on real MNIST (60,000 training digits): at most 90 nats per image (paper: 81.30,
van den Oord et al. 2016). Offline (COURSE_DATA_DIR) only the 10,000 official test digits
exist and are split 8,000 train / 2,000 held-out, so the numbers are not the paper's protocol.
Results go in bench/results/pixelcnn.md.
"""
import argparse
import time

import keras

from course_lib import config, data, pixelcnn


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=config.choose(full=20, fast=1))
    parser.add_argument("--n-train", type=int, default=config.choose(full=None, fast=1000))
    parser.add_argument("--n-test", type=int, default=config.choose(full=None, fast=500))
    parser.add_argument("--filters", type=int, default=config.choose(full=64, fast=16))
    parser.add_argument("--n-blocks", type=int, default=config.choose(full=7, fast=2))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--n-samples", type=int, default=config.choose(full=100, fast=10))
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    config.setup(seed=args.seed)
    print(f"settings: {vars(args)}")
    mnist = data.load_data("mnist", n_train=args.n_train, n_test=args.n_test)
    x_test = data.binarize(mnist.x_test, "stochastic", seed=1234)  # one fixed draw of the test digits
    model = pixelcnn.build_pixelcnn(filters=args.filters, n_blocks=args.n_blocks)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss=pixelcnn.bernoulli_nll)
    print(f"PixelCNN: {model.count_params():,} parameters")

    start = time.perf_counter()
    for epoch in range(args.epochs):  # one fit call per epoch: a fresh stochastic binarization each time
        history = pixelcnn.fit(model, mnist.x_train, epochs=1, batch_size=args.batch_size,
                               seed=args.seed + 1000 * epoch, verbose=0)
        test_nll = pixelcnn.dataset_nll(model, x_test)
        print(f"epoch {epoch + 1}/{args.epochs}: train {history['loss'][0]:.2f}, test {test_nll:.2f} nats/image "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    train_seconds = time.perf_counter() - start

    test_nll = pixelcnn.dataset_nll(model, x_test)
    _, sample_seconds = pixelcnn.timed_sample(model, args.n_samples, seed=args.seed, verbose=0)
    print("RESULT")
    print(f"  data: {mnist.source}")
    print(f"  train digits {len(mnist.x_train):,}, test digits {len(x_test):,}, stochastic binarization")
    print(f"  training: {args.epochs} epochs in {train_seconds:.0f} s")
    print(f"  test NLL: {test_nll:.2f} nats/image = {pixelcnn.nats_to_bits_per_dim(test_nll, 784):.4f} bits/dim "
          f"(target <= 90 on real MNIST; paper 81.30)")
    print(f"  sampling {args.n_samples} digits (784 steps): {sample_seconds:.1f} s")
    print(f"  device: {config.gpu_devices() or 'CPU'}")


if __name__ == "__main__":
    main()
