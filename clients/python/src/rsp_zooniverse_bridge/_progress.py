"""Progress while watching a collection: a tqdm bar when tqdm is installed (a widget in Jupyter), text lines otherwise."""

from __future__ import annotations

import sys
from typing import Any, Optional, TextIO


class Progress:
    def __init__(self, description: str, out: Optional[TextIO] = None, use_tqdm: Optional[bool] = None) -> None:
        self._bar: Any = None
        self._out = out or sys.stdout
        self._last = ""
        if use_tqdm is not False:
            try:
                from tqdm.auto import tqdm

                self._bar = tqdm(total=0, desc=description, unit=" steps", file=out)
            except ImportError:
                if use_tqdm:
                    raise
        if self._bar is None:
            print(f"{description}:", file=self._out, flush=True)

    def update(self, done: int, total: int, words: str) -> None:
        if self._bar is not None:
            self._bar.total = max(total, 1)
            self._bar.n = min(done, self._bar.total)
            self._bar.set_postfix_str(words, refresh=False)
            self._bar.refresh()
            return
        line = f"  [{_bar(done, total)}] {done}/{total} {words}"
        # Text mode: a line only when something changed, so a long watch stays readable in a notebook.
        if line != self._last:
            print(line, file=self._out, flush=True)
            self._last = line

    def close(self, final: str) -> None:
        if self._bar is not None:
            self._bar.close()
        print(final, file=self._out, flush=True)


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = width if total <= 0 else int(width * min(done, total) / total)
    return "#" * filled + "." * (width - filled)
