"""Output files of every ``gfgd`` verb: checked before the work, written whole, never left half-done.

Guarantees (README, "Output files"):

* :func:`check_output` runs before any computation: the folder must exist, the path must not be a
  folder, and the place must accept a new file (probed by creating and removing the temporary file
  itself, so read-only file systems, permissions and full quotas are all caught). Errors are
  :class:`OutputError` naming the user's path.
* :func:`write_text` writes a temporary file beside the target, named ``.<name>.gfgd-tmp-<pid>``
  (recognisable, hidden, unique per process), flushes and fsyncs it, then renames it over the target
  (``os.replace``, atomic on POSIX). At every moment the target holds the old file or the new complete
  one. The temporary file is removed on any exception, Ctrl-C included; after a SIGKILL it stays,
  and the next write into that folder removes every ``.<name>.gfgd-tmp-<pid>`` whose process is gone.
* The new file's mode comes from the umask (0o666 & ~umask: 0644 for the usual 022), as for any
  file a program creates -- not the 0600 of ``tempfile.mkstemp``.
* A symlink at the output path is written *through*: its target is replaced and the link stays
  (the user pointed the link somewhere on purpose). A dangling link creates its target.
"""

from __future__ import annotations

import errno
import json
import os
import re
from typing import Any, Callable, Iterable

TEMP_MARK = ".gfgd-tmp-"
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.gfgd-tmp-(?P<pid>\d+)$")


class OutputError(ValueError):
    """An output path that cannot be written (message names the path and the reason)."""


def temp_name(target: str) -> str:
    """The temporary file used while writing ``target``: ``.<name>.gfgd-tmp-<pid>`` beside it."""
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}{TEMP_MARK}{os.getpid()}")


def resolve(path: str) -> str:
    """The file actually written for ``path``: symlinks followed (write-through), made absolute."""
    return os.path.realpath(os.path.expanduser(path))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale(target: str) -> list[str]:
    """Remove temporary files of ``target``'s pattern left by processes that no longer run (SIGKILL).

    Only ``.<name>.gfgd-tmp-<pid>`` for this very ``name`` is touched, never other files."""
    folder, name = os.path.split(target)
    removed = []
    try:
        entries = os.listdir(folder or ".")
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_RE.match(entry)
        if not m or m.group("name") != name:
            continue
        pid = int(m.group("pid"))
        if pid != os.getpid() and _pid_alive(pid):
            continue  # another gfgd is writing it right now
        try:
            os.unlink(os.path.join(folder, entry))
            removed.append(entry)
        except OSError:
            pass
    return removed


def check_output(path: str, flag: str = "--out") -> str:
    """Check before the work that ``path`` can be written; return the resolved target.

    Raises :class:`OutputError` naming ``flag`` and the user's ``path``: an empty path, a missing
    folder, a folder at the path, or a place that refuses a new file (read-only, permissions)."""
    if not isinstance(path, str) or not path.strip():
        raise OutputError(f"{flag}: an output file name is needed, got {path!r}")
    target = resolve(path)
    folder = os.path.dirname(target)
    shown = repr(path) if target == os.path.abspath(path) else f"{path!r} (-> {target!r})"
    if os.path.isdir(target):
        raise OutputError(f"{flag} {shown} is a directory; give a file name inside it")
    if not os.path.isdir(folder):
        raise OutputError(f"{flag} {shown}: the folder {folder!r} does not exist")
    remove_stale(target)
    tmp = temp_name(target)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as e:
        why = "a read-only place: " if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM) else ""
        raise OutputError(f"{flag} {shown} cannot be written ({why}{e.strerror or e})") from None
    os.close(fd)
    os.unlink(tmp)
    return target


def write_chunks(path: str, chunks: Iterable[str], flag: str = "--out",
                 on_chunk: Callable[[int], None] | None = None) -> str:
    """Write the text ``chunks`` to ``path`` whole (module docstring); return the file written.

    ``on_chunk(n_chars)`` is called after each chunk (progress of a large output)."""
    def write(tmp: str) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # mode: 0o666 & ~umask
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            for chunk in chunks:
                fh.write(chunk)
                if on_chunk is not None:
                    on_chunk(len(chunk))

    return write_with(path, write, flag)


def write_text(path: str, text: str, flag: str = "--out") -> str:
    """Write ``text`` to ``path`` whole (module docstring)."""
    return write_chunks(path, [text], flag)


def write_json(path: str, payload: Any, flag: str = "--out", progress: Any = None) -> str:
    """``payload`` as indented JSON (indent 1), whole; ``progress`` (a tqdm bar, optional) advances
    by the characters written, so formatting a large output shows progress."""
    chunks = json.JSONEncoder(indent=1).iterencode(payload)
    return write_chunks(path, _batched(chunks), flag, None if progress is None else progress.update)


def _batched(chunks: Iterable[str], size: int = 1 << 16) -> Iterable[str]:
    """Join the encoder's many tiny pieces into ~64 KiB writes."""
    buf: list[str] = []
    n = 0
    for c in chunks:
        buf.append(c)
        n += len(c)
        if n >= size:
            yield "".join(buf)
            buf, n = [], 0
    if buf:
        yield "".join(buf)


__all__ = ["OutputError", "TEMP_MARK", "check_output", "remove_stale", "resolve", "temp_name", "write_chunks",
           "write_json", "write_text"]


def write_with(path: str, writer: Callable[[str], None], flag: str = "--out") -> str:
    """Write ``path`` whole through ``writer(temporary_path)`` (e.g. a figure's ``savefig``): the
    same guarantees as :func:`write_chunks` for files another library writes."""
    target = check_output(path, flag)
    tmp = temp_name(target)
    try:
        writer(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # the data is on disk before the rename makes it the file
        finally:
            os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # as a newly created file (a library may create 0600)
        os.replace(tmp, target)
    except BaseException:  # KeyboardInterrupt and SystemExit too: never leave the temporary file
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def check_output_dir(path: str, flag: str = "--out") -> str:
    """Check before the work that files can be written into the folder ``path`` (created if its
    parent exists); return it resolved. Raises :class:`OutputError` naming ``flag`` and ``path``."""
    if not isinstance(path, str) or not path.strip():
        raise OutputError(f"{flag}: an output folder is needed, got {path!r}")
    folder = resolve(path)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputError(f"{flag} {path!r} is a file; give a folder")
    if not os.path.isdir(folder):
        if not os.path.isdir(os.path.dirname(folder)):
            raise OutputError(f"{flag} {path!r}: its parent folder {os.path.dirname(folder)!r} does not exist")
        try:
            os.mkdir(folder)
        except OSError as e:
            raise OutputError(f"{flag} {path!r} cannot be created ({e.strerror or e})") from None
    check_output(os.path.join(folder, ".gfgd-probe"), flag)
    return folder


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
