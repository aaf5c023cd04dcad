"""Run locks: one lock file a run, so concurrent sweeps never train a run twice.

``claim(folder)`` makes ``runs/<run_id>/.lock`` atomically (``O_CREAT | O_EXCL``) and returns a
``RunLock`` whose thread refreshes it; a lock whose owner is gone or hung is *stale* and taken
over (``lock_is_stale``). The sweep claims each run before training it (``run/sweep.py``,
``RunJob``); the executors break the lock of a worker they stopped (``break_lock``).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from memorybench.run import store

LOCK = ".lock"  # runs/<run_id>/.lock while a process trains the run
STALE_AFTER_S = 600.0  # a lock not refreshed for this long is stale (its owner is gone or hung)
HEARTBEAT_S = 30.0  # how often the owner refreshes its lock's modification time
HOST = socket.gethostname()


class RunLock:
    """A claimed run: the lock file ``runs/<run_id>/.lock``, made with ``O_CREAT | O_EXCL`` (atomic,
    also on NFS v3+ and most shared file systems) and holding the owner's pid, host and a token.

    The owner refreshes its modification time every ``HEARTBEAT_S`` seconds from a thread. A
    lock is *stale*, and is taken over, when its owner is on this host and its pid is dead, or
    when it has not been refreshed for ``STALE_AFTER_S`` seconds (any host; a host cannot see
    another's processes). ``release`` removes it only while it is still this owner's.
    """

    def __init__(self, path: Path, token: str):
        self.path, self.token = path, token
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True,
                                      name="memorybench-lock-heartbeat")
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        info = read_lock(self.path)[1]
        if info is not None and info.get("token") == self.token:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass


def read_lock(path: Path) -> tuple[str | None, dict | None]:
    """(the lock file's text, its fields) — (None, None) when there is no lock; fields None when
    it does not parse (being written, or damaged)."""
    import json

    try:  # a regular file only: a FIFO named .lock would hang the sweep (then it reads as
        # unparsable, and is taken over once stale)
        text = store.read_regular(path, limit=4096).decode("utf-8", "replace")
    except FileNotFoundError:
        return None, None
    except OSError:  # DataError too
        return "", None
    try:
        info = json.loads(text)
    except (ValueError, RecursionError):  # 4 KB of "[" nest deeper than json can parse
        return text, None
    return text, info if isinstance(info, dict) else None


def lock_is_stale(path: Path, info: dict | None, now: float | None = None) -> bool:
    """Whether the lock at ``path`` (fields ``info``) may be taken over."""
    try:
        age = (now or time.time()) - path.stat().st_mtime
    except FileNotFoundError:
        return True
    if info is None:  # unparsable: a writer died between create and write (microseconds)
        return age > HEARTBEAT_S
    if age > STALE_AFTER_S:
        return True
    if info.get("host") == HOST:
        return not _pid_alive(info.get("pid"))
    return False


def _pid_alive(pid: Any) -> bool:
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def claim(folder: Path) -> tuple[RunLock | None, dict | None]:
    """Claim the run in ``folder``: (the lock, None), or (None, the owner's fields) when another
    live process holds it. A stale lock is taken over (one process wins: see ``_take_over``)."""
    import json
    import uuid

    path = folder / LOCK
    owner: dict | None = None
    for _ in range(5):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0),
                         0o644)
        except FileExistsError:
            text, owner = read_lock(path)
            if text is None:
                continue  # released meanwhile: try again
            if lock_is_stale(path, owner) and _take_over(path, text):
                continue
            return None, owner or {"pid": None, "host": "?"}
        token = uuid.uuid4().hex
        info = {"pid": os.getpid(), "host": HOST, "token": token,
                "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(info))
        return RunLock(path, token), None
    return None, owner or {"pid": None, "host": "?"}


def _take_over(path: Path, seen: str) -> bool:
    """Remove the stale lock ``path`` if it still holds ``seen``; True when removed (or gone).

    Takeovers are serialised by a second lock (``.lock.takeover``, also ``O_EXCL``): without it
    two processes that both judged a lock stale could each remove one, the second removing the
    fresh lock the first had just made."""
    guard = path.with_name(path.name + ".takeover")
    try:
        os.close(os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        try:  # a takeover takes microseconds: a guard a minute old was left by a dead process
            if time.time() - guard.stat().st_mtime > 60:
                guard.unlink()
        except FileNotFoundError:
            pass
        return False
    try:
        text, _ = read_lock(path)
        if text is None:
            return True
        if text != seen:
            return False  # someone made a fresh lock meanwhile
        path.unlink()
        return True
    finally:
        guard.unlink(missing_ok=True)


def break_lock(folder: Path, pid: int) -> None:
    """Remove the lock of ``folder`` when process ``pid`` of this host holds it (the sweep
    stopped that worker: at its time limit, or it died)."""
    path = folder / LOCK
    _, info = read_lock(path)
    if info is not None and info.get("pid") == pid and info.get("host") == HOST:
        path.unlink(missing_ok=True)
