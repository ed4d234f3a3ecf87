"""Checkpoint round trips, exact resume, atomic saves and vector edits."""
from __future__ import annotations

import pickle

import pytest
import torch
from conftest import make_tiny_model

import latent_atlas.models.checkpoints.atomic_io as atomic_io_module
import latent_atlas.models.checkpoints.checkpoint as checkpoint_module
from latent_atlas.models.checkpoints.checkpoint import (
    Checkpoint,
    load_checkpoint,
    read_header,
    save_checkpoint,
    save_vectors,
    sniff_format,
)
from latent_atlas.models.errors import CheckpointError
from latent_atlas.models.registry import build_model, make_config

CASES = [
    ("vae", {"image_shape": [1, 28, 28], "latent_dim": 8, "width": 8, "hidden": 32}),
    ("vae", {"image_shape": [3, 16, 16], "latent_dim": 4, "width": 4, "hidden": 16, "beta": 4.0}),
    ("vae", {"arch": "mlp", "image_shape": [1, 28, 28], "latent_dim": 20, "hidden": 64}),
    ("cvae", {"image_shape": [1, 28, 28], "latent_dim": 8, "width": 8, "hidden": 32, "cond_dim": 10}),
    ("cvae", {"image_shape": [3, 32, 32], "latent_dim": 6, "width": 4, "hidden": 16, "cond_dim": 10}),
    ("gan", {"image_shape": [1, 28, 28], "latent_dim": 16, "width": 8}),
    ("gan", {"image_shape": [3, 64, 64], "latent_dim": 32, "width": 4}),
    ("gan", {"image_shape": [3, 32, 32], "latent_dim": 10, "width": 4}),
]


def make(kind, cfg, seed=0):
    torch.manual_seed(seed)
    return build_model(kind, make_config(kind, cfg))


def small_vae(seed=0):
    return make_tiny_model("vae", seed, image_shape=[1, 16, 16], width=4, hidden=16)


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert sa[key].dtype == sb[key].dtype, key
        assert torch.equal(sa[key], sb[key].to(sa[key].device)), key


@pytest.mark.parametrize("kind,cfg", CASES, ids=[f"{k}-{c['image_shape']}" for k, c in CASES])
def test_round_trip_keeps_every_tensor_and_all_metadata(tmp_path, kind, cfg):
    model = make(kind, cfg)
    if kind == "gan":   # non-trivial batch-norm statistics, so buffers are compared too
        model.train()
        model.generator(torch.randn(4, model.latent_dim))
    dataset = {"name": "mnist", "source": "/data/mnist", "image_shape": cfg["image_shape"],
               "label_names": [str(i) for i in range(10)], "attribute_names": ["thick"]}
    history = {"step": [1, 2, 3], "recon": [3.5, 2.25, float("nan")], "kl": [0.1, 0.2, 0.3]}
    vectors = {"thickness": {"vector": torch.randn(model.latent_dim), "description": "stroke width",
                             "label": 3, "n": 100}}
    rng = torch.get_rng_state()
    path = save_checkpoint(tmp_path / "m.safetensors", model, dataset=dataset, history=history,
                           train_state={"step": 3, "epoch": 1, "seed": 7}, rng_state={"torch": rng},
                           vectors=vectors)
    ckpt = load_checkpoint(path)

    assert isinstance(ckpt, Checkpoint) and ckpt.path == path
    assert ckpt.kind == kind and ckpt.config == model.config
    assert type(ckpt.model) is type(model) and not ckpt.model.training
    assert ckpt.model is not model
    assert_same_weights(model, ckpt.model)
    assert ckpt.dataset == dataset
    assert ckpt.history["step"] == [1, 2, 3] and ckpt.history["recon"][:2] == [3.5, 2.25]
    assert ckpt.history["recon"][2] != ckpt.history["recon"][2]          # NaN survives as NaN
    assert ckpt.train_state == {"step": 3, "epoch": 1, "seed": 7}
    assert torch.equal(ckpt.rng_state["torch"], rng) and ckpt.rng_state["cuda"] == []
    assert torch.equal(ckpt.vectors["thickness"]["vector"], vectors["thickness"]["vector"])
    assert {k: v for k, v in ckpt.vectors["thickness"].items() if k != "vector"} == \
        {"description": "stroke width", "label": 3, "n": 100}
    assert ckpt.optimizer_states == {}
    meta = ckpt.metadata
    assert meta["format"] == "latent-atlas" and meta["format_version"] == "1" and meta["kind"] == kind
    assert meta["torch_version"] == str(torch.__version__) and meta["created"][:2] == "20"
    z = torch.randn(2, model.latent_dim)
    c = torch.eye(10)[:2] if kind == "cvae" else None
    model.eval()
    assert torch.equal(model.decode(z, c), ckpt.model.decode(z, c))


def test_defaults_give_empty_dicts(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", small_vae())
    ckpt = load_checkpoint(path, with_optimizers=True)
    assert ckpt.dataset == {} and ckpt.history == {} and ckpt.train_state == {}
    assert ckpt.rng_state == {} and ckpt.vectors == {} and ckpt.optimizer_states == {}


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_save_loads_as_float32_close_to_the_original(tmp_path, dtype):
    model = make("gan", {"image_shape": [3, 32, 32], "latent_dim": 16, "width": 8})
    full = save_checkpoint(tmp_path / "full.safetensors", model)
    half = save_checkpoint(tmp_path / "half.safetensors", model, dtype=dtype)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    header = read_header(half)
    assert header["model.generator.main.0.weight"]["dtype"] in ("F16", "BF16")
    assert header["model.generator.main.1.num_batches_tracked"]["dtype"] == "I64"   # counts stay integers
    loaded = load_checkpoint(half).model
    tol = 1e-2 if dtype == torch.bfloat16 else 1e-3
    for key, value in model.state_dict().items():
        got = loaded.state_dict()[key]
        assert got.dtype == value.dtype, key
        assert torch.allclose(got, value, rtol=tol, atol=tol * 0.05), key


def test_half_precision_overflow_is_refused(tmp_path):
    model = small_vae()
    with torch.no_grad():
        model.fc_mu.weight[0, 0] = 1e6          # finite in float32, +inf in float16
    with pytest.raises(CheckpointError, match="beyond the range"):
        save_checkpoint(tmp_path / "m.safetensors", model, dtype=torch.float16)
    assert list(tmp_path.iterdir()) == []


def _train(model, opts, batches, steps):
    model.train()
    for i in range(steps):
        model.train_step(batches[i], None, opts)


@pytest.mark.parametrize("kind,cfg", [
    ("vae", {"image_shape": [1, 16, 16], "latent_dim": 4, "width": 4, "hidden": 16}),
    ("gan", {"image_shape": [1, 16, 16], "latent_dim": 8, "width": 4}),
])
def test_resume_from_checkpoint_is_bit_identical_to_training_straight_through(tmp_path, kind, cfg):
    batches = torch.rand(6, 8, *cfg["image_shape"], generator=torch.Generator().manual_seed(1))
    straight = make(kind, cfg)
    opts = straight.make_optimizers(1e-3)
    _train(straight, opts, batches, 3)
    path = save_checkpoint(tmp_path / "m.safetensors", straight, optimizers=opts,
                           rng_state={"torch": torch.get_rng_state()}, train_state={"step": 3})
    _train(straight, opts, batches[3:], 3)

    torch.manual_seed(12345)                         # a different RNG state; the checkpoint must restore it
    ckpt = load_checkpoint(path, with_optimizers=True)
    resumed = ckpt.model
    resumed_opts = resumed.make_optimizers(1e-3)
    assert set(ckpt.optimizer_states) == set(resumed_opts)
    for name, opt in resumed_opts.items():
        opt.load_state_dict(ckpt.optimizer_states[name])
    torch.set_rng_state(ckpt.rng_state["torch"])
    _train(resumed, resumed_opts, batches[3:], 3)
    assert_same_weights(straight, resumed)
    for name in opts:
        a, b = opts[name].state_dict(), resumed_opts[name].state_dict()
        for index in a["state"]:
            for key, value in a["state"][index].items():
                assert torch.equal(value, b["state"][index][key]), (name, index, key)

    # negative control: the same resume without the optimizer state does drift, so the test can fail
    fresh = load_checkpoint(path).model
    fresh_opts = fresh.make_optimizers(1e-3)
    torch.set_rng_state(ckpt.rng_state["torch"])
    _train(fresh, fresh_opts, batches[3:], 3)
    assert any(not torch.equal(p, q) for p, q in zip(straight.parameters(), fresh.parameters()))


def test_optimizer_settings_round_trip_with_their_types(tmp_path):
    model = small_vae()
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    adam = torch.optim.Adam(model.parameters(), lr=torch.tensor(0.01), betas=(0.8, 0.99))
    model.loss(torch.rand(2, 1, 16, 16))["loss"].backward()
    sgd.step()
    adam.step()
    path = save_checkpoint(tmp_path / "m.safetensors", model, optimizers={"sgd": sgd, "adam": adam})
    states = load_checkpoint(path, with_optimizers=True).optimizer_states
    assert states["adam"]["param_groups"][0]["betas"] == (0.8, 0.99)
    assert isinstance(states["adam"]["param_groups"][0]["lr"], torch.Tensor)
    assert states["sgd"]["param_groups"][0]["nesterov"] is True
    assert sorted(states["sgd"]["state"]) == sorted(sgd.state_dict()["state"])
    torch.optim.SGD(model.parameters(), lr=1.0).load_state_dict(states["sgd"])


def test_optimizer_name_with_a_dot_is_refused(tmp_path):
    model = small_vae()
    with pytest.raises(CheckpointError, match="without dots"):
        save_checkpoint(tmp_path / "m.safetensors", model,
                        optimizers={"a.b": model.make_optimizers(1e-3)["model"]})


# -- atomic saving -----------------------------------------------------------------------------------
def test_failure_during_replace_keeps_the_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "m.safetensors", small_vae(seed=0))
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(atomic_io_module.os, "replace", broken_replace)
    with pytest.raises(CheckpointError, match=r"could not save .*m\.safetensors: No space left"):
        save_checkpoint(path, small_vae(seed=1))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]
    assert_same_weights(small_vae(seed=0), load_checkpoint(path).model)


def test_failure_halfway_through_the_write_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "new.safetensors"
    def broken_fsync(fd):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(atomic_io_module.os, "fsync", broken_fsync)
    with pytest.raises(CheckpointError, match="Input/output error"):
        save_checkpoint(path, small_vae())
    assert list(tmp_path.iterdir()) == []


def test_interrupt_during_the_write_removes_the_temp_file(tmp_path, monkeypatch):
    def interrupted_fsync(fd):
        raise KeyboardInterrupt
    monkeypatch.setattr(atomic_io_module.os, "fsync", interrupted_fsync)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "m.safetensors", small_vae())
    assert list(tmp_path.iterdir()) == []


def test_read_only_folder_gives_a_checkpoint_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        try:
            (folder / "probe").write_bytes(b"x")
            pytest.skip("running with privileges that ignore folder permissions (root)")
        except PermissionError:
            pass
        with pytest.raises(CheckpointError, match=r"could not save .*m\.safetensors"):
            save_checkpoint(folder / "m.safetensors", small_vae())
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_missing_folder_gives_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="could not save"):
        save_checkpoint(tmp_path / "nope" / "m.safetensors", small_vae())


def test_saving_onto_a_folder_is_refused(tmp_path):
    (tmp_path / "m.safetensors").mkdir()
    with pytest.raises(CheckpointError, match="folder"):
        save_checkpoint(tmp_path / "m.safetensors", small_vae())


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_never_written(tmp_path, bad):
    path = save_checkpoint(tmp_path / "m.safetensors", small_vae())
    before = path.read_bytes()
    model = small_vae()
    with torch.no_grad():
        model.dec_fc[0].weight[1, 2] = bad
    with pytest.raises(CheckpointError, match=r"m\.safetensors.*model\.dec_fc\.0\.weight has NaN/Inf"):
        save_checkpoint(path, model)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_saved_file_is_readable_by_others(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", small_vae())
    assert path.stat().st_mode & 0o044 == 0o044


# -- loading basics ----------------------------------------------------------------------------------
def test_missing_folder_and_empty_files_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "missing.safetensors")
    with pytest.raises(CheckpointError, match="folder"):
        load_checkpoint(tmp_path)
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.safetensors is empty"):
        load_checkpoint(tmp_path / "empty.safetensors")


def test_read_header_lists_tensors_and_metadata_without_loading(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "m.safetensors", small_vae(), history={"step": [1]})
    monkeypatch.setattr(checkpoint_module, "safe_open", None)    # reading a tensor would now fail
    header = read_header(path)
    assert header["model.fc_mu.weight"]["shape"] == [4, 16]
    assert header["__metadata__"]["history"] == '{"step": [1]}'


def test_sniff_format_goes_by_content_not_extension(tmp_path):
    st = save_checkpoint(tmp_path / "model.pth", small_vae())
    torch.save({"a": torch.ones(2)}, tmp_path / "zip.safetensors")
    with open(tmp_path / "p2.safetensors", "wb") as f:
        pickle.dump({"a": 1}, f, protocol=2)
    with open(tmp_path / "p0", "wb") as f:
        pickle.dump({"a": [1, 2]}, f, protocol=0)
    torch.save({"a": torch.ones(2)}, tmp_path / "legacy.ckpt", _use_new_zipfile_serialization=False)
    (tmp_path / "text.pt").write_text("hello, this is not a model\n")
    assert sniff_format(st) == "safetensors"
    assert sniff_format(tmp_path / "zip.safetensors") == "pytorch-zip"
    assert sniff_format(tmp_path / "p2.safetensors") == "pickle"
    assert sniff_format(tmp_path / "p0") == "pickle"
    assert sniff_format(tmp_path / "legacy.ckpt") == "pickle"
    assert sniff_format(tmp_path / "text.pt") == "unknown"


def test_loading_does_not_disturb_the_callers_random_numbers(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", small_vae())
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    load_checkpoint(path)
    assert torch.equal(torch.rand(3), expected)


# -- vectors -----------------------------------------------------------------------------------------
def test_save_vectors_replaces_only_the_vectors(tmp_path):
    model = small_vae()
    opts = model.make_optimizers(1e-3)
    _train(model, opts, torch.rand(1, 4, 1, 16, 16), 1)
    path = save_checkpoint(tmp_path / "m.safetensors", model, optimizers=opts, history={"step": [1]},
                           vectors={"old": {"vector": torch.ones(4)}}, dtype=torch.float16)
    before = read_header(path)
    new = {"smile": {"vector": torch.arange(4.0), "description": "smiling", "from_labels": [1, 2]}}
    save_vectors(path, new)
    after = read_header(path)
    ckpt = load_checkpoint(path, with_optimizers=True)
    assert list(ckpt.vectors) == ["smile"]
    assert torch.equal(ckpt.vectors["smile"]["vector"], torch.arange(4.0))
    assert ckpt.vectors["smile"]["description"] == "smiling"
    assert ckpt.vectors["smile"]["from_labels"] == [1, 2]
    def kept(header):
        return {k: v["dtype"] for k, v in header.items()
                if k != "__metadata__" and not k.startswith("vector.")}
    assert kept(before) == kept(after)
    meta_before, meta_after = before["__metadata__"], after["__metadata__"]
    assert {k: v for k, v in meta_before.items() if k != "vectors"} == \
        {k: v for k, v in meta_after.items() if k != "vectors"}
    assert set(ckpt.optimizer_states) == {"model"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_vectors_of_the_wrong_size_are_refused(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", small_vae())
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match=r"shape \[5\].*latent is \[4\]"):
        save_vectors(path, {"bad": {"vector": torch.ones(5)}})
    with pytest.raises(CheckpointError, match="NaN/Inf"):
        save_vectors(path, {"bad": {"vector": torch.tensor([1.0, float("nan"), 0, 0])}})
    with pytest.raises(CheckpointError, match="latent is"):
        save_checkpoint(tmp_path / "other.safetensors", small_vae(), vectors={"x": {"vector": torch.ones(3)}})
    assert path.read_bytes() == before
    assert not (tmp_path / "other.safetensors").exists()


def test_non_json_metadata_is_refused_at_save(tmp_path):
    with pytest.raises(CheckpointError, match="history cannot be stored as JSON"):
        save_checkpoint(tmp_path / "m.safetensors", small_vae(), history={"step": [object()]})
    assert list(tmp_path.iterdir()) == []


def test_numpy_and_tensor_numbers_in_history_are_stored(tmp_path):
    np = pytest.importorskip("numpy")
    path = save_checkpoint(tmp_path / "m.safetensors", small_vae(),
                           history={"loss": [np.float32(1.5), torch.tensor(2.5)], "n": np.arange(2)},
                           train_state={"out": tmp_path / "m.safetensors"})
    ckpt = load_checkpoint(path)
    assert ckpt.history == {"loss": [1.5, 2.5], "n": [0, 1]}
    assert ckpt.train_state == {"out": str(tmp_path / "m.safetensors")}
