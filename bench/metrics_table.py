"""Benchmark: lesson 10's comparison table (VAE, DCGAN, cGAN, WGAN-GP) as Markdown.

    python bench/metrics_table.py                                   # full mode, the lesson's settings
    python bench/metrics_table.py --gan-steps 600 --wgan-steps 200 --vae-epochs 5   # a shorter run
    COURSE_FAST=1 python bench/metrics_table.py                     # the fast-mode numbers of the lesson

Same builders, trainers and settings as solutions/10_evaluating_generators.ipynb (section 5);
the flags only shorten training, and the output states the settings actually used, the sample
size and the feature extractor. All rows use the same number of samples and the same real
reference set (training images); the first row is real held-out digits.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402

from course_lib import config, data, evaluator, gan_models, metrics, vae  # noqa: E402
from course_lib.gan_training import ConditionalGANTrainer, GANTrainer  # noqa: E402
from course_lib.wgan import WGANTrainer  # noqa: E402


def settings(args):
    """The lesson's sizes (config.choose), overridden by the command-line flags."""
    s = dict(n_train=config.choose(full=None, fast=2000), n_eval=config.choose(full=10000, fast=500),
             latent_dim=config.choose(full=100, fast=32), batch_size=config.choose(full=128, fast=32),
             vae_epochs=config.choose(full=30, fast=2), gan_steps=config.choose(full=6000, fast=60),
             wgan_steps=config.choose(full=3000, fast=20), vae_latent_dim=config.choose(full=16, fast=8))
    for key in ("vae_epochs", "gan_steps", "wgan_steps", "n_eval"):
        if getattr(args, key) is not None:
            s[key] = getattr(args, key)
    return s


def train_generators(s, x_train, y_train):
    """Train the four generators as the lesson does; returns ({name: sampler}, {name: seconds})."""
    g_config, d_config = gan_models.dcgan_config()  # the DCGAN of lessons 07, 08 and 10
    latent_dim, batch_size, x_pm = s["latent_dim"], s["batch_size"], 2.0 * x_train - 1.0
    timings = {}

    start = time.perf_counter()
    vae_model = vae.build_vae(s["vae_latent_dim"], kind="conv", filters=config.choose(full=(32, 64), fast=(8, 16)),
                              dense_units=config.choose(full=256, fast=64), seed=0)
    vae_model.compile(optimizer=keras.optimizers.Adam(1e-3))
    vae_model.fit(x_train, epochs=s["vae_epochs"], batch_size=batch_size, verbose=2)
    timings["VAE"] = time.perf_counter() - start

    start = time.perf_counter()
    dcgan = GANTrainer(gan_models.build_conv_generator(latent_dim, **g_config),
                       gan_models.build_conv_discriminator(**d_config), latent_dim, seed=0)
    dcgan.train(x_pm, s["gan_steps"], batch_size=batch_size)
    timings["DCGAN"] = time.perf_counter() - start

    start = time.perf_counter()
    cgan = ConditionalGANTrainer(gan_models.build_conditional_generator(latent_dim, **g_config),
                                 gan_models.build_conditional_discriminator(**d_config),
                                 latent_dim, num_classes=10, seed=0)
    cgan.train(x_pm, y_train, s["gan_steps"], batch_size=batch_size)
    timings["cGAN"] = time.perf_counter() - start

    start = time.perf_counter()
    wgan = WGANTrainer(gan_models.build_conv_generator(latent_dim, **g_config),
                       gan_models.build_conv_discriminator(output_activation=None, **dict(d_config, dropout=0.0)),
                       latent_dim, n_critic=5, gradient_penalty=10.0, seed=0)
    wgan.train(x_pm, s["wgan_steps"], batch_size=batch_size)
    timings["WGAN-GP"] = time.perf_counter() - start

    def gan_samples(generator, n, labels=None):
        z = np.random.default_rng(0).normal(size=(n, latent_dim)).astype("float32")  # z ~ N(0, I)
        inputs = z if labels is None else [z, labels.reshape(-1, 1).astype("int32")]
        return (generator.predict(inputs, batch_size=500, verbose=0) + 1.0) / 2.0  # [-1, 1] -> [0, 1]

    samplers = {
        "VAE": lambda n: vae.decode_images(
            vae_model, np.random.default_rng(0).normal(size=(n, s["vae_latent_dim"])).astype("float32")),
        "DCGAN": lambda n: gan_samples(dcgan.generator, n),
        "cGAN": lambda n: gan_samples(cgan.generator, n, labels=np.arange(n) % 10),
        "WGAN-GP": lambda n: gan_samples(wgan.generator, n),
    }
    return samplers, timings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vae-epochs", dest="vae_epochs", type=int)
    parser.add_argument("--gan-steps", dest="gan_steps", type=int, help="DCGAN and cGAN steps")
    parser.add_argument("--wgan-steps", dest="wgan_steps", type=int,
                        help="WGAN-GP generator steps (5 critic steps each)")
    parser.add_argument("--n-eval", dest="n_eval", type=int, help="samples per row (capped by the held-out size)")
    parser.add_argument("--n-novelty", dest="n_novelty", type=int, default=2000,
                        help="samples per row searched for their nearest training image")
    args = parser.parse_args(argv)
    config.setup(seed=0)
    s = settings(args)
    mnist = data.load_data("mnist", n_train=s["n_train"])
    judge = evaluator.get_evaluator("mnist")
    config.set_seed(0)
    n_eval = min(s["n_eval"], len(mnist.x_test), len(mnist.x_train))
    n_novelty = min(n_eval, args.n_novelty)
    kid_subset = min(1000, n_eval // 2)

    samplers, timings = train_generators(s, mnist.x_train, mnist.y_train)
    features_real = judge.features(mnist.x_train[:n_eval])
    threshold = metrics.near_copy_threshold(mnist.x_test[:n_novelty], mnist.x_train)

    sets = {"real (held-out)": mnist.x_test[:n_eval], **{name: sample(n_eval) for name, sample in samplers.items()}}
    rows = {}
    for name, images in sets.items():
        rows[name] = metrics.generator_report(judge, images, features_real, splits=10, kid_subset_size=kid_subset)
        novelty = metrics.novelty_summary(images[:n_novelty], mnist.x_train, threshold=threshold)
        rows[name].update(nn_median=novelty["median_distance"], near_copies=novelty["n_near_copies"])
    rows["cGAN"]["label accuracy"] = metrics.label_accuracy(sets["cGAN"], np.arange(n_eval) % 10, judge)
    rows["real (held-out)"]["label accuracy"] = judge.accuracy(mnist.x_test[:n_eval], mnist.y_test[:n_eval])

    print(f"\n{config.mode_name()} mode; data: {mnist.source}; {len(mnist.x_train):,} training images")
    print(f"settings: vae_epochs={s['vae_epochs']}, gan_steps={s['gan_steps']}, wgan_steps={s['wgan_steps']} "
          f"(x5 critic steps), batch_size={s['batch_size']}, latent_dim={s['latent_dim']}")
    print(f"samples per row: {n_eval}; features: the course's MNIST classifier ({judge.name}, 128-d penultimate "
          f"layer, held-out accuracy {judge.test_accuracy:.2%}); real reference: {n_eval} training images; "
          f"IS over 10 splits; KID over 10 subsets of {kid_subset}; near copies among the first {n_novelty} "
          f"(pixel distance <= {threshold:.2f}, the 1st percentile of held-out digits)")
    print("training time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()) + "\n")
    print(metrics.markdown_table(rows, extra_columns=["label accuracy"]))
    return rows


if __name__ == "__main__":
    main()
