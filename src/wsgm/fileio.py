"""Writing and reading files so that a crash never loses what was written.

Every file and directory wsgm writes goes through this module, which guarantees:

- **Atomic files** (:func:`atomic_write`): the content is written under a temporary name
  ``.NAME.tmp-PID`` in the same folder, fsynced, renamed onto ``NAME`` (``os.replace``: an
  atomic rename within one file system, POSIX ``rename(2)``), and the folder is fsynced. A
  process killed at any point leaves under ``NAME`` either the complete previous file or the
  complete new one, never a mix; once the call returns, the new file survives a power loss.
- **Atomic directories** (:func:`swap_in_dir`): the same for a whole directory, filled under
  ``.NAME.tmp-PID`` and fsynced file by file. A directory cannot be renamed over a non-empty
  one, so the previous ``NAME`` is moved to ``.NAME.prev`` for the instant between the two
  renames; :func:`recover_dir` puts it back (or drops it, if the new one is in place), so a
  kill between the renames loses nothing.
- **Temporaries belong to their writer** (:func:`remove_dead_temporaries`): the ``PID`` in a
  temporary's name is its writer's; the temporary of a process that is no longer running never
  held a complete file and is removed, one of a running writer is left alone.
- **Partial files** (:func:`partial_path`, :func:`partial_writer`, :func:`read_partial`): a
  long job keeps what it has finished in ``OUT.partial.npz`` (written with
  :func:`atomic_write`), together with a JSON key that identifies the command; a partial file
  with another key is refused, so the work of two different commands is never mixed.
- **JSON** (:func:`read_json`, :func:`write_json_atomic`): an object written atomically, and
  read back with one clear error when the file is missing, is not JSON, or is not an object.
- **One writer** (:func:`exclusive_lock`): a run directory or a partial file is written by
  one process at a time; a second one is refused with the first one's PID. The lock is the
  kernel's (``flock``), so it is released on any exit, SIGKILL included.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import WSGMError

__all__ = [
    "atomic_write",
    "fsync_dir",
    "fsync_tree",
    "pid_alive",
    "remove_dead_temporaries",
    "swap_in_dir",
    "recover_dir",
    "partial_path",
    "partial_writer",
    "read_partial",
    "check_partial_key",
    "read_json",
    "write_json_atomic",
    "exclusive_lock",
]


def _temp_path(path: Path) -> Path:
    """``.NAME.tmp-PID`` next to ``path``: where this process writes ``path`` before renaming."""
    return path.parent / f".{path.name}.tmp-{os.getpid()}"


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` then fsync and atomically rename ``tmp_path`` to ``path``.

    The previous file at ``path`` (if any) survives any failure before the rename.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise WSGMError(f"output folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise WSGMError(f"output folder {parent} is not writable")
    tmp = _temp_path(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    fsync_dir(parent)
    return path


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Flush a directory's entries (new, renamed, removed names) to disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(directory: Path) -> None:
    """Flush every file and folder below ``directory``, ``directory`` itself and its parent."""
    for p in sorted(directory.rglob("*")):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
    for d in [*sorted(q for q in directory.rglob("*") if q.is_dir()), directory, directory.parent]:
        fsync_dir(d)


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` is running on this machine (owned by anyone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_dead_temporaries(path: Path) -> None:
    """Remove the ``.NAME.tmp-PID`` files or directories of ``path`` whose writer has died.

    A temporary whose PID is not running on this machine never held a complete ``path`` (the
    writer renames it into place when it is complete); this process's own and those of running
    writers are kept. A temporary that another process removes first is not an error.
    """
    if not path.parent.is_dir():
        return
    for tmp in path.parent.glob(f".{path.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or int(pid) == os.getpid() or pid_alive(int(pid)):
            continue
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def recover_dir(target: Path) -> None:
    """Finish or undo an interrupted :func:`swap_in_dir` of ``target``.

    Also removes the half-written ``.NAME.tmp-PID`` directories of writers that died
    (PID no longer running on this machine); they never held a complete checkpoint.
    """
    prev = target.parent / f".{target.name}.prev"
    # Several processes of one launch may recover at once: a path already handled by
    # another one is not an error.
    with contextlib.suppress(FileNotFoundError):
        if prev.exists():
            if target.exists():
                shutil.rmtree(prev)  # the new directory is complete and in place
            else:
                os.replace(prev, target)  # killed between the two renames: restore the old one
    remove_dead_temporaries(target)


def swap_in_dir(target: Path, fill: Callable[[Path], object]) -> None:
    """Call ``fill(tmp_dir)``, fsync it, and replace ``target`` by it.

    Until the final rename the previous ``target`` stays complete (renamed to ``.NAME.prev``
    only for the instant between the two renames, and restored by :func:`recover_dir`).
    """
    parent = target.parent
    if not parent.is_dir():
        raise WSGMError(f"folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise WSGMError(f"folder {parent} is not writable")
    recover_dir(target)
    tmp = _temp_path(target)
    prev = parent / f".{target.name}.prev"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        tmp.mkdir()
        fill(tmp)
        fsync_tree(tmp)
        if target.exists():
            os.replace(target, prev)
        os.replace(tmp, target)
        fsync_dir(parent)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            kept = (
                f"the previous {target} is kept"
                if target.exists()
                else f"nothing was written to {target}"
            )
            raise WSGMError(
                f"disk full (no space left on device) while writing {target}; {kept}; "
                "free some space and run the same command again"
            ) from exc
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    recover_dir(target)


def partial_path(out: str | os.PathLike[str]) -> Path:
    """``OUT.partial.npz``: where an unfinished job writing ``OUT`` keeps what it finished."""
    return Path(f"{os.fspath(out)}.partial.npz")


def partial_writer(key: dict[str, Any], contents: Mapping[str, Any]) -> Callable[[Path], None]:
    """The ``write`` of :func:`atomic_write` for a partial file: ``key`` plus ``contents``.

    ``contents`` maps names to arrays or to JSON objects (dicts, stored as JSON text and
    given back as dicts by :func:`read_partial`); ``key`` identifies the command.
    """
    arrays: dict[str, Any] = {"key": np.array(json.dumps(key, sort_keys=True))}
    for name, value in contents.items():
        if isinstance(value, dict):
            arrays[name] = np.array(json.dumps(value, sort_keys=True))
        else:
            arrays[name] = value

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, allow_pickle=False, **arrays)

    return write


def read_partial(
    path: Path, key: dict[str, Any] | None, *, names: Iterable[str], what: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The saved key and ``{name: array or JSON object}`` of a file from :func:`partial_writer`.

    A missing entry among ``names``, or a file that cannot be read, is one :class:`WSGMError`
    that says to delete it. With ``key``, a file whose key differs is refused
    (:func:`check_partial_key`); ``key=None`` leaves that check to the caller.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            saved = json.loads(str(npz["key"]))
            contents: dict[str, Any] = {}
            for name in names:
                value = npz[name]
                is_json = value.ndim == 0 and value.dtype.kind == "U"
                contents[name] = json.loads(str(value)) if is_json else value
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise WSGMError(
            f"{path} (the finished batches of an interrupted run) is unreadable: {exc}; "
            "delete it to start over"
        ) from exc
    if key is not None:
        check_partial_key(path, saved, key, what=what)
    return saved, contents


def check_partial_key(path: Path, saved: dict[str, Any], key: dict[str, Any], *, what: str) -> None:
    """Refuse a partial file whose ``saved`` key is not ``key``, naming each differing entry."""
    if saved != key:
        diff = sorted(k for k in set(saved) | set(key) if saved.get(k) != key.get(k))
        detail = "; ".join(f"{k}: {saved.get(k)!r} -> {key.get(k)!r}" for k in diff)
        raise WSGMError(
            f"{path} was written by another {what} ({detail}); rerun that command "
            "to finish it, or delete the file to start over"
        )


def read_json(path: Path, *, what: str = "JSON file") -> dict[str, Any]:
    """The JSON object in ``path``: one :class:`WSGMError` if it is missing, not JSON, or not
    an object. ``what`` names the file in the messages (e.g. ``"model config"``)."""
    if not path.exists():
        raise WSGMError(f"{what} {path} is missing")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WSGMError(f"{what} {path} is not readable JSON (corrupt?): {exc}") from exc
    if not isinstance(data, dict):
        raise WSGMError(f"{what} {path} must hold a JSON object")
    return data


def write_json_atomic(path: str | os.PathLike[str], data: dict[str, Any]) -> Path:
    """Write ``data`` as indented, key-sorted JSON to ``path`` with :func:`atomic_write`."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike[str], *, what: str) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created; it keeps the holder's PID).

    A second process asking for it while the first holds it gets one :class:`WSGMError`
    naming ``what`` and the holder's PID. The kernel drops the lock when its holder exits,
    however it exits, so a stale lock file never blocks anyone.
    """
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise WSGMError(f"cannot create the lock file {p}: {exc}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise WSGMError(
                f"{what} is in use by another wsgm process (PID {holder}); wait until it "
                "finishes or stop it, then run the command again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
