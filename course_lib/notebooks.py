"""Solutions are the source; lessons are generated from them.

A solution notebook marks each exercise with nbgrader's markers inside a code cell:

    def kl_divergence(mu, log_var):
        \"\"\"Docstring the student reads.\"\"\"
        ### BEGIN SOLUTION
        return -0.5 * ...
        ### END SOLUTION

`python -m course_lib.notebooks` strips outputs from `solutions/*.ipynb` in place
and writes `lessons/*.ipynb`, where each marked region becomes a stub that says
which exercise it is and raises NotImplementedError. `--check` only reports
what is out of date (the test suite runs the same check).
"""
import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
LESSONS = ROOT / "lessons"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
MARKERS = (BEGIN, END, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")

SETUP_CELL = """\
# Setup. Where course_lib is installed (pip install -e . in the repository) this cell only imports it.
# In Colab, set COURSE_REPO to the URL of the course's git repository; the cell installs course_lib from it.
COURSE_REPO = "https://github.com/YOUR-ORG/deep-generative-keras.git"
try:
    import course_lib
except ImportError:
    %pip install -q "git+{COURSE_REPO}"
    import course_lib"""


def strip_outputs(nb):
    """Remove outputs, execution counts and run metadata (in place); returns nb."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in ("execution", "collapsed", "scrolled", "ExecuteTime"):
            cell.metadata.pop(key, None)
    nb.metadata.pop("widgets", None)
    return nb


def stub_exercises(source, first_number):
    """Replace every marked solution region in one cell's source; returns (source, n_regions)."""
    lines, out = source.split("\n"), []
    number, inside, function = first_number, False, None
    for line in lines:
        match = re.match(r"\s*def (\w+)\(", line)
        if match and not inside:
            function = match.group(1)
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"nested {BEGIN} in a cell:\n{source}")
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            what = f"`{function}`" if function else "this cell"
            out.append(f"{indent}# Exercise {number}: write {what} here.")
            out.append(f'{indent}raise NotImplementedError("Exercise {number}: {what} is not written yet")')
            number += 1
        elif stripped == END:
            if not inside:
                raise ValueError(f"{END} without {BEGIN} in a cell:\n{source}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} without {END} in a cell:\n{source}")
    return "\n".join(out), number - first_number


def make_lesson(solution_nb):
    """The student's version of a (stripped) solution notebook."""
    lesson = copy.deepcopy(solution_nb)
    number = 1
    for cell in lesson.cells:
        if cell.cell_type == "code" and BEGIN in cell.source:
            cell.source, n = stub_exercises(cell.source, number)
            number += n
    return lesson


def notebook_text(nb):
    return nbformat.writes(nb) + "\n"


def read(path):
    return nbformat.read(str(path), as_version=4)


def has_outputs(nb):
    return any(c.cell_type == "code" and (c.get("outputs") or c.get("execution_count")) for c in nb.cells)


def leaked_markers(nb):
    return [m for c in nb.cells for m in MARKERS if m in c.source]


def problems(solutions_dir=SOLUTIONS, lessons_dir=LESSONS):
    """Every reason the committed notebooks are not as the generator would write them."""
    found = []
    solution_paths = sorted(Path(solutions_dir).glob("*.ipynb"))
    for path in solution_paths:
        nb = read(path)
        if has_outputs(nb):
            found.append(f"{path.name}: solution notebook carries outputs")
        if not nb.cells or nb.cells[0].source != SETUP_CELL:
            found.append(f"{path.name}: first cell is not course_lib.notebooks.SETUP_CELL")
        lesson_path = Path(lessons_dir) / path.name
        if not lesson_path.exists():
            found.append(f"lessons/{path.name} is missing")
        elif lesson_path.read_text() != notebook_text(make_lesson(strip_outputs(nb))):
            found.append(f"lessons/{path.name} is stale: regenerate it from solutions/{path.name}")
    for lesson_path in sorted(Path(lessons_dir).glob("*.ipynb")):
        nb = read(lesson_path)
        if not (Path(solutions_dir) / lesson_path.name).exists():
            found.append(f"lessons/{lesson_path.name} has no solution notebook")
        if leaked_markers(nb):
            found.append(f"lessons/{lesson_path.name} contains solution markers {leaked_markers(nb)}")
        if has_outputs(nb):
            found.append(f"lessons/{lesson_path.name} carries outputs")
    return found


def regenerate(solutions_dir=SOLUTIONS, lessons_dir=LESSONS):
    """Strip outputs from every solution in place and write its lesson; returns the lesson paths."""
    Path(lessons_dir).mkdir(exist_ok=True)
    written = []
    for path in sorted(Path(solutions_dir).glob("*.ipynb")):
        solution = strip_outputs(read(path))
        path.write_text(notebook_text(solution))
        lesson_path = Path(lessons_dir) / path.name
        lesson_path.write_text(notebook_text(make_lesson(solution)))
        written.append(lesson_path)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report what is out of date; exit 1 if anything")
    args = parser.parse_args(argv)
    if not args.check:
        for path in regenerate():
            print(f"wrote {path.relative_to(ROOT)}")
    issues = problems()
    for issue in issues:
        print(f"PROBLEM: {issue}")
    if not issues:
        print("solutions/ and lessons/ are in sync, without outputs.")
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
