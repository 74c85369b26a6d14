"""course_lib.run on tiny throwaway notebooks: a dying kernel, progress lines, Ctrl-C, the run's stamp."""
import re
import subprocess
import sys

import nbformat

from course_lib import notebooks, run


def write_notebooks(folder, **cells_by_name):
    folder.mkdir()
    for name, sources in cells_by_name.items():
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
        nbformat.write(nb, str(folder / f"{name}.ipynb"))


def test_dead_kernel_fails_its_lesson_with_the_cell_and_the_others_run_with_progress_lines(
        tmp_path, monkeypatch, capsys):
    solutions, out_dir = tmp_path / "solutions", tmp_path / "out"
    write_notebooks(solutions, **{
        "01_dies": ["print('before')", "# the kernel dies here, as it does when it runs out of memory\n"
                                       "import os\nos._exit(1)", "print('never')"],
        "02_slow": ["import time\ntime.sleep(3)", "print('done')"],
    })
    monkeypatch.setattr(run, "SOLUTIONS", solutions)
    code = run.main(["--fast", "--out", str(out_dir), "--progress", "0.5"])
    out = capsys.readouterr().out
    assert code == 1
    assert "01_dies.ipynb FAILED:\nthe kernel died while running code cell 2 of 3 (`import os`)" in out
    assert "| 01_dies | FAILED |" in out and "| 02_slow | ok |" in out  # the next lesson ran; the table came
    partial = notebooks.read(out_dir / "01_dies.ipynb")
    assert partial.cells[0].source.startswith("*Executed by `python -m course_lib.run --fast")
    assert "(fast mode)" in partial.cells[0].source and ": FAILED after" in partial.cells[0].source
    assert partial.cells[1].outputs[0]["text"] == "before\n" and partial.cells[3].outputs == []
    # while the sleep ran: lines naming the lesson, the cell, the time in the lesson and in the cell
    lines = re.findall(r"  \.\.\. 02_slow: \d+s in, at code cell 1 of 2 \(`import time`\), this cell for (\d)s", out)
    assert lines and max(int(s) for s in lines) >= 2, out  # a line every 0.5 s here (60 s by default)


def test_ctrl_c_prints_interrupted_the_table_so_far_and_keeps_the_partial_notebook(tmp_path):
    solutions, out_dir = tmp_path / "solutions", tmp_path / "out"
    write_notebooks(solutions, **{
        "01_ok": ["print(1)"],
        "02_stopped": ["print('started')",
                       "import os, signal, time\n"
                       "os.kill(os.getppid(), signal.SIGINT)  # Ctrl-C, as a terminal sends it\ntime.sleep(300)"],
        "03_later": ["print(3)"],
    })
    # A shell starts background jobs with SIGINT ignored, and Python keeps it ignored: put Ctrl-C back, so
    # that the test does not depend on how the suite was started (it hung under `nohup pytest &`).
    script = (f"import signal, sys\nfrom pathlib import Path\nfrom course_lib import run\n"
              f"signal.signal(signal.SIGINT, signal.default_int_handler)\n"
              f"run.SOLUTIONS = Path({str(solutions)!r})\n"
              f"sys.exit(run.main(['--fast', '--out', {str(out_dir)!r}]))")
    result = subprocess.run([sys.executable, "-c", script], cwd=str(run.ROOT), capture_output=True, text=True,
                            timeout=280)
    assert result.returncode == 130, result.stdout + result.stderr
    assert "interrupted: Ctrl-C at code cell 2 of 2 (`import os, signal, time`)" in result.stdout
    assert "| 01_ok | ok |" in result.stdout and "| 02_stopped | INTERRUPTED |" in result.stdout
    assert "| 03_later | not run |" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    partial = notebooks.read(out_dir / "02_stopped.ipynb")
    assert ": INTERRUPTED after" in partial.cells[0].source
    assert partial.cells[1].outputs[0]["text"] == "started\n"
    assert not (out_dir / "03_later.ipynb").exists()
