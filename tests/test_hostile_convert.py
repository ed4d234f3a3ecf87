"""Hostile `convert` inputs, through the command line in-process: each is one line naming the file and
the problem, exit 1, and no output file. The inputs are written with torch.save (read back weights_only)."""
from __future__ import annotations

import re
import time

import pytest
import torch
from torch import nn

from latent_atlas.main import main
from latent_atlas.models.checkpoints import convert
from latent_atlas.models.checkpoints.zoo_convert import read_condition_names
from latent_atlas.models.errors import CheckpointError
from tests.hostile_files import not_regular_files, within


class ExampleVAE(nn.Module):            # the PyTorch examples' VAE, 784 -> 40 -> 4
    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 40), nn.Linear(40, 4), nn.Linear(40, 4)
        self.fc3, self.fc4 = nn.Linear(4, 40), nn.Linear(40, 784)


def _with(key, tensor):
    sd = dict(ExampleVAE().state_dict())
    sd[key] = tensor
    return sd


def _convert(tmp_path, obj, capsys):
    torch.save(obj, tmp_path / "bad.pt")
    rc = main(["convert", str(tmp_path / "bad.pt"), "--out", str(tmp_path / "o.safetensors")])
    err = capsys.readouterr().err.strip().splitlines()
    assert not (tmp_path / "o.safetensors").exists()
    return rc, err


@pytest.mark.parametrize("make,expected", [
    (lambda: _with("fc1.weight", torch.empty(40, 784, device="meta")),
     r"tensor fc1\.weight has no values \(a meta tensor"),
    (lambda: _with("fc1.weight", torch.randn(40, 784).to_sparse()), r"tensor fc1\.weight is sparse \(sparse_coo\)"),
    (lambda: _with("fc4.bias", torch.randn(784, dtype=torch.complex64)), r"tensor fc4\.bias holds complex64 values"),
    (lambda: {k: v.to(torch.int64) for k, v in ExampleVAE().state_dict().items()}, r"holds int64 values"),
    (lambda: _with("fc3.bias", torch.ones(40, dtype=torch.bool)), r"tensor fc3\.bias holds bool values"),
    (dict, r"holds an empty dict, no tensors"),
])
def test_a_bad_tensor_or_an_empty_dict_is_one_line(tmp_path, capsys, make, expected):
    rc, err = _convert(tmp_path, make(), capsys)
    assert rc == 1 and len(err) == 1, err
    assert err[0].startswith(f"latent-atlas: error: {tmp_path / 'bad.pt'}: ")
    assert re.search(expected, err[0]), err[0]
    assert "None" not in err[0] and "Traceback" not in err[0]


def test_the_same_file_with_good_tensors_converts(tmp_path, capsys):
    """Negative control: the checks above refuse the tensor, not the layout."""
    torch.save(ExampleVAE().state_dict(), tmp_path / "good.pt")
    assert main(["convert", str(tmp_path / "good.pt"), "--out", str(tmp_path / "o.safetensors")]) == 0
    assert (tmp_path / "o.safetensors").exists()


def test_too_many_entries_are_refused_before_they_are_unpickled(tmp_path, capsys, monkeypatch):
    """The count comes from the archive's zip directory: torch.load is never called on the file."""
    n = convert.MAX_ENTRIES + 1
    torch.save({f"k{i}": torch.zeros(1) for i in range(n)}, tmp_path / "many.pt")
    loads = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    start = time.perf_counter()
    rc = main(["convert", str(tmp_path / "many.pt"), "--out", str(tmp_path / "o.safetensors")])
    took = time.perf_counter() - start
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1
    assert f"many.pt: holds {n:,} tensors, over the {convert.MAX_ENTRIES:,}" in err[0]
    assert loads == [] and took < 5


def test_inputs_that_are_not_regular_files_are_refused_at_once(tmp_path, capsys):
    """The file to convert, a DCGAN's discriminator, a CVAE's condition names: a FIFO, a device, a folder."""
    good = tmp_path / "good.pt"
    torch.save(ExampleVAE().state_dict(), good)
    for kind, path in not_regular_files(tmp_path, ".pt").items():
        for argv in (["convert", str(path)],
                     ["convert", str(good), "--arch", "pytorch-dcgan", "--discriminator", str(path)]):
            with within(10):
                rc = main([*argv, "--out", str(tmp_path / "o.safetensors")])
            err = capsys.readouterr().err.strip().splitlines()
            assert rc == 1 and len(err) == 1, (kind, argv, err)
            assert str(path) in err[0] and re.search("folder|named pipe|device", err[0]), err[0]
        with within(10), pytest.raises(CheckpointError, match="folder|named pipe|device"):
            read_condition_names(path, 40)
    assert not (tmp_path / "o.safetensors").exists()
