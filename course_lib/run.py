"""The instructors' main job: execute solution notebooks headless and keep the results.

    python -m course_lib.run                 # every solution, full mode
    python -m course_lib.run --fast 04 07    # lessons 04 and 07 in fast mode

Executed notebooks, with their figures, go to `build/executed/` (ignored by git);
each one starts with a line saying which run (command, mode, start time) made it
and how it ended, so a notebook left there by an earlier run is easy to tell apart.
A failing notebook prints its failing cell and error; a notebook whose kernel
dies (out of memory, a crash in native code) fails with the cell it was running;
the others still run. While a notebook runs, a line every `--progress` seconds
says which cell it is in and for how long. At the end a table gives each
lesson's status and run time; the exit code is 1 if any notebook failed. Ctrl-C
stops the run: the table so far is printed and the exit code is 130.
"""
import argparse
import asyncio
import os
import shlex
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from course_lib.checkpoint import atomic_write
from course_lib.notebooks import ROOT, SOLUTIONS

INTERRUPTED = "INTERRUPTED"


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


class Progress:
    """Which code cell of a notebook is running and since when (written by the kernel's thread)."""

    def __init__(self, nb):
        self.code_cells = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
        self.started = time.perf_counter()
        self.cell_index, self.cell_started = None, None  # cell_started is None between cells

    def on_cell_execute(self, cell, cell_index):
        self.cell_index, self.cell_started = cell_index, time.perf_counter()

    def on_cell_executed(self, cell, cell_index, execute_reply):
        self.cell_started = None

    def where(self, nb):
        """'code cell 3 of 7 (`first line`)', 'after code cell 7 of 7 (...)' or 'the kernel start'."""
        if self.cell_index is None:
            return "the kernel start"
        number = self.code_cells.index(self.cell_index) + 1
        cell = f"code cell {number} of {len(self.code_cells)} (`{first_line(nb.cells[self.cell_index].source)}`)"
        return cell if self.cell_started is not None else "after " + cell

    def line(self, name, nb):
        started = self.cell_started
        cell = "" if started is None else f", this cell for {clock(time.perf_counter() - started)}"
        return f"  ... {name}: {clock(time.perf_counter() - self.started)} in, at {self.where(nb)}{cell}"


def first_line(source, width=70):
    """The first line of a cell that is not blank or a comment, shortened to `width` characters."""
    lines = [line.strip() for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]
    text = lines[0] if lines else source.strip().splitlines()[0] if source.strip() else ""
    return text if len(text) <= width else text[:width - 3] + "..."


def clock(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def execute(path, out_dir, timeout, progress_every=60, stamp=""):
    """Run one notebook; returns (status, seconds, error text). Ctrl-C gives status INTERRUPTED.

    The notebook runs in a worker thread with its own event loop; this thread waits for it,
    prints a progress line every `progress_every` seconds (0: never) and, on Ctrl-C, kills the
    kernel, which ends the run.
    """
    nb = nbformat.read(str(path), as_version=4)
    progress = Progress(nb)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            on_cell_execute=progress.on_cell_execute, on_cell_executed=progress.on_cell_executed)
    loop = asyncio.new_event_loop()
    run = loop.create_task(client.async_execute())
    failure = []
    worker = threading.Thread(target=_run_loop, args=(client, loop, run, failure), name=f"run {path.stem}", daemon=True)
    worker.start()
    status, error = "ok", ""
    try:
        _wait(worker, progress_every, lambda: print(progress.line(path.stem, nb), flush=True))
    except KeyboardInterrupt:
        status, error = INTERRUPTED, f"Ctrl-C at {progress.where(nb)}"
        _stop(client, loop, run, worker)
    if failure and status == "ok":
        status, error = "FAILED", _describe(failure[0], progress.where(nb))
    seconds = time.perf_counter() - progress.started
    write_executed(nb, out_dir / path.name, f"{stamp}: {status} after {seconds:.1f} s")
    return status, seconds, error


def _run_loop(client, loop, run, failure):
    """The worker thread: run the notebook to its end; an exception is kept for the waiting thread."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(run)
    except BaseException as err:
        failure.append(err)
    finally:
        try:
            loop.run_until_complete(_kill_kernel(client))  # nbclient's shutdown is skipped when cancelled
        finally:
            loop.close()


def _wait(worker, progress_every, report):
    last = time.perf_counter()
    while worker.is_alive():
        worker.join(timeout=1.0)
        if worker.is_alive() and progress_every and time.perf_counter() - last >= progress_every:
            report()
            last = time.perf_counter()


def _stop(client, loop, run, worker):
    """Stop the notebook now and wait for its thread to end; a second Ctrl-C stops waiting."""
    try:
        asyncio.run_coroutine_threadsafe(_kill_or_cancel(client, run), loop)
        worker.join(timeout=30)
    except (KeyboardInterrupt, RuntimeError):  # RuntimeError: the loop had already closed
        pass


async def _kill_or_cancel(client, run):
    """Kill the kernel if one runs (nbclient then ends the run within a second), else cancel the run."""
    if not await _kill_kernel(client):
        run.cancel()


async def _kill_kernel(client):
    """SIGKILL the kernel if there is one; returns whether there was.

    jupyter's own shutdown interrupts the kernel first, and a kernel interrupted while it starts
    or answers prints a traceback on the terminal; a killed one prints nothing.
    """
    km = client.km
    if km is None or not km.has_kernel:
        return False
    await km.provisioner.kill()
    return True


def _describe(err, where):
    if isinstance(err, (CellExecutionError, CellTimeoutError)):
        return str(err)
    if isinstance(err, DeadKernelError):
        return (f"the kernel died while running {where}: it ran out of memory, crashed in native code "
                f"or was killed. The notebook up to that cell was written.")
    return f"{type(err).__name__} while running {where}: {err}"


def write_executed(nb, path, stamp):
    """Write the executed notebook, with one line on top saying which run made it, and its streams tidied."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"*{stamp}*"))
    nb.metadata["course_lib_run"] = stamp
    atomic_write(str(path), lambda temp: nbformat.write(nb, temp))


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


def print_table(rows):
    print("\n| lesson | status | seconds |\n|---|---|---|")
    for name, status, seconds in rows:
        print(f"| {name} | {status} | {'' if seconds is None else f'{seconds:.1f}'} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help="lesson numbers or name prefixes, e.g. 00 04_vae (default: all)")
    parser.add_argument("--fast", action="store_true", help="fast mode (COURSE_FAST=1): small data, few epochs")
    parser.add_argument("--out", default=str(ROOT / "build" / "executed"), help="where executed notebooks go")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    parser.add_argument("--progress", type=float, default=60,
                        help="seconds between the lines saying which cell is running (0: none)")
    args = parser.parse_args(argv)

    mode = "fast" if args.fast else "full"
    os.environ["COURSE_FAST"] = "1" if args.fast else "0"  # the kernels inherit this
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    command = "python -m course_lib.run " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    stamp = f"Executed by `{command.strip()}` ({mode} mode), run started {datetime.now():%Y-%m-%d %H:%M:%S}"
    paths, rows, interrupted = select(args.lessons), [], ""
    try:
        for path in paths:
            print(f"running {path.name} ({mode} mode) ...", flush=True)
            status, seconds, error = execute(path, out_dir, args.timeout, args.progress, stamp)
            rows.append((path.stem, status, seconds))
            if status == INTERRUPTED:
                interrupted = f"{error}; the notebook so far is in {out_dir / path.name}"
                break
            if error:
                print(f"\n{path.name} FAILED:\n{error}\n", flush=True)
    except KeyboardInterrupt:
        interrupted = "Ctrl-C between two notebooks"
    if interrupted:
        print(f"\ninterrupted: {interrupted}", flush=True)
        print_table(rows + [(p.stem, "not run", None) for p in paths[len(rows):]])
        return 130
    print_table(rows)
    print(f"\nexecuted notebooks with their figures: {out_dir}")
    return 1 if any(status != "ok" for _, status, _ in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
