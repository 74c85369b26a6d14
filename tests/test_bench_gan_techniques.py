"""bench/gan_techniques.py's table: means and standard deviations over seeds, by hand."""
import importlib.util
from argparse import Namespace
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "bench_gan_techniques", Path(__file__).resolve().parent.parent / "bench" / "gan_techniques.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_the_table_gives_mean_and_spread_over_the_seeds():
    rows = [("neither", [8, 6], [0.5, 0.7], 12.0), ("minibatch discrimination", [8, 8], [0.8, 0.8], 30.4)]
    table = bench.format_table(rows, Namespace(steps=100, seeds=2, units=16, lr=0.001))
    # by hand: modes 8 and 6 -> mean 7, population std 1; quality 0.5 and 0.7 -> 0.6 +- 0.1
    assert "| neither | 7.00 +- 1.00 | [8, 6] | 0.600 +- 0.100 | [0.5, 0.7] | 12 |" in table
    assert "| minibatch discrimination | 8.00 +- 0.00 | [8, 8] | 0.800 +- 0.000 | [0.8, 0.8] | 30 |" in table
    assert "--steps 100 --seeds 2 --units 16 --lr 0.001" in table
