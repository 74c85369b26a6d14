"""Throughput: course_lib's train_on_batch GAN loop vs one fused, compiled train step, on any backend.

Both sides train the same architecture (the dense MNIST G and D of lesson 06, or lesson 07's conv
builders) on the same data with the same work per step: a D update on a real batch, a D update on a
fake batch, then a G update through D (non-saturating loss), each with Adam(2e-4, 0.5), and the same
logged quantities (D's loss and accuracy on real and on fake, G's loss), read back to the host every step.

    loop   course_lib.gan_training.GANTrainer: 3 train_on_batch calls per step
    fused  FusedGAN.train_step: the same 3 updates inside one compiled function
           (course_lib.backend.compile: tf.function on TensorFlow, jax.jit on JAX), no Keras around it
    split  (with --explain) the fused step's 3 updates as 3 separately compiled calls: what a loop of
           separate calls could reach with no per-call overhead at all. fused/split is what running the
           3 updates inside one graph is worth; split/loop is what train_on_batch's own work per call costs.

The fused and split steps are written the way Keras offers on every backend: the loss as a
function of the weights' values (`stateless_call`), its gradient (`course_lib.backend.value_and_grad`)
and the optimizer's `apply`. The contenders run interleaved, in blocks of --steps steps, for
--rounds rounds, so that load from other processes on a shared CPU hits them alike. Each block is timed
from the end of its first step to the end of its last one (steady state: tracing is left out). Prints
steps/s per side and loop/fused. Run it once per backend (KERAS_BACKEND=tensorflow or jax).

    python bench/gan_throughput.py                     # full: 8 rounds x 100 steps, batch 128
    COURSE_FAST=1 python bench/gan_throughput.py       # fast: 3 rounds x 20 steps
    python bench/gan_throughput.py --rounds 4 --steps 50 --batch-size 64
    python bench/gan_throughput.py --inter-op-threads 1    # TensorFlow: no op-level parallelism
    python bench/gan_throughput.py --models dcgan --rounds 4 --steps 15   # lesson 07's conv G and D
    KERAS_BACKEND=jax python bench/gan_throughput.py --models dcgan --rounds 4 --steps 15
    python bench/gan_throughput.py --explain           # adds the split contender

The default batch size, 128, is the one lessons 06 and 07 train with in full mode.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from course_lib import backend, config, gan_models  # noqa: E402
from course_lib.data import load_data  # noqa: E402
from course_lib.gan_training import GANTrainer  # noqa: E402


def bce(target, p):
    return keras.losses.binary_crossentropy(ops.full(ops.shape(p), target), p)  # -[t log p + (1-t) log(1-p)]


def update(model, optimizer, loss_fn):
    """One optimizer step on `model`'s trainable weights for loss_fn(weight values) -> (loss, (aux, updates)).

    `updates`: new values of non-trainable variables (batch-norm statistics, dropout seeds) as
    [(variable, value)], assigned after the step.
    """
    (loss, (aux, updates)), grads = backend.value_and_grad(loss_fn)([v.value for v in model.trainable_variables])
    optimizer.apply(grads, model.trainable_variables)
    for variable, value in updates:
        variable.assign(value)
    return loss, aux


def run(model, weights, x):
    """model(x, training=True) with the given trainable weights: (output, [(variable, new value)])."""
    non_trainable = model.non_trainable_variables
    out, values = model.stateless_call(weights, [v.value for v in non_trainable], x, training=True)
    return out, list(zip(non_trainable, values))


class FusedGAN:
    """The loop's three updates in one compiled function."""

    def __init__(self, generator, discriminator, latent_dim, seed=0):
        self.generator, self.discriminator, self.latent_dim = generator, discriminator, latent_dim
        self.seed_generator = keras.random.SeedGenerator(seed)

    def compile(self, d_optimizer, g_optimizer):
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)
        self.compiled_step = backend.compile(self.train_step, self.variables)

    def variables(self):
        return [self.seed_generator.state, *self.generator.variables, *self.discriminator.variables,
                *self.d_optimizer.variables, *self.g_optimizer.variables]

    def d_update(self, x, target):
        def loss(weights):
            p, updates = run(self.discriminator, weights, x)
            return ops.mean(bce(target, p)), (p, updates)

        return update(self.discriminator, self.d_optimizer, loss)

    def g_update(self, batch_size):
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        d_weights = [v.value for v in self.discriminator.trainable_variables]

        def loss(weights):
            x_fake, g_updates = run(self.generator, weights, z)
            p, d_updates = run(self.discriminator, d_weights, x_fake)  # D's weights are constants here
            return ops.mean(bce(1.0, p)), (p, g_updates + d_updates)

        return update(self.generator, self.g_optimizer, loss)[0]

    def real_batch(self, x_all, batch_size):
        index = keras.random.randint((batch_size,), 0, ops.shape(x_all)[0], seed=self.seed_generator)
        return ops.take(x_all, index, axis=0)

    def fake_batch(self, batch_size):
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        return self.generator(z, training=True)

    def train_step(self, x_all, batch_size):
        loss_real, p_real = self.d_update(self.real_batch(x_all, batch_size), 1.0)
        loss_fake, p_fake = self.d_update(self.fake_batch(batch_size), 0.0)
        loss_g = self.g_update(batch_size)
        return {"d_loss_real": loss_real, "d_loss_fake": loss_fake, "g_loss": loss_g,
                "d_acc_real": ops.mean(ops.cast(p_real > 0.5, "float32")),
                "d_acc_fake": ops.mean(ops.cast(p_fake <= 0.5, "float32"))}

    def run_step(self, x_all, batch_size):
        logs = self.compiled_step(x_all, batch_size)
        return {key: float(value) for key, value in logs.items()}  # one host read per step, like the loop


class SplitGAN(FusedGAN):
    """FusedGAN's three updates as three separately compiled calls, read once per call."""

    def build_steps(self, x_real, batch_size):
        x_all = ops.convert_to_tensor(x_real)  # held on the device, like the loop's data
        steps = [lambda: self.d_update(self.real_batch(x_all, batch_size), 1.0)[0],
                 lambda: self.d_update(self.fake_batch(batch_size), 0.0)[0],
                 lambda: self.g_update(batch_size)]
        self.steps = [backend.compile(step, self.variables) for step in steps]

    def run_step(self):
        return [float(step()) for step in self.steps]  # one host read per call, like the loop


def build_pair(latent_dim, seed, tiny=False, models="dense"):
    """Lesson 06's dense G and D, or lesson 07's conv builders with their defaults (`models="dcgan"`).

    `tiny` (8 hidden units, dense only) leaves almost nothing but per-step overhead.
    """
    keras.utils.set_random_seed(seed)
    if models == "dcgan":
        return gan_models.build_conv_generator(latent_dim), gan_models.build_conv_discriminator()
    generator = gan_models.build_dense_generator(latent_dim, **({"hidden": (8,)} if tiny else {}))
    discriminator = gan_models.build_dense_discriminator(**({"hidden": (8,)} if tiny else {}))
    return generator, discriminator


def time_loop(trainer, steps, batch_size):
    times = []
    for _ in range(steps):
        trainer.train_step(batch_size)
        times.append(time.perf_counter())
    return (steps - 1) / (times[-1] - times[0])


def time_split(model, steps):
    times = []
    for _ in range(steps):
        model.run_step()
        times.append(time.perf_counter())
    return (steps - 1) / (times[-1] - times[0])


def time_fused(model, x_all, steps, batch_size):
    times = []
    for _ in range(steps):
        model.run_step(x_all, batch_size)
        times.append(time.perf_counter())
    return (steps - 1) / (times[-1] - times[0])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=config.choose(full=8, fast=3))
    parser.add_argument("--steps", type=int, default=config.choose(full=100, fast=20))
    parser.add_argument("--batch-size", type=int, default=128, help="default: lessons 06 and 07's full-mode batch")
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument("--tiny", action="store_true", help="8 hidden units: measures the per-step overhead")
    parser.add_argument("--models", choices=("dense", "dcgan"), default="dense",
                        help="dense: lesson 06's MLPs (default); dcgan: lesson 07's conv builders, default settings")
    parser.add_argument("--inter-op-threads", type=int, default=0,
                        help="TensorFlow inter-op threads (0: TensorFlow's default); 1 runs one op at a time")
    parser.add_argument("--explain", action="store_true",
                        help="also time the split contender: where the gap between loop and fused comes from")
    args = parser.parse_args(argv)
    if args.inter_op_threads:
        backend.set_inter_op_threads(args.inter_op_threads)
    config.setup(seed=0)
    data = load_data("mnist", value_range=(-1, 1), verbose=False)
    x_real = data.x_train.astype("float32")  # (N, 28, 28, 1) in [-1, 1]

    loop = GANTrainer(*build_pair(args.latent_dim, 0, args.tiny, args.models), args.latent_dim, verbose=0)
    loop.set_data(x_real)
    fused = FusedGAN(*build_pair(args.latent_dim, 0, args.tiny, args.models), args.latent_dim)
    fused.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    x_all = ops.convert_to_tensor(x_real)  # held on the device, like the loop's data

    timers = {"loop": lambda steps: time_loop(loop, steps, args.batch_size),
              "fused": lambda steps: time_fused(fused, x_all, steps, args.batch_size)}
    if args.explain:
        split = SplitGAN(*build_pair(args.latent_dim, 0, args.tiny, args.models), args.latent_dim)
        split.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
        split.build_steps(x_real, args.batch_size)
        timers["split"] = lambda steps: time_split(split, steps)
    for timer in timers.values():
        timer(3)  # warm-up: trace every compiled function once
    rates = {name: [] for name in timers}
    names = list(timers)
    for round_index in range(args.rounds):
        shift = round_index % len(names)  # rotate who goes first
        for name in names[shift:] + names[:shift]:
            rates[name].append(timers[name](args.steps))
        print(f"round {round_index + 1}/{args.rounds}: "
              + ", ".join(f"{name} {rates[name][-1]:.1f} steps/s" for name in names))
    report(rates, args, len(x_real))


def models_text(args):
    if args.models == "dcgan":
        return "conv G/D (lesson 07 builders, default settings)"
    return f"dense G/D (lesson 06{', tiny' if args.tiny else ''})"


def report(rates, args, n_data):
    loop, fused = np.array(rates["loop"]), np.array(rates["fused"])
    per_round = loop / fused
    threads = args.inter_op_threads or "default"
    print(f"\nmode {config.mode_name()}, {args.rounds} rounds x {args.steps} steps, batch {args.batch_size}, "
          f"{n_data} training images, {models_text(args)}, backend {keras.backend.backend()}, "
          f"inter-op threads {threads}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"per-step time: loop {1000 / np.median(loop):.2f} ms, fused {1000 / np.median(fused):.2f} ms")
    print(f"train_on_batch loop: median {np.median(loop):.2f} steps/s (min {loop.min():.2f}, max {loop.max():.2f})")
    print(f"fused train_step   : median {np.median(fused):.2f} steps/s (min {fused.min():.2f}, max {fused.max():.2f})")
    print(f"ratio loop/fused   : median of per-round ratios {np.median(per_round):.3f} "
          f"(min {per_round.min():.3f}, max {per_round.max():.3f}); target >= 0.95")
    if "split" in rates:
        split = np.array(rates["split"])
        print(f"split (3 calls)    : median {np.median(split):.2f} steps/s, {1000 / np.median(split):.2f} ms/step")
        print(f"  fused/split {np.median(fused / split):.3f}: what overlapping the 3 updates in one graph is worth")
        print(f"  split/loop  {np.median(split / loop):.3f}: what train_on_batch costs beyond a bare compiled call")


if __name__ == "__main__":
    main()
