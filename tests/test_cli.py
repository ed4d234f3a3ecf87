"""The command line end to end on the 8x8 digits, as a user runs it (subprocesses of main.py), and the
rule for bad input: exactly one line on stderr, "latent-atlas: error: ...", exit code 1, no traceback."""
from __future__ import annotations

import os
import pickle
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from latent_atlas.models.checkpoints.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
# one intra-op thread: on a shared 2-core machine a second one makes tiny models many times slower
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def cli(*args, timeout=120, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=ENV, cwd=ROOT, check=False)
    if check:
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
    return proc


def cli_parallel(commands: dict[str, list]) -> dict[str, tuple[int, str, str]]:
    """name -> (exit code, stdout, stderr); run side by side, since each is mostly interpreter start-up."""
    procs = {name: subprocess.Popen([sys.executable, str(ROOT / "main.py"), *map(str, args)], env=ENV, cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, args in commands.items()}
    return {name: (p.wait(timeout=180), *p.communicate()) for name, p in procs.items()}


@pytest.fixture(scope="module")
def vae(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "vae.safetensors"
    proc = cli("train", "--model", "vae", "--dataset", "digits", "--epochs", "2", "--out", out, "--quiet")
    assert "training vae" in proc.stdout and "done at step 24" in proc.stdout      # 1,438 images / 128
    return out


def test_train_then_info_sample_evaluate(vae, tmp_path):
    ckpt = load_checkpoint(vae, with_optimizers=True)
    assert ckpt.kind == "vae" and ckpt.train_state["step"] == 24 and ckpt.dataset["name"] == "digits"
    assert ckpt.optimizer_states and ckpt.rng_state["torch"] is not None

    grid = tmp_path / "grid.png"
    runs = cli_parallel({"info": ["info", vae], "sample": ["sample", vae, "--n", "16", "--out", grid],
                         "evaluate": ["evaluate", vae, "--k", "16"]})
    for name, (code, _, stderr) in runs.items():
        assert code == 0 and "Traceback" not in stderr, (name, stderr)
    info = runs["info"][1]
    assert re.search(r"kind:\s+vae \([\d,]+ parameters\)", info)
    assert "digits [1, 8, 8], 1438 images" in info and "to step 24" in info
    assert re.search(r"training:\s+epochs \d+, batch size \d+, lr [\d.e-]+, seed \d+\n", info)   # no augmenting

    assert "wrote" in runs["sample"][1]
    with Image.open(grid) as img:
        assert img.format == "PNG" and img.size == (42, 42)        # 4 x 4 tiles of 8 px, 2 px gaps

    report = dict(re.findall(r"^(\S+)\s+(-?[\d.]+)$", runs["evaluate"][1], re.MULTILINE))
    elbo, iw = float(report["elbo"]), float(report["iw_log_likelihood"])
    assert -45 < elbo < iw < 0                                     # 64 binary-ish pixels: above 64 ln 2 ~ 44


@pytest.mark.slow     # real processes, 6-10 s: .ci/run's -m slow runs it
def test_cvae_trains_and_samples_a_chosen_label(tmp_path):
    out = tmp_path / "cvae.safetensors"
    cli("train", "--model", "cvae", "--dataset", "digits", "--epochs", "1", "--out", out, "--quiet",
        "--consistency", "2")
    ckpt = load_checkpoint(out)
    assert ckpt.kind == "cvae" and ckpt.config.cond_dim == 10 and ckpt.config.consistency == 2.0
    grid = tmp_path / "threes.png"
    cli("sample", out, "--label", "3", "--n", "4", "--out", grid)
    with Image.open(grid) as img:
        assert img.size == (22, 22)


@pytest.mark.slow     # real processes, 6-10 s: .ci/run's -m slow runs it
def test_gan_trains_one_epoch(tmp_path):
    out = tmp_path / "gan.safetensors"
    proc = cli("train", "--model", "gan", "--dataset", "digits", "--epochs", "1", "--out", out, "--quiet")
    assert "training gan" in proc.stdout
    ckpt = load_checkpoint(out, with_optimizers=True)
    assert ckpt.kind == "gan" and set(ckpt.optimizer_states) == {"generator", "discriminator"}
    assert re.search(r"kind:\s+gan", cli("info", out).stdout)


@pytest.mark.slow     # a real process or two, ~10 s: .ci/run's -m slow runs it
def test_ctrl_c_saves_a_checkpoint_that_resume_continues(tmp_path):
    out = tmp_path / "interrupted.safetensors"
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "train", "--dataset", "digits", "--epochs",
                             "500", "--out", str(out), "--quiet"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    try:
        assert proc.stdout.readline().startswith("training vae")   # printed just before the loop starts
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in stderr
    assert "stopping after this step" in stderr and "continue with: latent-atlas train --resume" in stdout
    first = load_checkpoint(out)
    step = first.train_state["step"]
    assert 0 <= step < 500 * 12
    epochs = step // 12 + 1
    resumed = cli("train", "--resume", out, "--epochs", epochs, "--quiet").stdout   # --out: the same file
    assert "resuming vae" in resumed and f"done at step {epochs * 12}" in resumed
    ckpt = load_checkpoint(out)
    assert ckpt.train_state["step"] == epochs * 12 and ckpt.config == first.config
    before = first.history.get("step", [])                   # empty when Ctrl-C came before the first event
    assert ckpt.history["step"][:len(before)] == before and ckpt.history["step"][-1] == epochs * 12


def _bad_inputs(tmp: Path, vae: Path) -> dict[str, list]:
    text = tmp / "notes.safetensors"
    text.write_text("these are my notes, not a checkpoint\n")
    pickled = tmp / "model.pt"
    with open(pickled, "wb") as f:
        pickle.dump({"weight": [1.0, 2.0]}, f)
    torch_pickle = tmp / "weights.pth"
    torch.save({"w": torch.zeros(2)}, torch_pickle)
    if os.geteuid() == 0:                      # root writes anywhere; /proc refuses new files even to root
        locked = Path("/proc")
    else:
        locked = tmp / "locked"
        locked.mkdir()
        locked.chmod(0o555)
    train = ["train", "--dataset", "digits", "--quiet", "--out", tmp / "x.safetensors"]
    return {
        "missing file": ["info", tmp / "missing.safetensors"],
        "text file": ["info", text],
        "pickle": ["info", pickled],
        "torch pickle": ["sample", torch_pickle, "--out", tmp / "g.png"],
        "unknown dataset": ["train", "--dataset", tmp / "no_such_folder", "--out", tmp / "x.safetensors"],
        "epochs 0": [*train, "--epochs", "0"],
        "cuda": [*train, "--device", "cuda"],
        "label on a vae": ["sample", vae, "--label", "3", "--out", tmp / "g.png"],
        "unwritable out": ["train", "--dataset", "digits", "--out", locked / "x.safetensors"],
        "out folder missing": ["train", "--dataset", "digits", "--out", tmp / "nope" / "x.safetensors"],
        "sample into a missing folder": ["sample", vae, "--out", tmp / "nope" / "g.png"],
        "resume a text file": ["train", "--resume", text, "--out", tmp / "y.safetensors"],
        "resume a finished run": ["train", "--resume", vae, "--epochs", "2", "--out", tmp / "y.safetensors"],
        "resume as another family": ["train", "--resume", vae, "--model", "gan", "--out", tmp / "y.safetensors"],
        "negative checkpoint interval": ["train", "--dataset", "digits", "--checkpoint-every", "-5",
                                         "--out", tmp / "x.safetensors"],
        "consistency on a vae": [*train, "--consistency", "2"],
    }


EXPECTED = {"missing file": "missing.safetensors", "text file": "notes.safetensors", "pickle": "model.pt",
            "torch pickle": "weights.pth", "unknown dataset": "no_such_folder", "epochs 0": "--epochs",
            "cuda": "cuda", "label on a vae": "--label", "unwritable out": "not writable",
            "out folder missing": "does not exist", "sample into a missing folder": "nope/g.png: the folder",
            "resume a text file": "notes.safetensors",
            "resume a finished run": "has trained 2 epochs already", "resume as another family": "holds a vae",
            "negative checkpoint interval": "--checkpoint-every",
            "consistency on a vae": "--consistency applies to a CVAE"}


def assert_one_error_line(name: str, code: int, stdout: str, stderr: str) -> None:
    lines = stderr.splitlines()
    assert code == 1, (name, stderr)
    assert len(lines) == 1 and lines[0].startswith("latent-atlas: error: "), (name, stderr)
    assert "Traceback" not in stderr + stdout, name
    assert EXPECTED[name] in lines[0], (name, lines[0])


@pytest.mark.parametrize("name", list(EXPECTED))
def test_bad_inputs_give_one_error_line_and_exit_1(name, vae, tmp_path, capsys):
    """In-process (main(argv)): the same code path as the command, without a torch start-up per case."""
    from latent_atlas.main import main

    args = _bad_inputs(tmp_path, vae)[name]
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert_one_error_line(name, code, out, err)
    assert not {"x.safetensors", "y.safetensors", "g.png"} & {p.name for p in tmp_path.iterdir()}


def test_bad_inputs_as_real_processes(vae, tmp_path):
    """Two of the cases as the user meets them: a real process prints one line and exits 1."""
    cases = _bad_inputs(tmp_path, vae)
    results = cli_parallel({name: cases[name] for name in ("text file", "cuda")})
    for name, (code, stdout, stderr) in results.items():
        assert_one_error_line(name, code, stdout, stderr)
