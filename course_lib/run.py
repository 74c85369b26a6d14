"""The instructors' main job: execute solution notebooks headless and keep the results.

    python -m course_lib.run                 # every solution, full mode
    python -m course_lib.run --fast 04 07    # lessons 04 and 07 in fast mode

Executed notebooks, with their figures, go to `build/executed/` (ignored by git).
A failing notebook prints its failing cell and error; the others still run.
At the end a table gives each lesson's status and run time; the exit code is 1
if any notebook failed.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

from course_lib.notebooks import ROOT, SOLUTIONS


def select(names):
    """Solution notebooks whose file name starts with one of `names` (all when empty)."""
    paths = sorted(SOLUTIONS.glob("*.ipynb"))
    if not names:
        return paths
    chosen = [p for p in paths if any(p.name.startswith(n) for n in names)]
    unknown = [n for n in names if not any(p.name.startswith(n) for p in paths)]
    if unknown:
        raise SystemExit(f"no solution notebook starts with {unknown}; "
                         f"available: {[p.stem for p in paths]}")
    return chosen


def execute(path, out_dir, timeout):
    """Run one notebook; returns (status, seconds, error text)."""
    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start, status, error = time.perf_counter(), "ok", ""
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as err:
        status, error = "FAILED", str(err)
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)
    nbformat.write(nb, str(out_dir / path.name))
    return status, seconds, error


def screen_text(text):
    """What a terminal shows of `text`: per line, what the last carriage return left ("\b" dropped).

    A progress bar redraws its line with "\r" many times a second; a browser shows only the last
    drawing, but the raw stream keeps every one (megabytes for a long training run).
    """
    lines = []
    for line in text.replace("\b", "").split("\n"):
        drawings = line.split("\r")
        lines.append(next((d for d in reversed(drawings) if d), ""))
    return "\n".join(lines)


def merge_streams(outputs):
    """Join consecutive stream outputs of the same name and keep only what a screen shows of them."""
    merged = []
    for output in outputs:
        if output.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream" \
                and merged[-1]["name"] == output["name"]:
            merged[-1]["text"] += output["text"]
        else:
            merged.append(output)
    for output in merged:
        if output.get("output_type") == "stream":
            output["text"] = screen_text(output["text"])
    return merged


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help="lesson numbers or name prefixes, e.g. 00 04_vae (default: all)")
    parser.add_argument("--fast", action="store_true", help="fast mode (COURSE_FAST=1): small data, few epochs")
    parser.add_argument("--out", default=str(ROOT / "build" / "executed"), help="where executed notebooks go")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    args = parser.parse_args(argv)

    os.environ["COURSE_FAST"] = "1" if args.fast else "0"  # the kernels inherit this
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in select(args.lessons):
        print(f"running {path.name} ({'fast' if args.fast else 'full'} mode) ...", flush=True)
        status, seconds, error = execute(path, out_dir, args.timeout)
        if error:
            print(f"\n{path.name} FAILED:\n{error}\n", flush=True)
        rows.append((path.stem, status, seconds))
    print("\n| lesson | status | seconds |\n|---|---|---|")
    for name, status, seconds in rows:
        print(f"| {name} | {status} | {seconds:.1f} |")
    print(f"\nexecuted notebooks with their figures: {out_dir}")
    return 1 if any(status != "ok" for _, status, _ in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
