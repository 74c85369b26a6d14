"""Throughput: course_lib's train_on_batch GAN loop vs one fused train_step through fit().

Both sides train the same architecture (the dense MNIST G and D of lesson 06) on the
same data with the same work per step: a D update on a real batch, a D update on a
fake batch, then a G update through D (non-saturating loss), each with Adam(2e-4, 0.5),
and the same logged quantities (D's loss and accuracy on real and on fake, G's loss).

    loop   course_lib.gan_training.GANTrainer: 3 train_on_batch calls per step
    fused  FusedGAN.train_step: the same 3 updates inside one compiled step, fit()
    split  (with --explain) the fused step's 3 updates as 3 separate compiled calls
           and no Keras around them: what a loop of separate calls could reach
           with no per-call overhead at all. fused/split is what running the 3
           updates concurrently inside one graph is worth; split/loop is what
           train_on_batch's own work per call costs.

The two run interleaved, in blocks of --steps steps, for --rounds rounds, so that
load from other processes on a shared CPU hits both alike. Each block is timed from
the end of its first step to the end of its last one (steady state: tracing and
fit()'s start-up are left out). Prints steps/s per side and loop/fused.

    python bench/gan_throughput.py                     # full: 8 rounds x 100 steps, batch 128
    COURSE_FAST=1 python bench/gan_throughput.py       # fast: 3 rounds x 20 steps
    python bench/gan_throughput.py --rounds 4 --steps 50 --batch-size 64
    python bench/gan_throughput.py --inter-op-threads 1    # no op-level parallelism in either
    python bench/gan_throughput.py --models dcgan --rounds 4 --steps 15   # lesson 07's conv G and D
    python bench/gan_throughput.py --explain           # adds the split contender

The default batch size, 128, is the one lessons 06 and 07 train with in full mode.
"""
import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from course_lib import config, gan_models  # noqa: E402
from course_lib.data import load_data  # noqa: E402
from course_lib.gan_training import GANTrainer  # noqa: E402


def bce(target, p):
    return keras.losses.binary_crossentropy(ops.full(ops.shape(p), target), p)  # -[t log p + (1-t) log(1-p)]


class FusedGAN(keras.Model):
    """The loop's three updates in one compiled train_step (TensorFlow backend)."""

    def __init__(self, generator, discriminator, latent_dim, seed=0):
        super().__init__()
        self.generator, self.discriminator, self.latent_dim = generator, discriminator, latent_dim
        self.seed_generator = keras.random.SeedGenerator(seed)

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    def call(self, z):
        return self.discriminator(self.generator(z))

    def _update(self, loss_fn, variables, optimizer):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss, p = loss_fn()
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss, p

    def train_step(self, x_real):
        batch_size = ops.shape(x_real)[0]
        d_vars, g_vars = self.discriminator.trainable_variables, self.generator.trainable_variables

        def d_real():
            p = self.discriminator(x_real, training=True)
            return ops.mean(bce(1.0, p)), p

        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        x_fake = self.generator(z, training=True)

        def d_fake():
            p = self.discriminator(x_fake, training=True)
            return ops.mean(bce(0.0, p)), p

        def g_loss():
            z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
            p = self.discriminator(self.generator(z, training=True), training=True)
            return ops.mean(bce(1.0, p)), p

        loss_real, p_real = self._update(d_real, d_vars, self.d_optimizer)
        loss_fake, p_fake = self._update(d_fake, d_vars, self.d_optimizer)
        loss_g, _ = self._update(g_loss, g_vars, self.g_optimizer)
        return {"d_loss_real": loss_real, "d_loss_fake": loss_fake, "g_loss": loss_g,
                "d_acc_real": ops.mean(ops.cast(p_real > 0.5, "float32")),
                "d_acc_fake": ops.mean(ops.cast(p_fake <= 0.5, "float32"))}


class SplitGAN(FusedGAN):
    """FusedGAN's three updates as three separately compiled calls (TensorFlow), read once per step."""

    def build_steps(self, x_real, batch_size):
        import tensorflow as tf

        x_real = ops.convert_to_tensor(x_real)  # held on the device, like the loop's data

        d_vars, g_vars = self.discriminator.trainable_variables, self.generator.trainable_variables
        z_shape = (batch_size, self.latent_dim)

        def d_real():
            index = keras.random.randint((batch_size,), 0, ops.shape(x_real)[0], seed=self.seed_generator)
            x_batch = ops.take(x_real, index, axis=0)
            return self._update(lambda: (ops.mean(bce(1.0, self.discriminator(x_batch, training=True))), None),
                                d_vars, self.d_optimizer)[0]

        def d_fake():
            x_fake = self.generator(keras.random.normal(z_shape, seed=self.seed_generator), training=True)
            return self._update(lambda: (ops.mean(bce(0.0, self.discriminator(x_fake, training=True))), None),
                                d_vars, self.d_optimizer)[0]

        def g_step():
            def g_loss():
                x_fake = self.generator(keras.random.normal(z_shape, seed=self.seed_generator), training=True)
                return ops.mean(bce(1.0, self.discriminator(x_fake, training=True))), None

            return self._update(g_loss, g_vars, self.g_optimizer)[0]

        self.steps = [tf.function(f) for f in (d_real, d_fake, g_step)]

    def run_step(self):
        d_real, d_fake, g_step = self.steps
        return [float(d_real()), float(d_fake()), float(g_step())]  # one host read per call, like the loop


class StepClock(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())

    def on_train_begin(self, logs=None):
        self.times = []


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


def time_fused(model, x_real, steps, batch_size):
    """fit() for `steps` steps; x_real is repeated so that one epoch holds them all (else fit stops early)."""
    copies = math.ceil(steps * batch_size / len(x_real))
    clock = StepClock()
    model.fit(np.concatenate([x_real] * copies), batch_size=batch_size, epochs=1, steps_per_epoch=steps,
              verbose=0, callbacks=[clock], shuffle=True)
    if len(clock.times) != steps:
        raise RuntimeError(f"fit() ran {len(clock.times)} steps instead of {steps}")
    return (steps - 1) / (clock.times[-1] - clock.times[0])


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
    if args.inter_op_threads and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op_threads)
    config.setup(seed=0)
    data = load_data("mnist", value_range=(-1, 1), verbose=False)
    x_real = data.x_train.astype("float32")  # (N, 28, 28, 1) in [-1, 1]

    loop = GANTrainer(*build_pair(args.latent_dim, 0, args.tiny, args.models), args.latent_dim, verbose=0)
    loop.set_data(x_real)
    fused = FusedGAN(*build_pair(args.latent_dim, 0, args.tiny, args.models), args.latent_dim)
    fused.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))

    timers = {"loop": lambda steps: time_loop(loop, steps, args.batch_size),
              "fused": lambda steps: time_fused(fused, x_real, steps, args.batch_size)}
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
