"""Benchmark: dense and convolutional VAEs on MNIST, measured two ways.

    python bench/vae.py                      # full mode: 10 epochs, both models, both protocols
    python bench/vae.py --epochs 3           # a shorter run (say so when you report it)
    COURSE_FAST=1 python bench/vae.py        # fast mode: small data, 1 epoch (smoke test)

Protocol "grey" (the PyTorch reference example, whose test loss after 10 epochs is about 105.6): train on
grey-level pixels with binary cross-entropy summed over pixels + KL, Adam 1e-3, batch size 128, and report
the same quantity on the grey-level test images, in nats per image. The dense model is the reference's
784-400-20 network, initialised as PyTorch initialises it (`--init torch`, the default; `--init keras` keeps
Keras' own initialisation). Targets on the official split: dense <= 105.6, convolutional <= 95.

Protocol "binary": train on stochastically binarized digits (a fresh draw each epoch) and report the test
negative ELBO (single-sample estimate, averaged over `--elbo-samples` draws) on a fixed binarization of the
test images. Both protocols print the time per epoch.
"""
import argparse

import keras
import numpy as np

from course_lib import config, data, training, vae

MODELS = {
    "dense": dict(kind="dense", hidden=(400,)),
    "conv": dict(kind="conv", filters=(32, 64), dense_units=256),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=config.choose(full=10, fast=1))
    parser.add_argument("--models", default="dense,conv", help="comma-separated: dense, conv")
    parser.add_argument("--protocols", default="grey,binary", help="comma-separated: grey, binary")
    parser.add_argument("--latent-dim", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--n-train", type=int, default=config.choose(full=None, fast=2000))
    parser.add_argument("--elbo-samples", type=int, default=config.choose(full=10, fast=1))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init", choices=("torch", "keras"), default="torch",
                        help="torch: the reference's initialisation, U(+-1/sqrt(fan_in)) for weights and biases "
                             "(PyTorch's default); keras: Keras' Glorot-uniform weights and zero biases")
    return parser.parse_args()


def layers_with_weights(layer):
    """Every layer inside `layer` (models nest) that has a kernel and a bias."""
    if hasattr(layer, "kernel") and getattr(layer, "bias", None) is not None:
        yield layer
    for sublayer in getattr(layer, "layers", []):
        yield from layers_with_weights(sublayer)


def torch_default_init(model, seed):
    """Re-draw every kernel and bias as PyTorch's Linear/Conv layers draw them: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    fan_in = the product of the kernel's shape without its last axis: inputs of a Dense layer, kh * kw * channels
    in of a Conv2D, and kh * kw * channels out of a Conv2DTranspose (PyTorch computes it the same way).
    """
    rng = np.random.default_rng(seed)
    for layer in layers_with_weights(model):
        bound = 1.0 / np.sqrt(np.prod(layer.kernel.shape[:-1]))
        for variable in (layer.kernel, layer.bias):
            variable.assign(rng.uniform(-bound, bound, size=variable.shape).astype("float32"))


def run(model_name, protocol, digits, args):
    x_train, x_test = digits.x_train, digits.x_test
    transform = None
    if protocol == "binary":
        x_test = data.binarize(x_test, "stochastic", seed=1234)
        transform = lambda epoch, x, y: (data.binarize(x, "stochastic", seed=epoch), y)  # noqa: E731
    keras.utils.set_random_seed(args.seed)
    model = vae.build_vae(args.latent_dim, seed=args.seed, **MODELS[model_name])
    if args.init == "torch":
        torch_default_init(model, args.seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = training.train(model, x_train, epochs=args.epochs, batch_size=args.batch_size,
                             transform=transform, seed=args.seed, verbose=False)
    later = history.epoch_seconds[1:] or history.epoch_seconds  # the first epoch also compiles
    seconds_per_epoch = float(np.mean(later))
    n_samples = args.elbo_samples if protocol == "binary" else 1
    scores = vae.negative_elbo(model, x_test, n_samples=n_samples)
    return scores, seconds_per_epoch


def main():
    args = parse_args()
    config.setup(seed=args.seed)
    digits = data.load_data(n_train=args.n_train)
    print(f"data: {digits.source} | train {len(digits.x_train):,} | test {len(digits.x_test):,} | "
          f"epochs {args.epochs} | latent_dim {args.latent_dim} | batch_size {args.batch_size} | init {args.init}")
    print(f"| model | protocol | test loss (nats/image) | reconstruction | KL | s/epoch (after the 1st) |")
    print(f"| --- | --- | --- | --- | --- | --- |")
    for model_name in args.models.split(","):
        for protocol in args.protocols.split(","):
            scores, seconds = run(model_name, protocol, digits, args)
            label = "BCE+KL, grey" if protocol == "grey" else f"-ELBO, binarized ({args.elbo_samples if protocol == 'binary' else 1} z/image)"
            print(f"| {model_name} | {label} | {scores['negative_elbo']:.2f} | {scores['reconstruction']:.2f} | "
                  f"{scores['kl']:.2f} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
