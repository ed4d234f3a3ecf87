"""Build the wheel and the sdist and try the wheel as a new user would (issue 13's CI check).

    python scripts/check_wheel.py [--keep DIR]

Fails (exit 1, one line saying what) unless: the wheel's only top-level name is latent_atlas; it carries
the bundled checkpoints, the classifier and the Fashion-MNIST subset; the sdist carries resources/ and tests/;
and, installed with --no-deps into a new virtual environment over the already-installed dependencies, from a
folder that holds a `models/`, `editor/` and `cli/` package and a `main.py` of its own (each raising on
import), `import latent_atlas`, `latent-atlas info` on a bundled checkpoint, `latent-atlas info | head -1`,
`latent-atlas --screenshot` (offscreen) and `python -m latent_atlas --help` all work.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEEDED = ["latent_atlas/resources/models/index.json", "latent_atlas/resources/models/fashion_vae.safetensors",
          "latent_atlas/resources/classifier/fashion_classifier.safetensors",
          "latent_atlas/resources/fashion-mnist-subset/t10k-images-idx3-ubyte.gz",
          "latent_atlas/resources/emoji-subset/emoji-test-subset.png",
          "latent_atlas/main.py", "latent_atlas/__main__.py", "latent_atlas/editor/core/state.py",
          "latent_atlas/models/checkpoints/checkpoint.py"]
TRAP = "raise ImportError('latent_atlas imported the user project\\'s own {name}')\n"


class Failed(Exception):
    pass


def run(cmd, cwd=None, env=None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=cwd, env=env)
    if proc.returncode != 0:
        raise Failed(f"{' '.join(map(str, cmd))} exited {proc.returncode}\n{proc.stdout[-1500:]}{proc.stderr[-3000:]}")
    return proc


def build(out: Path) -> tuple[Path, Path]:
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)])
    code = ("import sys; from setuptools import build_meta as b; "
            f"print(b.build_sdist({str(out)!r}))")
    run([sys.executable, "-c", code], cwd=ROOT)
    wheel = next(out.glob("latent_atlas-*.whl"))
    sdist = next(out.glob("latent_atlas-*.tar.gz"))
    return wheel, sdist


def check_archives(wheel: Path, sdist: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    if tops != {"latent_atlas"}:
        raise Failed(f"{wheel.name}: top-level names {sorted(tops)}, want only latent_atlas")
    missing = [n for n in NEEDED if n not in names]
    if missing:
        raise Failed(f"{wheel.name}: missing {missing}")
    stray = [n for n in names if n.startswith(("latent_atlas/tests/", "latent_atlas/bench/", "latent_atlas/scripts/"))
             or "__pycache__" in n]
    if stray:
        raise Failed(f"{wheel.name}: holds {stray[:5]}")
    members = tarfile.open(sdist).getnames()
    for part in ("resources/models/fashion_vae.safetensors", "tests/conftest.py", "pyproject.toml", "main.py"):
        if not any(m.endswith("/" + part) for m in members):
            raise Failed(f"{sdist.name}: missing {part}")


def make_venv(where: Path) -> Path:
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(where)
    python = where / "bin" / "python"
    return python


def user_project(where: Path) -> Path:
    """A research project's folder: its own models/, editor/ and cli/ packages and a main.py."""
    for name in ("models", "editor", "cli"):
        (where / name).mkdir(parents=True)
        (where / name / "__init__.py").write_text(TRAP.format(name=name))
    (where / "main.py").write_text(TRAP.format(name="main.py"))
    return where


def piped_to_head(cmd, cwd, env) -> str:
    """`cmd | head -1`, as a shell runs it: head exits after one line; what cmd wrote to stderr."""
    producer = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env)
    head = subprocess.Popen(["head", "-1"], stdin=producer.stdout, stdout=subprocess.DEVNULL)
    producer.stdout.close()                  # only head holds the read end: once it exits, writes break the pipe
    err = producer.stderr.read().decode(errors="replace")
    producer.wait(timeout=300)
    return err if head.wait(timeout=300) == 0 else "head -1 failed"


def check_install(wheel: Path, tmp: Path) -> None:
    env_dir = tmp / "venv"
    python = make_venv(env_dir)
    run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)])
    exe = env_dir / "bin" / "latent-atlas"
    project = user_project(tmp / "project")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(QT_QPA_PLATFORM="offscreen", PATH=f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               PYTHONPATH=str(project))            # the user's packages come first on the path
    where = run([str(python), "-c", "import latent_atlas; print(latent_atlas.__file__)"], cwd=project, env=env)
    if not where.stdout.strip().startswith(str(env_dir)):
        raise Failed(f"import latent_atlas found {where.stdout.strip()}, not the installed wheel in {env_dir}")
    bundled = run([str(python), "-c", "from latent_atlas.editor.core.bundled import default_model; "
                   "print(default_model().path)"], cwd=project, env=env).stdout.strip()
    if not bundled.startswith(str(env_dir)):
        raise Failed(f"the bundled default model is {bundled}, not inside the installed package")
    info = run([str(exe), "info", bundled], cwd=project, env=env)
    if "kind:" not in info.stdout:
        raise Failed(f"latent-atlas info printed {info.stdout[:300]!r}")
    head = piped_to_head([str(exe), "info", bundled], cwd=project, env=env)
    if head.strip():
        raise Failed(f"latent-atlas info | head -1 wrote to stderr: {head.strip()[:300]}")
    shot = project / "shot.png"
    run([str(exe), "--screenshot", str(shot)], cwd=project, env=env)
    if not shot.is_file() or shot.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        raise Failed(f"latent-atlas --screenshot wrote no PNG at {shot}")
    helped = run([str(python), "-m", "latent_atlas", "--help"], cwd=project, env=env)
    if "usage:" not in helped.stdout:
        raise Failed("python -m latent_atlas --help printed no usage")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build and install in DIR and leave it there")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="latent-atlas-wheel-") as scratch:
        tmp = args.keep or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        try:
            wheel, sdist = build(tmp / "dist")
            check_archives(wheel, sdist)
            check_install(wheel, tmp)
        except Failed as e:
            print(f"check_wheel: {e}", file=sys.stderr)
            return 1
        sizes = f"{wheel.stat().st_size / 1e6:.1f} MB; sdist {sdist.stat().st_size / 1e6:.1f} MB"
    print(f"check_wheel: ok ({wheel.name}, {sizes})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
