"""Quality of the lesson 07 DCGAN and the lesson 08 conditional GAN, judged by an MNIST classifier.

    python bench/gan_quality.py                      # full mode: the lessons' full-mode settings
    python bench/gan_quality.py --steps 1500         # fewer GAN updates (the output says "reduced")
    python bench/gan_quality.py --only dcgan --eval-every 1000
                                                     # score G and its moving average every 1000 steps
    COURSE_FAST=1 python bench/gan_quality.py        # smoke run: tiny models, a few steps

Targets (issue 5): DCGAN Inception score >= 9.0 (the real test split scores about 9.88 with a good
classifier) with the FID on the classifier's features next to it; conditional GAN label accuracy >= 97%.
The classifier is course_lib.evaluator's cached CNN (its own test accuracy is printed): the scores are
only as good as that judge.
"""
import argparse
import time

import keras
import numpy as np

from course_lib import config, data, evaluator, gan_models, metrics
from course_lib.gan_training import ConditionalGANTrainer, GANTrainer

LATENT_DIM = 100
NUM_CLASSES = 10
IS_TARGET, ACCURACY_TARGET = 9.0, 0.97


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=None,
                        help="GAN updates for each model (default: the lessons' 6000 for the DCGAN and 8000 for "
                             "the cGAN in full mode; fewer is reported as a reduced run)")
    parser.add_argument("--batch-size", type=int, default=config.choose(full=128, fast=32))
    parser.add_argument("--samples", type=int, default=config.choose(full=10000, fast=500),
                        help="generated images scored per model")
    parser.add_argument("--only", choices=["dcgan", "cgan"], default=None, help="run one of the two models")
    parser.add_argument("--ema-decay", type=float, default=0.999,
                        help="DCGAN: also keep a moving average of G's weights (GANTrainer's ema_decay, as lesson "
                             "07 does) and score it; 0 turns it off")
    parser.add_argument("--eval-every", type=int, default=None,
                        help="print the scores (DCGAN: IS and FID; cGAN: label accuracy) every this many steps")
    return parser.parse_args()


def generate(generator, inputs, batch_size=500):
    return keras.ops.convert_to_numpy(generator.predict(inputs, batch_size=batch_size, verbose=0))


def score_dcgan(generator, judge, real_features, n_samples):
    z = keras.ops.convert_to_numpy(keras.random.normal((n_samples, LATENT_DIM), seed=1))
    features, probs = judge.features_and_proba(generate(generator, z), value_range=(-1, 1))
    score, spread = metrics.inception_score(probs)
    return {"is": score, "is_std": spread, "fid": metrics.fid_from_features(real_features, features)}


def score_text(r):
    return f"IS {r['is']:.2f} +- {r['is_std']:.2f}, FID {r['fid']:.2f}"


def train_timed(trainer, train_args, batch_size, eval_every, report):
    """trainer.train(*train_args) with `report(trainer, step)` every eval_every steps; returns the training
    seconds, the time spent in `report` left out."""
    timer = {"training": 0.0, "since": time.time()}

    def timed_report(trainer, step):
        timer["training"] += time.time() - timer["since"]
        report(trainer, step)
        timer["since"] = time.time()

    trainer.train(*train_args, batch_size=batch_size, sample_every=eval_every,
                  on_sample=timed_report if eval_every else None)
    return timer["training"] + time.time() - timer["since"]


def run_dcgan(mnist, judge, real_features, steps, args):
    g_config, d_config = gan_models.dcgan_config()  # lessons 07 and 08's sizes
    config.set_seed(0)
    generator = gan_models.build_conv_generator(LATENT_DIM, upsample_mode="transpose", **g_config)
    trainer = GANTrainer(generator, gan_models.build_conv_discriminator(**d_config), LATENT_DIM, seed=0,
                         ema_decay=args.ema_decay or None)

    def report(trainer, step):
        line = f"  step {step}: G {score_text(score_dcgan(generator, judge, real_features, args.samples))}"
        if trainer.ema_generator is not None:
            line += f"; average of G {score_text(score_dcgan(trainer.ema_generator, judge, real_features, args.samples))}"
        print(line, flush=True)

    seconds = train_timed(trainer, (mnist.x_train, steps), args.batch_size, args.eval_every, report)
    result = {"steps": steps, "seconds": seconds, **score_dcgan(generator, judge, real_features, args.samples)}
    if trainer.ema_generator is not None:
        result["ema"] = score_dcgan(trainer.ema_generator, judge, real_features, args.samples)
    return result


def score_cgan(generator, judge, n_samples):
    y = np.repeat(np.arange(NUM_CLASSES), n_samples // NUM_CLASSES)  # every class equally often
    z = keras.ops.convert_to_numpy(keras.random.normal((len(y), LATENT_DIM), seed=2))
    probs = judge.predict_proba(generate(generator, [z, y]), value_range=(-1, 1))
    accuracy = float(np.mean(probs.argmax(axis=1) == y))  # argmax_k p(k | G(z | y)) == y
    per_class = [float(np.mean(probs[y == k].argmax(axis=1) == k)) for k in range(NUM_CLASSES)]
    shuffled = probs[np.random.default_rng(0).permutation(len(probs))]  # IS splits must mix the classes
    return {"accuracy": accuracy, "per_class": per_class, "is": metrics.inception_score(shuffled)[0]}


def run_cgan(mnist, judge, steps, args):
    g_config, d_config = gan_models.dcgan_config()  # lessons 07 and 08's sizes
    g_config["upsample_mode"] = "upsampling"  # lesson 08's choice
    config.set_seed(0)
    generator = gan_models.build_conditional_generator(LATENT_DIM, NUM_CLASSES, label_mode="one_hot", **g_config)
    discriminator = gan_models.build_conditional_discriminator(num_classes=NUM_CLASSES, label_mode="one_hot",
                                                               **d_config)
    trainer = ConditionalGANTrainer(generator, discriminator, LATENT_DIM, NUM_CLASSES, seed=0)

    def report(trainer, step):
        print(f"  step {step}: label accuracy {score_cgan(generator, judge, args.samples)['accuracy']:.4f}", flush=True)

    seconds = train_timed(trainer, (mnist.x_train, mnist.y_train, steps), args.batch_size, args.eval_every,
                          report)
    return {"steps": steps, "seconds": seconds, **score_cgan(generator, judge, args.samples)}


def main():
    args = parse_args()
    config.setup(seed=0)
    mnist = data.load_data("mnist", value_range=(-1, 1), n_train=config.choose(full=None, fast=2000))
    judge = evaluator.get_evaluator("mnist")
    real_features, real_probs = judge.features_and_proba(mnist.x_test, value_range=(-1, 1))
    train_features = judge.features(mnist.x_train[:len(mnist.x_test)], value_range=(-1, 1))
    print(f"\nreference: real held-out digits IS {metrics.inception_score(real_probs)[0]:.2f}; "
          f"FID(train part, held-out) {metrics.fid_from_features(real_features, train_features):.2f}; "
          f"classifier test accuracy {judge.test_accuracy:.4f}")

    full_steps = {"dcgan": config.choose(full=6000, fast=100), "cgan": config.choose(full=8000, fast=100)}
    lines = []
    for name in ("dcgan", "cgan"):
        if args.only and args.only != name:
            continue
        steps = args.steps or full_steps[name]
        label = "" if steps >= full_steps[name] else f" (REDUCED: {steps} of {full_steps[name]} steps)"
        if name == "dcgan":
            r = run_dcgan(mnist, judge, real_features, steps, args)
            verdict = "meets" if r["is"] >= IS_TARGET else "below"
            lines.append(f"DCGAN{label}: IS {r['is']:.2f} +- {r['is_std']:.2f} ({verdict} target {IS_TARGET}), "
                         f"FID {r['fid']:.2f}, {args.samples} samples, training {r['seconds']:.0f} s")
            if "ema" in r:
                verdict = "meets" if r["ema"]["is"] >= IS_TARGET else "below"
                lines.append(f"DCGAN{label}, moving average of G (decay {args.ema_decay}): "
                             f"{score_text(r['ema'])} ({verdict} target {IS_TARGET})")
        else:
            r = run_cgan(mnist, judge, steps, args)
            verdict = "meets" if r["accuracy"] >= ACCURACY_TARGET else "below"
            lines.append(f"cGAN{label}: label accuracy {r['accuracy']:.4f} ({verdict} target {ACCURACY_TARGET}), "
                         f"IS {r['is']:.2f}, per class {[round(a, 3) for a in r['per_class']]}, "
                         f"training {r['seconds']:.0f} s")
        print("\n" + lines[-1], flush=True)
    print(f"\n[{config.mode_name()} mode, batch size {args.batch_size}, {len(mnist.x_train)} training images]")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
