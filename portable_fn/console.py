"""Where the command line writes: results on stdout, progress and messages on stderr.

A person at a terminal gets colour, a spinner with the elapsed time on the step under way, and boxed
tables; anything else (a pipe, a file, a CI log, `NO_COLOR`) gets plain lines that read the same in a
log as they parse in a script. Only the CLI imports this module (and rich, lazily): the code that ships
inside a function never does.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


def styled(stream: IO[str], env: Mapping[str, str] | None = None) -> bool:
    """Whether to style `stream`: a terminal, `NO_COLOR` unset or empty (no-color.org), and not in CI."""
    env = os.environ if env is None else env
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not env.get("NO_COLOR") and not env.get("CI")


class Console:
    """The CLI's two streams and how to style each. Built once per command by `cli.main`."""

    def __init__(
        self, out: IO[str] | None = None, err: IO[str] | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.fancy_err = styled(self.err, env)
        self.fancy_out = styled(self.out, env)
        self._consoles: dict[IO[str], Any] = {}

    def result(self, text: str) -> None:
        """A command's result, on stdout, as is."""
        _line(self.out, text)

    def say(self, message: str, style: str = "") -> None:
        """One line on stderr (styled with `style`, a rich style, on a terminal)."""
        if self.fancy_err:  # the spinner's console too: while it turns, lines land above it
            self._rich(self.err).print(_text(message, style), soft_wrap=True)
        else:
            _line(self.err, message)

    def error(self, message: str) -> None:
        self.say(f"error: {message}", "bold red")

    def done(self, message: str) -> None:
        """The closing line of a command that changed something."""
        self.say(("✓ " if self.fancy_err else "") + message, "bold green")

    @contextmanager
    def steps(self) -> Iterator[Steps]:
        """A progress sink for the providers' `progress` callback: on a terminal, a spinner with the
        elapsed time on the latest step and a line per finished step; elsewhere the messages as lines."""
        steps = Steps(self)
        try:
            yield steps
        except BaseException:
            steps.pause(failed=True)
            raise
        steps.pause()

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """Rows under headers on stdout: a rich table on a terminal, aligned columns otherwise."""
        if not self.fancy_out:
            self.result(aligned(headers, rows))
            return
        from rich.table import Table

        table = Table(*headers, header_style="bold")
        for row in rows:
            table.add_row(*(_text(cell, "") for cell in row))
        self._rich(self.out).print(table)

    def _rich(self, stream: IO[str]) -> Any:
        """The rich console writing to `stream` (one per stream, built when first styled output is due)."""
        if stream not in self._consoles:
            from rich.console import Console as RichConsole

            self._consoles[stream] = RichConsole(file=stream, highlight=False)
        return self._consoles[stream]


class Steps:
    """The callable `progress` sink `Console.steps` yields; `pause()` clears the spinner (to ask a question)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._lock = threading.Lock()  # providers may report from worker threads
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._message = ""
        self._started = 0.0

    def __call__(self, message: str) -> None:
        if not self.console.fancy_err:
            self.console.say(message)
            return
        with self._lock:
            self._finish(failed=False)
            if self._progress is None:
                self._progress = _spinner(self.console._rich(self.console.err))
                self._progress.start()
            self._message, self._started = message, time.monotonic()
            self._task = self._progress.add_task(message)

    def pause(self, failed: bool = False) -> None:
        """Settle the step under way (ticked, or crossed when `failed`) and stop the spinner."""
        with self._lock:
            self._finish(failed)
            if self._progress is not None:
                self._progress.stop()
                self._progress = None

    def _finish(self, failed: bool) -> None:
        if self._progress is None or self._task is None:
            return
        self._progress.remove_task(self._task)
        self._task = None
        mark, style = ("✗", "red") if failed else ("✓", "green")
        line = _text(f"{mark} ", style)
        line.append(self._message)
        line.append(f"  {time.monotonic() - self._started:.1f} s", style="dim")
        self._progress.console.print(line, soft_wrap=True)  # the terminal wraps: paths stay whole to copy


def aligned(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain columns two spaces apart, headers in capitals, no trailing blanks."""
    table = [[h.upper() for h in headers], *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table)


def _line(stream: IO[str], text: str) -> None:
    """`text` and its newline in one write, so lines said by several threads (dev's log) never interleave."""
    stream.write(text + "\n")
    stream.flush()


def _text(message: str, style: str) -> Any:
    from rich.text import Text

    return Text(message, style=style)  # never markup: messages hold brackets such as [1/12]


def _spinner(console: Any) -> Progress:
    from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
    from rich.table import Column

    class Elapsed(ProgressColumn):
        def render(self, task: Task) -> Any:
            return _text(f"{task.elapsed or 0:.1f} s", "dim")

    message = Column(no_wrap=True, overflow="ellipsis", ratio=1)  # a long message is cut, never the time
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False, table_column=message),
        Elapsed(table_column=Column(no_wrap=True)),
        console=console,
        transient=True,
        expand=True,
    )
