"""Progress of a long job (an experiment's runs, a calibration's evaluations), on stderr.

One class for every wing: a tqdm bar on a terminal; elsewhere (CI, a log file) a plain line
about every 10% of the work or every 30 s, with the rate and the time left.
"""

from __future__ import annotations

import sys
import time
from typing import Any


class Progress:
    """Counts ``done`` of ``total`` units of work (``unit``: "run", "evaluation"), starting at ``done``.

    ``label`` starts each plain line; ``failed`` and a short ``note`` (a calibration's best loss)
    are shown after the counts.
    """

    def __init__(self, total: int, done: int = 0, enabled: bool = True, stream: Any = None, *, unit: str = "run",
                 label: str = "progress") -> None:
        self.total, self.done, self.initial = max(total, 1), done, done
        self.unit, self.label = unit, label
        self.started = self.last_line = time.perf_counter()
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > done
        self.next_line = done + max(1, self.total // 10)
        self.bar = None
        if self.enabled and self.stream.isatty():
            from tqdm import tqdm

            tqdm.monitor_interval = 0  # no monitor thread: worker processes are forked
            self.bar = tqdm(total=total, initial=done, unit=unit, file=self.stream, dynamic_ncols=True,
                            desc=None if label == "progress" else label)

    def advance(self, n: int = 1, failed: int = 0, note: str = "") -> None:
        """``n`` more units done; ``failed`` so far and ``note`` go on the bar or the next line."""
        self.done += n
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(n)
            if failed or note:
                self.bar.set_postfix_str(", ".join(x for x in (f"failed={failed}" if failed else "", note) if x))
            return
        t = time.perf_counter()
        if self.done >= self.next_line or t - self.last_line > 30 or self.done == self.total:
            print(self.line(t, failed, note), file=self.stream, flush=True)
            self.next_line = self.done + max(1, self.total // 10)
            self.last_line = t

    def line(self, t: float, failed: int = 0, note: str = "") -> str:
        """The plain progress line at time ``t`` (``time.perf_counter``)."""
        rate = (self.done - self.initial) / max(t - self.started, 1e-9)
        left = max(self.total - self.done, 0) / rate if rate > 0 else 0.0
        units = f"{self.unit}s"
        return (f"{self.label}: {self.done}/{self.total} {units} ({min(self.done / self.total, 1):.0%}), "
                f"{rate:.1f} {units}/s, about {left:.0f} s left" + (f", {failed} failed" if failed else "")
                + (f", {note}" if note else ""))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
