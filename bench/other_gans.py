"""Lesson 11's measurements in full mode: InfoGAN's code-to-digit agreement and the semi-supervised GAN.

    COURSE_DATA_DIR=../shared/data/mnist-full python bench/other_gans.py             # full mode, official split
    COURSE_DATA_DIR=../shared/data/mnist-full python bench/other_gans.py --write     # ... and bench/results/other_gans.md
    COURSE_FAST=1 python bench/other_gans.py --steps 20                              # smoke run: tiny models

InfoGAN (issue 14): agreement of the categorical code with the digits the course's evaluator reads in
generated images, under the best one-to-one matching (Hungarian), target >= 0.90 (Chen et al.: about 5%
error); next to it the same networks and input with lambda = 0 (a plain GAN). Semi-supervised GAN: test
accuracy with 100 labelled digits (10 per class) and every training image unlabelled, target >= 0.97 and
>= 10 points above the same classifier trained on the 100 labels alone (Salimans et al.: 99.07%).
The models, trainers and settings are the lesson's (lesson 07's DCGAN sizes, course_lib.infogan / ssgan).
"""
import argparse
import time
from pathlib import Path

import keras
import numpy as np

from course_lib import config, data, evaluator, gan_models, infogan, ssgan

LATENT_DIM, NUM_CLASSES, PER_CLASS = 62, 10, 10
AGREEMENT_TARGET, SSGAN_TARGET, SSGAN_MARGIN = 0.90, 0.97, 0.10
RESULTS = Path(__file__).resolve().parent / "results" / "other_gans.md"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=config.choose(full=10000, fast=50),
                        help="GAN updates per model (the lesson's full-mode 10000 by default)")
    parser.add_argument("--batch-size", type=int, default=config.choose(full=64, fast=32))
    parser.add_argument("--per-code", type=int, default=config.choose(full=1000, fast=50),
                        help="generated digits per code value for the agreement")
    parser.add_argument("--baseline-epochs", type=int, default=config.choose(full=200, fast=10))
    parser.add_argument("--write", action="store_true", help=f"write the table to {RESULTS}")
    return parser.parse_args()


def adam():
    return keras.optimizers.Adam(config.choose(full=2e-4, fast=1e-3), beta_1=0.5)


def run_infogan(x_real, judge, info_weight, args):
    g_config, d_config = gan_models.dcgan_config()
    g_config["upsample_mode"] = "upsampling"
    config.set_seed(0)
    generator = infogan.build_info_generator(LATENT_DIM, **g_config)
    trainer = infogan.InfoGANTrainer(generator, infogan.build_info_discriminator(**d_config),
                                     info_weight=info_weight, seed=0, d_optimizer=adam(), g_optimizer=adam())
    start = time.time()
    trainer.train(x_real, args.steps, batch_size=args.batch_size)
    agreement, mapping, _, _ = infogan.code_agreement(generator, judge, args.per_code)
    return {"agreement": agreement, "mapping": mapping.tolist(), "seconds": time.time() - start}


def run_ssgan(mnist, args):
    g_config, d_config = gan_models.dcgan_config()
    g_config["upsample_mode"] = "upsampling"
    labelled = ssgan.pick_labelled(mnist.y_train, PER_CLASS, seed=0)
    x_lab, y_lab = mnist.x_train[labelled], mnist.y_train[labelled]
    config.set_seed(0)
    discriminator = ssgan.build_classifier_discriminator(NUM_CLASSES, **d_config)
    trainer = ssgan.SSGANTrainer(gan_models.build_conv_generator(LATENT_DIM, **g_config), discriminator,
                                 num_classes=NUM_CLASSES, seed=0, d_optimizer=adam(), g_optimizer=adam())
    start = time.time()
    trainer.train(mnist.x_train, x_lab, y_lab, args.steps, batch_size=args.batch_size)
    accuracy = float(np.mean(trainer.predict_classes(mnist.x_test) == mnist.y_test))
    config.set_seed(0)
    baseline = ssgan.train_supervised_baseline(x_lab, y_lab, args.baseline_epochs, num_classes=NUM_CLASSES,
                                               learning_rate=config.choose(full=2e-4, fast=1e-3), **d_config)
    y_base = np.argmax(baseline.predict(mnist.x_test, batch_size=500, verbose=0), axis=1)
    return {"accuracy": accuracy, "baseline": float(np.mean(y_base == mnist.y_test)), "seconds": time.time() - start}


def table(info, plain, semi, args, mnist, judge):
    ok = lambda met: "met" if met else "missed"  # noqa: E731
    return "\n".join([
        f"# Lesson 11 in {config.mode_name()} mode ({mnist.source}; {len(mnist.x_train):,} training, "
        f"{len(mnist.x_test):,} test images; {args.steps} updates per model, batch {args.batch_size})",
        "",
        f"Judge: course_lib.evaluator, test accuracy {judge.test_accuracy:.4f}.",
        "",
        "| model | measure | value | target |",
        "|---|---|---|---|",
        f"| InfoGAN (lambda = 1) | code-to-digit agreement (Hungarian), {args.per_code} per code | "
        f"{info['agreement']:.4f} | >= {AGREEMENT_TARGET} ({ok(info['agreement'] >= AGREEMENT_TARGET)}) |",
        f"| same input, lambda = 0 | code-to-digit agreement | {plain['agreement']:.4f} | control |",
        f"| semi-supervised GAN, 100 labels | test accuracy | {semi['accuracy']:.4f} | >= {SSGAN_TARGET} "
        f"({ok(semi['accuracy'] >= SSGAN_TARGET)}) |",
        f"| same classifier, 100 labels alone | test accuracy | {semi['baseline']:.4f} | SSGAN >= baseline + "
        f"{SSGAN_MARGIN} ({ok(semi['accuracy'] >= semi['baseline'] + SSGAN_MARGIN)}) |",
        "",
        f"InfoGAN code -> digit: {info['mapping']}. Seconds: InfoGAN {info['seconds']:.0f}, "
        f"plain {plain['seconds']:.0f}, SSGAN with baseline {semi['seconds']:.0f}.",
    ])


def main():
    args = parse_args()
    config.setup(seed=0)
    mnist = data.load_data("mnist", value_range=(-1, 1), n_train=config.choose(full=None, fast=2000))
    judge = evaluator.get_evaluator("mnist")
    info = run_infogan(mnist.x_train, judge, 1.0, args)
    plain = run_infogan(mnist.x_train, judge, 0.0, args)
    semi = run_ssgan(mnist, args)
    text = table(info, plain, semi, args, mnist, judge)
    print("\n" + text)
    if args.write:
        RESULTS.write_text(text + "\n")
        print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
