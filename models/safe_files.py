"""Opening files someone handed us: one way for every loader (recipes, sessions, vector files, headers).

Only regular files are read. `os.stat` comes first, so a folder, a device (/dev/zero, /dev/urandom), a FIFO
or a socket is refused before anything is opened (their st_size is 0, so a size check alone passes them);
the file is then opened with O_NONBLOCK, checked again with fstat (it may have been swapped meanwhile), and
read up to the cap plus one byte, so a file that grows while read cannot make us allocate more than the cap.
Paths recorded inside a file resolve against that file's own folder. Errors are the caller's typed error
class, with the file's name and the problem in plain words.
"""
from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

from latent_atlas.models.errors import LatentAtlasError

MAX_PATH_CHARS = 4096        # PATH_MAX on Linux; longer is a hostile string, not a path
MAX_NAME_CHARS = 255         # NAME_MAX: one path component
MAX_INT_DIGITS = 30          # JSON integers we use are counts and seeds; 30 digits is past any of them
MAX_SHOWN_PATH = 200         # characters of a path in an error message


def shown(path) -> str:
    """A path as an error message shows it: whole when short, else its start and its end."""
    text = str(path)
    return text if len(text) <= MAX_SHOWN_PATH else f"{text[:80]}…{text[-100:]}"


def _a(what: str) -> str:
    """'a session file', 'an attribute table', 'an IDX file'."""
    return f"{'an' if what[:1].lower() in 'aeiou' else 'a'} {what}"


def check_path_text(path, error: type[LatentAtlasError] = LatentAtlasError, what: str = "file") -> Path:
    """A Path, or `error` for what the OS would refuse with ENAMETOOLONG or a NUL byte."""
    text = os.fspath(path)
    if not isinstance(text, str):
        text = os.fsdecode(text)
    if "\x00" in text:
        raise error(f"{shown(text)!r}: {_a(what)} path cannot hold a NUL character")
    if len(text) > MAX_PATH_CHARS or any(len(part) > MAX_NAME_CHARS for part in text.split(os.sep)):
        raise error(f"{shown(text)}: the {what} path is too long ({len(text):,} characters; at most "
                    f"{MAX_PATH_CHARS} in all and {MAX_NAME_CHARS} per folder or file name)")
    return Path(text)


def regular_file_size(path, error: type[LatentAtlasError] = LatentAtlasError, what: str = "file") -> int:
    """The size of a regular file (symlinks followed), or `error`: missing, a folder, a device, a FIFO."""
    path = check_path_text(path, error, what)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{shown(path)}: no such file") from None
    except OSError as e:
        raise error(f"{shown(path)}: cannot read it ({e.strerror or e})") from None
    _check_mode(path, st.st_mode, error, what)
    return st.st_size


def _check_mode(path: Path, mode: int, error, what: str) -> None:
    if stat.S_ISDIR(mode):
        raise error(f"{shown(path)} is a folder, not {_a(what)}")
    if not stat.S_ISREG(mode):
        raise error(f"{shown(path)} is {kind_of(mode)}, not {_a(what)}: only regular files are read")


def kind_of(mode: int) -> str:
    """What a file that is not a regular file is, in words: 'a named pipe (FIFO)', 'a device', ..."""
    return ("a regular file" if stat.S_ISREG(mode) else "a folder" if stat.S_ISDIR(mode)
            else "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode)
            or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")


def open_regular(path, error: type[LatentAtlasError] = LatentAtlasError, what: str = "file"):
    """A binary file object for reading a regular file, or `error`; the one way loaders open a file.

    os.stat refuses folders, devices and FIFOs before anything is opened; the open itself is non-blocking
    (a FIFO swapped in after the stat would block a plain open() forever with no writer) and fstat checks
    what was really opened. Callers that read a whole file use read_capped; streaming readers (IDX, images)
    take this and bound their own reads."""
    path = check_path_text(path, error, what)
    regular_file_size(path, error, what)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        raise error(f"{shown(path)}: cannot read it ({e.strerror or e})") from None
    try:
        _check_mode(path, os.fstat(fd).st_mode, error, what)     # swapped for a FIFO after the stat?
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")           # O_NONBLOCK changes nothing for a regular file's reads


def read_capped(path, cap: int, error: type[LatentAtlasError] = LatentAtlasError, what: str = "file") -> bytes:
    """The whole content of a regular, non-empty file of at most `cap` bytes, or `error`."""
    path = check_path_text(path, error, what)
    size = regular_file_size(path, error, what)
    if size == 0:
        raise error(f"{shown(path)} is empty, not {_a(what)}")
    if size > cap:
        raise error(f"{shown(path)} is {size:,} bytes, over the {cap:,} byte limit for {_a(what)}")
    chunks, total = [], 0
    with open_regular(path, error, what) as f:
        try:
            while total <= cap:          # in blocks: read(cap + 1) would allocate the whole cap at once
                block = f.read(min(1 << 20, cap + 1 - total))
                if not block:
                    break
                chunks.append(block)
                total += len(block)
        except OSError as e:
            raise error(f"{shown(path)}: cannot read it ({e.strerror or e})") from None
    if total > cap:
        raise error(f"{shown(path)} grew past the {cap:,} byte limit for {_a(what)} while it was read")
    return b"".join(chunks)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _capped_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"a whole number of {len(text):,} digits is too large")
    return int(text)


def parse_json(data: bytes, path, error: type[LatentAtlasError] = LatentAtlasError, what: str = "file"):
    """JSON from a file's bytes: UTF-8, no NaN/Infinity, no huge integers; deep nesting is refused."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise error(f"{shown(path)}: not {_a(what)} (not UTF-8 text)") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_int=_capped_int)
    except RecursionError:
        raise error(f"{shown(path)}: not {_a(what)} (its JSON is nested too deeply)") from None
    except ValueError as e:                 # JSONDecodeError and what the hooks refuse
        raise error(f"{shown(path)}: not {_a(what)} (invalid JSON: {str(e)[:160]})") from None


def read_json(path, cap: int, error: type[LatentAtlasError] = LatentAtlasError, what: str = "file"):
    return parse_json(read_capped(path, cap, error, what), path, error, what)


def recorded_path(text: str, named_in, error: type[LatentAtlasError] = LatentAtlasError,
                  what: str = "file") -> Path:
    """A path written inside the file `named_in`: '~' is not expanded, a relative path is relative to
    the folder of that file (not to the working directory)."""
    path = check_path_text(text, error, what)
    return path if path.is_absolute() else Path(named_in).parent / path


def finite_float32(value: float) -> bool:
    """Whether a number stays finite once stored as float32 (1e300 passes math.isfinite, then is inf)."""
    return math.isfinite(value) and abs(value) <= 3.4028234663852886e38


def same_path(a, b) -> bool:
    """Whether two paths name the same file (after ~ and links); False when either cannot be resolved."""
    try:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    except OSError:
        return False
