"""bench/flows.py's step timer trains the model it times (a smoke test on a tiny flow)."""
import importlib.util
from pathlib import Path

import keras
import numpy as np

from course_lib import flows

spec = importlib.util.spec_from_file_location("bench_flows", Path(__file__).resolve().parent.parent / "bench" / "flows.py")
bench_flows = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_flows)


def test_time_steps_runs_the_training_steps_it_reports():
    model = flows.build_image_flow((4, 4, 1), num_checkerboard=1, num_channel=1, hidden=4, depth=1, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x_int = np.random.default_rng(0).integers(0, 256, size=(32, 4, 4, 1)).astype("float32")
    before = [np.array(w) for w in model.trainable_weights]
    seconds = bench_flows.time_steps(model, x_int, batch_size=8, n_steps=3)
    assert 0 < seconds < 60
    assert model.optimizer.iterations.numpy() == 5  # 2 warm-up steps + 3 timed ones
    assert any(not np.array_equal(b, np.array(w)) for b, w in zip(before, model.trainable_weights))
