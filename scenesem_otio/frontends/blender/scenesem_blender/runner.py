"""The `scenesem` command in a subprocess: found, started, watched, cancelled.

Blender's Python must never import torch (it crashed Blender on exit), so all model work runs
in the CLI; `scenesem --progress json` reports progress as JSON lines on stderr, which a reader
thread turns into `Job.fraction`/`Job.status` while Blender keeps drawing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Sequence

from .scenelist import AddonError


def find_scenesem(configured: str = "") -> str:
    """The executable set in the preferences, else `scenesem` on PATH; AddonError otherwise."""
    if configured:
        path = os.path.abspath(os.path.expanduser(configured))
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        raise AddonError(f"scenesem executable {configured!r} (add-on preferences) not found "
                         "or not executable")
    found = shutil.which("scenesem")
    if found is None:
        raise AddonError("scenesem not found: install it (pip install scenesem-otio) or set "
                         "its path in the add-on preferences")
    return found


class Job:
    """One running `scenesem` command: progress from its JSON lines, its last error line."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.fraction = 0.0
        self.status = "starting scenesem"
        self.error_line = ""
        self.cancelled = False
        self._said_error = False
        try:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
                start_new_session=True)  # Esc ends the command and anything it started
        except OSError as err:
            raise AddonError(f"cannot run {self.argv[0]}: {err.strerror or err}") from None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            line = line.strip()
            if not line:
                continue
            if line.startswith("{"):
                try:
                    event = json.loads(line)
                except ValueError:
                    event = None
                if isinstance(event, dict) and "task" in event:
                    total = event.get("total") or 0
                    done = event.get("done") or 0
                    self.fraction = min(1.0, done / total) if total else 0.0
                    self.status = (f"{event['task']} {100 * self.fraction:.0f}%" if total
                                   else str(event["task"]))
                    continue
            if line.startswith("error:"):  # the CLI's one line for a user mistake
                self.error_line = line[len("error:"):].strip()
                self._said_error = True
            elif line.startswith("model:"):
                self.status = line
            elif not self._said_error:  # else the last line (a traceback's exception)
                self.error_line = line

    def poll(self) -> int | None:
        """The exit status once the command has ended (and its output is read), else None."""
        code = self.proc.poll()
        if code is not None:
            self._reader.join(timeout=5)
        return code

    def wait(self) -> int:
        code = self.proc.wait()
        self._reader.join(timeout=5)
        return code

    def cancel(self) -> None:
        """End the command and everything it started (its own process group)."""
        self.cancelled = True
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._reader.join(timeout=5)

    def failure(self, what: str) -> AddonError:
        detail = self.error_line or f"exit status {self.proc.returncode}"
        return AddonError(f"{what} failed: {detail}")


def run(argv: Sequence[str], what: str) -> None:
    """Run a short command to its end (conversions); AddonError with its error line."""
    job = Job(argv)
    if job.wait() != 0:
        raise job.failure(what)
