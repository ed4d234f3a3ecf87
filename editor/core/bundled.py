"""The checkpoints shipped in resources/models, described by resources/models/index.json."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from latent_atlas.models.bundled_files import resource_path

RESOURCES = resource_path()
MODELS_DIR = RESOURCES / "models"


@dataclass(frozen=True)
class BundledModel:
    name: str
    path: Path
    description: str
    default: bool = False


def bundled_models() -> list[BundledModel]:
    index = MODELS_DIR / "index.json"
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        entries = [{"file": p.name, "name": p.stem} for p in sorted(MODELS_DIR.glob("*.safetensors"))
                   if not p.name.startswith(".")]   # hidden files are unfinished builds
    models = []
    for e in entries:
        path = MODELS_DIR / e["file"]
        if path.is_file():
            models.append(BundledModel(e.get("name", path.stem), path, e.get("description", ""),
                                       bool(e.get("default", False))))
    return models


def default_model() -> BundledModel | None:
    models = bundled_models()
    preferred = [m for m in models if m.default] + [m for m in models if m.path.stem == "fashion_vae"]
    return (preferred or models or [None])[0]
