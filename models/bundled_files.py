"""Where the files shipped with the package (everything under resources/) are, in a checkout, an editable
install and a wheel alike: found through importlib.resources, never relative to the working directory."""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def resource_path(*parts: str) -> Path:
    """The path of resources/<parts...> inside the installed latent_atlas package (it may not exist)."""
    return Path(str(files("latent_atlas").joinpath("resources", *parts)))
