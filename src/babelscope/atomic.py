"""Crash-safe writes: a reader never sees a half-written artifact under its final name.

Every artifact is written under a temporary name beside its final one (``.NAME.tmp-PID``), flushed
to disk, then renamed into place (``os.replace``, atomic on a POSIX filesystem). A folder that
replaces an older one is moved in the same way: the old folder is first renamed aside
(``.NAME.old-PID``), the new one renamed into place, then the old one deleted, so the final name
holds either the complete old folder, the complete new one, or (for an instant) nothing.

A writer killed mid-way (SIGKILL, out of memory, power cut after the rename) leaves only its
temporary, which :func:`remove_stale_temps` deletes on the next write of the same artifact once the
process that owned it is gone. See docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterator


def temp_name(path: Path, kind: str = "tmp") -> Path:
    """``DIR/.NAME.<kind>-<pid>``: the temporary of ``path`` owned by this process."""
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}")


def pid_alive(pid: int) -> bool:
    """Is a process with this id running (on this machine)?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete the temporaries of ``path`` (``.NAME.tmp-PID``, ``.NAME.old-PID``) left by processes
    that no longer run; returns what was removed. Temporaries of live processes are kept."""
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for kind in ("tmp", "old"):
        for p in path.parent.glob(f".{path.name}.{kind}-*"):
            suffix = p.name.rsplit("-", 1)[-1]
            if not suffix.isdigit() or pid_alive(int(suffix)):
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def fsync_path(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk; errors of filesystems without fsync are ignored."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_file(tmp: Path, path: Path) -> None:
    """Flush the finished temporary ``tmp`` and rename it to ``path`` (atomic)."""
    fsync_path(tmp)
    os.replace(tmp, path)
    fsync_path(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a flushed temporary and an atomic rename."""
    path = Path(path)
    tmp = temp_name(path)
    tmp.write_text(text, encoding="utf-8")
    commit_file(tmp, path)


def commit_dir(tmp: Path, path: Path) -> None:
    """Move the finished folder ``tmp`` to ``path``, replacing an existing folder without ever
    exposing a partial one under ``path``."""
    for f in tmp.iterdir():
        if f.is_file():
            fsync_path(f)
    fsync_path(tmp)
    old = None
    if path.exists():
        old = temp_name(path, "old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(path, old)
    os.replace(tmp, path)
    fsync_path(path.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_dir(path: Path) -> Iterator[Path]:
    """Yield this process's empty temporary beside ``path`` (stale temporaries of dead processes are
    removed first); when the block finishes it replaces ``path`` (:func:`commit_dir`). When the block
    raises — an interrupt included — the temporary is deleted and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = temp_name(path)
    if tmp.exists():
        shutil.rmtree(tmp)
    try:  # from the mkdir on: an interrupt at any point leaves no temporary behind
        tmp.mkdir()
        yield tmp
        commit_dir(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


class FolderLock:
    """An exclusive lock on a folder (``flock`` on the folder itself: no lock file is left behind),
    held by one writer at a time; released by :meth:`release` or when the process ends, however it
    ends. A second writer gets a :class:`babelscope.errors.StoreError` naming the folder."""

    def __init__(self, folder: Path, what: str = "written") -> None:
        import fcntl

        from babelscope.errors import StoreError

        self.folder = Path(folder)
        self._fd: int | None = os.open(str(self.folder), os.O_RDONLY)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException as exc:
            os.close(self._fd)
            self._fd = None
            if not isinstance(exc, BlockingIOError):
                raise
            raise StoreError(f"{self.folder}: is being {what} by another babelscope process right now; wait for it "
                             "to finish (or stop it), then run the command again") from None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def build_dir(folder: Path, build, *, marker: str = ".complete", marker_text: str = "ok\n") -> Path:
    """Build a folder once, crash-safe and race-safe: ``build(tmp)`` fills a private temporary beside
    ``folder``; a ``marker`` file (``marker_text``) is written last and the temporary renamed into
    place. A folder that already holds the marker is returned as it is. When another process
    finished the same folder first its copy is kept; a stale folder without the marker is replaced.
    Whatever happens, the temporary is removed."""
    folder = Path(folder)
    if (folder / marker).exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(folder)
    tmp = temp_name(folder)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        build(tmp)
        (tmp / marker).write_text(marker_text)
        try:
            os.rename(tmp, folder)
        except OSError:  # another process finished first, or a stale unmarked folder is in the way
            if (folder / marker).exists():
                return folder
            commit_dir(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder
