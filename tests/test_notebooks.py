"""Lessons are generated from solutions; committed notebooks carry no outputs; the runner reports failures."""
import nbformat
import pytest

from course_lib import notebooks, run

EXERCISE = '''def kl(mu, log_var):
    """KL(N(mu, exp(log_var)) || N(0, 1)) per example."""
    ### BEGIN SOLUTION
    return -0.5 * (1 + log_var - mu**2)
    ### END SOLUTION

def two():
    ### BEGIN SOLUTION
    return 2
    ### END SOLUTION'''


def make_notebook(*sources, outputs=False):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(notebooks.SETUP_CELL)]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    if outputs:
        nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="hello")]
        nb.cells[1].execution_count = 1
    return nb


def test_committed_notebooks_are_in_sync_and_without_outputs():
    assert notebooks.problems() == []


def test_every_solution_has_a_lesson_and_lesson_00_exists():
    names = {p.name for p in notebooks.SOLUTIONS.glob("*.ipynb")}
    assert any(n.startswith("00_") for n in names)
    assert names == {p.name for p in notebooks.LESSONS.glob("*.ipynb")}


def test_stub_keeps_signature_and_docstring_and_names_each_exercise():
    stubbed, n = notebooks.stub_exercises(EXERCISE, first_number=3)
    assert n == 2
    assert 'def kl(mu, log_var):\n    """KL(N(mu, exp(log_var)) || N(0, 1)) per example."""' in stubbed
    assert 'raise NotImplementedError("Exercise 3: `kl` is not written yet")' in stubbed
    assert 'raise NotImplementedError("Exercise 4: `two` is not written yet")' in stubbed
    assert "mu**2" not in stubbed and "return 2" not in stubbed and "SOLUTION" not in stubbed
    namespace = {}
    exec(stubbed, namespace)  # the stub is valid Python and raises
    with pytest.raises(NotImplementedError, match="Exercise 3"):
        namespace["kl"](0, 0)


@pytest.mark.parametrize("bad", [
    "x = 1\n### BEGIN SOLUTION\nx = 2",
    "### END SOLUTION",
    "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
])
def test_unbalanced_markers_are_errors(bad):
    with pytest.raises(ValueError, match="SOLUTION"):
        notebooks.stub_exercises(bad, 1)


def test_problems_detects_stale_lessons_leaks_and_outputs(tmp_path):
    solutions, lessons = tmp_path / "solutions", tmp_path / "lessons"
    solutions.mkdir()
    lessons.mkdir()
    nbformat.write(make_notebook(EXERCISE), str(solutions / "01_a.ipynb"))
    notebooks.regenerate(solutions, lessons)
    assert notebooks.problems(solutions, lessons) == []
    lesson = notebooks.read(lessons / "01_a.ipynb")
    assert "NotImplementedError" in lesson.cells[1].source

    nbformat.write(make_notebook(EXERCISE, "print(1)"), str(solutions / "01_a.ipynb"))  # solution edited
    assert any("stale" in p for p in notebooks.problems(solutions, lessons))

    nbformat.write(make_notebook(EXERCISE, outputs=True), str(solutions / "01_a.ipynb"))
    nbformat.write(make_notebook(EXERCISE), str(lessons / "01_a.ipynb"))  # markers copied into the lesson
    found = notebooks.problems(solutions, lessons)
    assert any("carries outputs" in p for p in found)
    assert any("solution markers" in p for p in found)


def test_runner_reports_failing_cell_and_keeps_going(tmp_path, monkeypatch, capsys):
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    good = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os\nprint(os.environ['COURSE_FAST'])")])
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")])
    nbformat.write(bad, str(solutions / "01_bad.ipynb"))
    nbformat.write(good, str(solutions / "02_good.ipynb"))
    monkeypatch.setattr(run, "SOLUTIONS", solutions)
    code = run.main(["--fast", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 1
    assert "01_bad.ipynb FAILED" in out and "ZeroDivisionError" in out and "1 / 0" in out
    assert "| 01_bad | FAILED |" in out and "| 02_good | ok |" in out
    executed = notebooks.read(tmp_path / "out" / "02_good.ipynb")
    assert executed.cells[1].outputs[0]["text"].strip() == "1"  # the kernel saw fast mode
    assert "(fast mode)" in executed.cells[0].source and ": ok after" in executed.cells[0].source  # the run's stamp


def test_runner_keeps_only_the_last_drawing_of_a_progress_bar():
    # Keras' progress bar redraws its line with "\b...\r"; a long run would store every drawing.
    raw = [{"output_type": "stream", "name": "stdout", "text": "start\n 1/3 loss 0.9\b\b\r 2/3 loss 0.5"},
           {"output_type": "stream", "name": "stdout", "text": "\b\b\b\r 3/3 loss 0.2\ndone\n"},
           {"output_type": "stream", "name": "stderr", "text": "a warning\n"}]
    merged = run.merge_streams(raw)
    assert [o["name"] for o in merged] == ["stdout", "stderr"]
    assert merged[0]["text"] == "start\n 3/3 loss 0.2\ndone\n"
    assert run.screen_text("step 1\rstep 2\r") == "step 2"  # a line left mid-redraw keeps its last drawing
