"""A dataset path recorded inside a received file (a checkpoint's `dataset.source`) is only a suggestion.

It is used without asking only when it is a built-in dataset's name, or a folder the dataset readers
recognise (IDX files, or an image folder: images in the folder itself or in its class sub-folders), and not
a filesystem root, a home folder (or a folder above one) or a system folder. Anything else is refused with
the reason, so the command line can say how to pass --dataset and the editor can say why the map shows
prior samples. Looking costs at most a few thousand directory entries; nothing is walked.
"""
from __future__ import annotations

import os
from pathlib import Path

from latent_atlas.models.data.idx import has_idx_files
from latent_atlas.models.data.image_folder import IMAGE_EXTENSIONS
from latent_atlas.models.data.registry import DATASET_NAMES
from latent_atlas.models.errors import DatasetError, LatentAtlasError
from latent_atlas.models.safe_files import recorded_path, shown

SYSTEM_FOLDERS = ("/proc", "/sys", "/dev", "/run", "/boot", "/etc", "/usr", "/var", "/bin", "/sbin", "/lib")
ENTRIES_LOOKED_AT = 2000      # per folder, when checking that a folder holds images


class RecordedSourceRefused(DatasetError):
    """A dataset path recorded in a file that is not used without the user saying so."""


def recorded_dataset(dataset: dict, named_in) -> str:
    """The dataset to load for a file's recorded description: a built-in name, or a recognised folder
    (a relative path is relative to the folder of `named_in`). RecordedSourceRefused says why not."""
    name, source = dataset.get("name"), dataset.get("source")
    if name in DATASET_NAMES:
        return name
    if not isinstance(source, str) or not source:
        raise RecordedSourceRefused(f"{shown(named_in)} records no dataset that can be found")
    if source in DATASET_NAMES:
        return source
    try:
        path = recorded_path(source, named_in, RecordedSourceRefused, "dataset")
        reason = _refusal(path)
    except (OSError, LatentAtlasError) as e:
        reason = f"it cannot be looked at ({getattr(e, 'strerror', None) or e})"
    if reason:
        raise RecordedSourceRefused(f"{shown(named_in)} records its data as {shown(source)!r}, which is not "
                                    f"used without asking: {reason}")
    return str(path)


def _refusal(path: Path) -> str | None:
    if not path.is_dir():
        return "no such folder"
    real = path.resolve()
    if real == Path(real.anchor):
        return "it is the filesystem root"
    home = Path.home().resolve()
    if real == home or real in home.parents:
        return "it is a home folder (or a folder above one)"
    for system in SYSTEM_FOLDERS:
        if real == Path(system) or Path(system) in real.parents:
            return f"it is a system folder ({system})"
    if has_idx_files(real) or _holds_images(real) or any(_holds_images(d) for d in _subfolders(real)):
        return None
    return "it holds neither IDX files nor images (in it or in its class sub-folders)"


def _entries(folder: Path) -> list[os.DirEntry]:
    out = []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if len(out) >= ENTRIES_LOOKED_AT:
                    break
                if not entry.name.startswith("."):
                    out.append(entry)
    except OSError:
        return []
    return out


def _holds_images(folder: Path) -> bool:
    return any(Path(e.name).suffix.lower() in IMAGE_EXTENSIONS and e.is_file() for e in _entries(folder))


def _subfolders(folder: Path) -> list[Path]:
    return [Path(e.path) for e in _entries(folder) if e.is_dir(follow_symlinks=False)][:ENTRIES_LOOKED_AT // 10]
