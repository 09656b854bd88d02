"""Local files of downloads: where a server's name may go, and how the bytes get there.

Every service's download writes through here:

- `safe_name` (and `component`) turns a name from a server (a job id with an extension, a Content-Disposition
  file name, a record's `out_file`) into one path component: no separator, no `..`, no NUL,
  control, bidi or other format character, no leading dot or blank, at most NAME_MAX bytes in
  the file system's encoding (the extension kept when it can be), and a fallback when nothing
  is left. `inside` joins such a name to the folder the user chose and checks that the result
  resolves inside it.
- `PartFile` is the file the bytes go to before they are renamed into place: created new
  (`O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0666 so that the umask applies), or, to resume, opened
  without following a link, and only when it is a regular file of the user's (checked with
  `fstat` on the open file). `commit` renames it over the final name, which replaces a link
  there instead of writing through it.
- Every failure to write locally is a `LocalFileError`: an `OSError` whose one line says which
  path could not be written and why ("cannot write ls.txt/x: ls.txt is not a folder"), never a
  service's error.

A path the user types is the user's choice and is taken as given; only names from a server are
cleaned and confined.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jobtui.core.format import shown_path

if TYPE_CHECKING:
    import httpx

    from jobtui.core.service import Progress
    from jobtui.services._http import MinimumRate

NAME_MAX = 255
"""The longest file name in bytes when the file system does not say (Linux, macOS, BSDs)."""
FALLBACK = "download"
"""The name when nothing of the server's is left."""
PART_SUFFIX = ".part"

_STAND_IN = "_"
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_DISPLAY_STAND_INS = frozenset(map(chr, range(0x2400, 0x2427))) | {"\ufffd"}
"""What `core.text.clean` shows in place of a control character (␛, ␀, �): in a file name, the
same `_` as the control itself, whether the name was cleaned for display first or not."""
_MAX_SUFFIX = 16
"""An extension longer than this (in characters, dot included) is not kept apart when a name
is shortened."""


class OneLine:
    """An error whose `str()` is its one `line`."""

    @property
    def line(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.line


class LocalFileError(OneLine, OSError):
    """A local file could not be written (or read back): not the service's fault.

    `str()` is one line: "cannot write PATH: REASON"."""

    def __init__(self, path: Path | str, reason: str, *, code: int = 0) -> None:
        super().__init__(code, reason, str(path))
        self.path = Path(path)
        self.reason = reason

    @property
    def line(self) -> str:
        return f"cannot write {shown_path(self.path)}: {self.reason}"


def _reason(error: OSError) -> str:
    if isinstance(error, LocalFileError):
        return error.reason
    if error.errno == errno.ELOOP:
        return "it is a symbolic link (not followed)"
    if error.errno == errno.ENAMETOOLONG:
        return "the name is too long for the file system"
    return (error.strerror or type(error).__name__).lower()


def local_error(path: Path | str, error: OSError) -> LocalFileError:
    """`error`, raised while writing `path`, as one line naming the path (and, for a missing
    folder or one that is a file, which part of the path is wrong)."""
    if isinstance(error, LocalFileError):
        return error
    code = error.errno or 0
    if code in (errno.ENOENT, errno.ENOTDIR):
        problem = folder_problem(Path(path).parent)
        if problem is not None:
            return LocalFileError(path, problem, code=code)
    return LocalFileError(path, _reason(error), code=code)


def folder_problem(folder: Path) -> str | None:
    """Why files cannot be made in `folder` ("ls.txt is not a folder", "folder out does not
    exist"), or None when it is a folder."""
    try:
        if stat.S_ISDIR(Path(folder).stat().st_mode):
            return None
    except FileNotFoundError:
        pass
    except NotADirectoryError:
        pass
    except OSError as error:
        return f"{shown_path(folder)}: {_reason(error)}"
    # Find the first part of the path that is missing or is not a folder.
    probe = Path(folder)
    parts = [probe, *probe.parents]
    for part in reversed(parts):
        try:
            mode = part.stat().st_mode
        except FileNotFoundError:
            return f"folder {shown_path(part)} does not exist"
        except OSError as error:
            return f"{shown_path(part)}: {_reason(error)}"
        if not stat.S_ISDIR(mode):
            return f"{shown_path(part)} is not a folder"
    return f"folder {shown_path(folder)} does not exist"


# -- names ----------------------------------------------------------------------------------------


def name_max(folder: Path | str | None = None) -> int:
    """The longest file name (in bytes) that `folder`'s file system takes."""
    if folder is not None:
        with contextlib.suppress(OSError, ValueError):
            found = os.pathconf(folder, "PC_NAME_MAX")
            if found > 0:
                return min(found, NAME_MAX)
    return NAME_MAX


def _size(text: str) -> int:
    return len(os.fsencode(text))


def _clean_char(char: str) -> str:
    if char in "/\\" or char in _BIDI or char in _DISPLAY_STAND_INS:
        return _STAND_IN
    if unicodedata.category(char) in _UNSAFE_CATEGORIES:
        return _STAND_IN
    try:
        os.fsencode(char)
    except UnicodeError:  # not in the file system's encoding (a lone surrogate, say)
        return _STAND_IN
    return char


def _fit(name: str, limit: int) -> str:
    """`name` cut to at most `limit` bytes in the file system's encoding, at a character, its
    extension kept when it is short."""
    if _size(name) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    suffix = dot + ext if stem and len(dot + ext) <= _MAX_SUFFIX else ""
    stem = name[: len(name) - len(suffix)]
    room = limit - _size(suffix)
    if room <= 0:
        stem, suffix, room = name, "", limit
    # Cut back to a whole character: decoding drops the bytes of a character cut in two.
    cut = os.fsencode(stem)[:room].decode(sys.getfilesystemencoding(), errors="ignore")
    while cut and _size(cut) > room:
        cut = cut[:-1]
    cut = cut.rstrip(" ._")
    return cut + suffix if cut else suffix.lstrip(".")


def component(name: str, *, limit: int | None = None) -> str | None:
    """One safe path component made of `name` (a name from a server), or None when nothing
    usable is left.

    Separators and NUL, control, bidi and other format characters become `_`; leading dots,
    blanks and `_` and trailing blanks are dropped (no hidden file, no `..`); the result fits in
    `limit` bytes (NAME_MAX) of the file system's encoding, keeping a short extension."""
    text = "".join(_clean_char(char) for char in name)
    text = text.lstrip(" ._").rstrip()
    text = _fit(text, NAME_MAX if limit is None else limit).strip()
    return text if text and not text.startswith(".") else None


def safe_name(name: str, fallback: str = FALLBACK, *, limit: int | None = None) -> str:
    """`component(name)`, or when nothing is left `fallback` (cleaned the same way), or
    "download"."""
    return component(name, limit=limit) or component(fallback, limit=limit) or FALLBACK


def inside(folder: Path, name: str, fallback: str = FALLBACK) -> Path:
    """`folder / safe_name(name)`, checked to resolve inside `folder` (a link already at that
    name that points elsewhere is refused). Raises `LocalFileError`."""
    component = safe_name(name, fallback, limit=name_max(folder))
    path = folder / component
    if path.resolve().parent != folder.resolve() or Path(component).name != component:
        raise LocalFileError(path, f"it resolves outside {shown_path(folder)}")
    return path


def part_of(target: Path) -> Path:
    """The `.part` file of `target` (its name shortened to fit when it must)."""
    limit = name_max(target.parent) - len(PART_SUFFIX)
    name = target.name if _size(target.name) <= limit else _fit(target.name, limit)
    return target.with_name(name + PART_SUFFIX)


def exists(path: Path) -> bool:
    """Whether anything is at `path`, a link (even a dangling one) included."""
    return os.path.lexists(path)


# -- the partial file ---------------------------------------------------------------------------

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_NOT_REGULAR = "it is not a regular file (not resumed)"
_RESUME = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class PartFile:
    """The file a download is written to, renamed into place by `commit`. Use `create`,
    `temporary` or `resume`; `size` is how many bytes it holds."""

    def __init__(self, path: Path, fd: int, size: int) -> None:
        self.path = path
        self.fd = fd
        self.size = size

    @classmethod
    def create(cls, path: Path) -> PartFile:
        """A new, empty file at `path` (an existing file or link there is an error)."""
        try:
            fd = os.open(path, _CREATE, 0o666)
        except FileExistsError:
            what = "a symbolic link" if path.is_symlink() else "a file"
            raise LocalFileError(
                path, f"{what} is already there (not replaced)", code=errno.EEXIST
            ) from None
        except OSError as error:
            raise local_error(path, error) from None
        return cls(path, fd, 0)

    @classmethod
    def temporary(cls, dest: Path) -> PartFile:
        """A new file with a fresh name beside `dest`: `.<name>.<random>.part`."""
        import secrets

        head = _fit(dest.name, name_max(dest.parent) - len(PART_SUFFIX) - 10)
        for _ in range(100):
            path = dest.with_name(f".{head}.{secrets.token_hex(4)}{PART_SUFFIX}")
            try:
                fd = os.open(path, _CREATE, 0o666)
            except FileExistsError:
                continue
            except OSError as error:
                raise local_error(dest, error) from None
            return cls(path, fd, 0)
        raise LocalFileError(dest, "no free temporary name beside it", code=errno.EEXIST)

    @classmethod
    def resume(cls, path: Path) -> PartFile | None:
        """The partial file at `path` opened to append, or None when there is none. Only a
        regular file owned by this user is taken, opened without following a link."""
        try:
            fd = os.open(path, _RESUME)
        except FileNotFoundError:
            return None
        except OSError as error:
            if error.errno == errno.ENXIO:  # a FIFO or socket with no reader
                raise LocalFileError(path, _NOT_REGULAR) from None
            raise local_error(path, error) from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise LocalFileError(path, _NOT_REGULAR)
            if info.st_uid != os.getuid():
                raise LocalFileError(path, "it belongs to another user (not resumed)")
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, info.st_size)

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        try:
            while view:
                written = os.write(self.fd, view)
                self.size += written
                view = view[written:]
        except OSError as error:
            raise local_error(self.path, error) from None

    def truncate(self) -> None:
        """Start again from byte 0."""
        try:
            os.ftruncate(self.fd, 0)
            os.lseek(self.fd, 0, os.SEEK_SET)
        except OSError as error:
            raise local_error(self.path, error) from None
        self.size = 0

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def commit(self, target: Path, *, overwrite: bool) -> Path:
        """Rename the complete file to `target`. Something already at `target` (a link too,
        which is replaced, never written through) is kept unless `overwrite`: then
        `FileExistsError`, and the partial file stays."""
        self.close()
        if not overwrite and exists(target):
            raise FileExistsError(errno.EEXIST, "file exists", str(target))
        try:
            self.path.replace(target)
        except OSError as error:
            raise local_error(target, error) from None
        return target

    def discard(self) -> None:
        """Close and remove the partial file."""
        self.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


def write_file(dest: Path, data: bytes, *, overwrite: bool) -> Path:
    """Write `data` to a temporary file beside `dest` (`~` expanded), then rename it to `dest`."""
    dest = Path(dest).expanduser()
    part = PartFile.temporary(dest)
    try:
        part.write(data)
        return part.commit(dest, overwrite=overwrite)
    except BaseException:
        part.discard()
        raise


# -- the bytes ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Received:
    """How far a download is: `done` bytes of the file (of `total`, when known) are written."""

    done: int = 0
    total: int | None = None


async def receive(
    response: httpx.Response,
    part: PartFile,
    received: Received,
    rate: MinimumRate,
    progress: Progress | None = None,
    *,
    chunk_size: int | None = None,
    every: int = 0,
) -> None:
    """Write the raw body of `response` (as the server stores it: nothing decoded) to `part` as
    it arrives, each chunk counted by `rate` (`TooSlowError` when the transfer is too slow) and
    in `received`. `progress(done, total)` is told at the start, after every `every` bytes (each
    chunk with 0) and at the end. A broken connection raises httpx's error: `received` says how
    far it got."""
    reported = received.done
    if progress is not None:
        progress(received.done, received.total)
    async for chunk in response.aiter_raw(chunk_size):
        rate.moved(len(chunk))
        part.write(chunk)
        received.done += len(chunk)
        if progress is not None and received.done - reported >= every:
            reported = received.done
            progress(received.done, received.total)
    if progress is not None and received.done != reported:
        progress(received.done, received.total)


__all__ = [
    "FALLBACK",
    "NAME_MAX",
    "LocalFileError",
    "OneLine",
    "PartFile",
    "Received",
    "component",
    "exists",
    "folder_problem",
    "inside",
    "local_error",
    "name_max",
    "part_of",
    "receive",
    "safe_name",
    "write_file",
]
