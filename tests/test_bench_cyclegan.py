"""bench/cyclegan.py's step timer trains the CycleGAN it times (a smoke test on tiny networks)."""
import importlib.util
from pathlib import Path

import numpy as np

from course_lib import cyclegan

spec = importlib.util.spec_from_file_location("bench_cyclegan",
                                              Path(__file__).resolve().parent.parent / "bench" / "cyclegan.py")
bench_cyclegan = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_cyclegan)


def test_time_steps_runs_the_training_steps_it_reports():
    networks = [cyclegan.build_translator(filters=4, num_residual=1, name=n) for n in ("g_ab", "g_ba")]
    networks += [cyclegan.build_patch_discriminator(filters=4, name=n) for n in ("d_a", "d_b")]
    trainer = cyclegan.CycleGANTrainer(*networks, verbose=0)
    x = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    before = [np.array(w) for w in networks[0].get_weights()]
    seconds = bench_cyclegan.time_steps(trainer, x[:16], x[16:], batch_size=8, n_steps=3)
    assert 0 < seconds < 60
    assert trainer.step == 5 and len(trainer.history["g_loss"]) == 5  # 2 warm-up steps + 3 timed ones
    assert any(not np.array_equal(b, np.array(w)) for b, w in zip(before, networks[0].get_weights()))
