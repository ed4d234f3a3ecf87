"""The wheel's layout stays in step with the checkout: every package folder is in pyproject's package list
(setuptools would silently leave a new one out of the wheel) and every file under resources/ matches a
package-data pattern. scripts/check_wheel.py (run by .ci/run) builds and installs the real wheel."""
from __future__ import annotations

import fnmatch
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def package_folders() -> set[str]:
    found = {"latent_atlas"}
    for top in ("models", "editor", "cli"):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT).as_posix()
            found.add("latent_atlas." + rel.replace("/", "."))
    return found


def test_every_package_folder_is_in_the_wheel():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert listed == package_folders()


def test_every_resource_file_is_package_data():
    tracked = subprocess.run(["git", "ls-files", "resources"], capture_output=True, text=True, cwd=ROOT)
    files = tracked.stdout.split() if tracked.returncode == 0 and tracked.stdout else [
        p.relative_to(ROOT).as_posix() for p in (ROOT / "resources").rglob("*") if p.is_file()]
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["latent_atlas"]
    assert len(files) >= 9
    left_out = [f for f in files if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)]
    assert left_out == []


def test_the_console_script_and_the_package_entry_agree():
    assert PYPROJECT["project"]["scripts"] == {"latent-atlas": "latent_atlas.main:main"}
    assert (ROOT / "__main__.py").read_text().count("from latent_atlas.main import main") == 1


def test_the_bundled_resources_stay_under_25_mb():
    total = sum(p.stat().st_size for p in (ROOT / "resources").rglob("*") if p.is_file())
    assert total < 25 * 10**6, f"resources/ holds {total / 1e6:.1f} MB"
