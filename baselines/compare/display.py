"""What a comparison shows on the terminal: progress bars while it runs, the table and notes when it ends."""

from __future__ import annotations

from typing import Any

from . import report


class _Display:
    """Rich progress bars: one for the whole sweep, one per running run."""

    def __init__(self, total: int, done: int, quiet: bool, console: Any = None) -> None:
        self.tasks: dict[str, Any] = {}
        self.progress = None
        if quiet:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=False,
        )
        self.progress.start()
        self.sweep = self.progress.add_task("[bold]all runs", total=total, completed=done)

    def update(self, run_id: str, steps: int, total: int) -> None:
        if self.progress is None:
            return
        if run_id not in self.tasks:
            self.tasks[run_id] = self.progress.add_task(f"  {run_id.rsplit('__', 1)[0]}", total=total)
        self.progress.update(self.tasks[run_id], completed=min(steps, total))

    def finish(self, run_id: str) -> None:
        if self.progress is None:
            return
        task = self.tasks.pop(run_id, None)
        if task is not None:
            self.progress.remove_task(task)
        self.progress.advance(self.sweep)

    def note(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _print_report(console: Any, rows: list, summary: list, paths: dict, failures: dict, interrupted: bool,
                  total: int, skipped: int, config: dict) -> None:
    from rich.console import Console

    console = console or Console()
    if summary:
        console.print(report.rich_table(summary))
        console.print("Mean ± SE over seeds of the final policy (deterministic evaluation). " + report.NO_BOUND_NOTE)
        for line in report.bounds_line(summary):
            console.print(f"  bounds: {line}")
        sweep = report.sweep_summary(rows)
        if sweep:
            console.print(report.sweep_markdown(sweep))
    if skipped:
        console.print(f"{skipped} run(s) were already done in {config['out']} and were skipped (resumed).")
    for run_id, err in failures.items():
        console.print(f"[red]run {run_id} failed:[/red]\n{err.strip().splitlines()[-1]}")
    if interrupted:
        console.print(f"[yellow]interrupted: {len(rows)} of {total} runs are finished and kept; rerun the same "
                      "command to resume.[/yellow]")
    if paths:
        console.print("wrote " + ", ".join(str(p) for p in paths.values()))
