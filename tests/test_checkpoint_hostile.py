"""Files made to hurt: pickles that run code, corrupt safetensors, hostile metadata, wrong shapes."""
from __future__ import annotations

import functools
import json
import pathlib
import pickle
import struct
import tempfile

import pytest
import safetensors.torch
import torch
from conftest import make_tiny_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import latent_atlas.models.checkpoints.checkpoint as checkpoint_module
from latent_atlas.models import registry
from latent_atlas.models.checkpoints.checkpoint import (
    load_checkpoint,
    read_header,
    save_checkpoint,
    save_vectors,
)
from latent_atlas.models.checkpoints.convert import convert_checkpoint
from latent_atlas.models.errors import CheckpointError


# -- pickles that run code ---------------------------------------------------------------------------
class Payload:
    """Unpickling this creates `marker`: proof that the file's code ran."""

    def __init__(self, marker):
        self.marker = pathlib.Path(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _torch_zip(obj, path):
    torch.save(obj, path)


def _torch_legacy(obj, path):
    torch.save(obj, path, _use_new_zipfile_serialization=False)


def _pickle(protocol):
    def dump(obj, path):
        with open(path, "wb") as f:
            pickle.dump(obj, f, protocol=protocol)
    dump.__name__ = f"pickle{protocol}"
    return dump


SAVERS = {"torch-zip": _torch_zip, "torch-legacy": _torch_legacy,
          "pickle0": _pickle(0), "pickle2": _pickle(2), "pickle5": _pickle(5)}
SUFFIXES = [".pt", ".pth", ".ckpt", ".safetensors", ""]


@pytest.fixture
def unpickling_forbidden(monkeypatch):
    """Any call that could unpickle on the load path is recorded and refused."""
    calls = []

    def refuse(name):
        def call(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} was called on the load path")
        return call
    monkeypatch.setattr(torch, "load", refuse("torch.load"))
    monkeypatch.setattr(torch.serialization, "load", refuse("torch.serialization.load"))
    monkeypatch.setattr(pickle, "load", refuse("pickle.load"))
    monkeypatch.setattr(pickle, "loads", refuse("pickle.loads"))
    monkeypatch.setattr(pickle, "Unpickler", refuse("pickle.Unpickler"))
    return calls


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("saver", SAVERS)
def test_malicious_pickle_is_refused_without_running(tmp_path, saver, suffix, unpickling_forbidden):
    marker = tmp_path / "marker"
    path = tmp_path / f"evil{suffix}"
    SAVERS[saver](Payload(marker), path)
    for attempt in (load_checkpoint, read_header, lambda p: save_vectors(p, {})):
        with pytest.raises(CheckpointError) as err:
            attempt(path)
        message = str(err.value)
        assert str(path) in message and "pickle" in message and "latent-atlas convert" in message
    assert not marker.exists()
    assert unpickling_forbidden == []


@pytest.mark.parametrize("saver", SAVERS)
def test_negative_control_the_payload_does_run_when_unpickled(tmp_path, saver):
    """Proves the marker test above would notice execution: unpickling unsafely does create it."""
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    SAVERS[saver](Payload(marker), path)
    assert not marker.exists()
    if saver == "torch-zip" or saver == "torch-legacy":
        torch.load(path, weights_only=False)
    else:
        with open(path, "rb") as f:
            pickle.load(f)
    assert marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("saver", SAVERS)
@pytest.mark.parametrize("arch", ["pytorch-vae", "pytorch-dcgan"])
def test_convert_refuses_the_malicious_pickle_via_weights_only(tmp_path, saver, arch, monkeypatch):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pth"
    SAVERS[saver](Payload(marker), path)
    real_load, calls = torch.load, []

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)
    monkeypatch.setattr(torch, "load", spy)
    with pytest.raises(CheckpointError, match=r"evil\.pth: not a plain tensor state dict \(weights_only"):
        convert_checkpoint(path, arch, tmp_path / "out.safetensors")
    assert calls == [True]                    # tried once, with weights_only, never retried without
    assert not marker.exists()
    assert not (tmp_path / "out.safetensors").exists()


# -- corrupt safetensors -----------------------------------------------------------------------------
def write_raw(path, header, data=b"", length=None):
    """A file of an 8-byte header length, the header, then data (only data when header is None)."""
    if header is None:
        path.write_bytes(data)
        return path
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if length is None else length) + raw + data)
    return path


def f32(n, begin):
    return {"dtype": "F32", "shape": [n], "data_offsets": [begin, begin + 4 * n]}


CORRUPT = {
    "too-short": (None, None, b"\x10\x00\x00", "too short"),
    "length-zero": (b"", 0, b"", "too small"),
    "length-absurd": (b"{}", 2 ** 40, b"", "exceeds"),
    "length-beyond-file": (b'{"a": 1}', 1000, b"", "past the end"),
    "not-json": (b"{this is not json}", None, b"", "not valid JSON"),
    "not-utf8": (b'{"\xff\xfe": 1}', None, b"", "not valid JSON"),
    "deep-nesting": (b'{"a": ' + b"[" * 100000 + b"]" * 100000 + b"}", None, b"", "not valid JSON"),
    "huge-integer": (b'{"a": {"dtype": "F32", "shape": [' + b"9" * 5000 + b'], "data_offsets": [0, 4]}}',
                     None, b"\0" * 4, "not valid JSON"),
    "not-object": (b"[1, 2, 3]", None, b"", "not an object"),
    "duplicate-key": (b'{"a": ' + json.dumps(f32(1, 0)).encode() + b', "a": ' + json.dumps(f32(1, 0)).encode()
                      + b"}", None, b"\0" * 4, "repeats"),
    "overlap": ({"a": f32(2, 0), "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, None,
                b"\0" * 12, "overlaps"),
    "wrong-byte-count": ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, None, b"\0" * 8,
                         "needs 12 bytes"),
    "trailing-bytes": ({"a": f32(2, 0)}, None, b"\0" * 12, "4 trailing bytes"),
    "gap": ({"a": f32(2, 0), "b": f32(2, 12)}, None, b"\0" * 20, "gap of 4 bytes"),
    "offsets-backwards": ({"a": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}}, None, b"\0" * 8,
                          "backwards"),
    "offsets-past-data": ({"a": {"dtype": "F32", "shape": [25], "data_offsets": [0, 100]}}, None, b"\0" * 8,
                          "past the"),
    "negative-shape": ({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, None, b"\0" * 8,
                       "non-negative"),
    "float-shape": ({"a": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}}, None, b"\0" * 8,
                    "non-negative"),
    "absurd-shape": ({"a": {"dtype": "F32", "shape": [10 ** 9, 10 ** 9], "data_offsets": [0, 8]}}, None,
                     b"\0" * 8, "needs 4000000000000000000 bytes"),
    "too-many-dims": ({"a": {"dtype": "U8", "shape": [1] * 17, "data_offsets": [0, 1]}}, None, b"\0",
                      "at most 16"),
    "unknown-dtype": ({"a": {"dtype": "F8_E4M3", "shape": [8], "data_offsets": [0, 8]}}, None, b"\0" * 8,
                      "not one of"),
    "object-dtype": ({"a": {"dtype": {"x": 1}, "shape": [8], "data_offsets": [0, 8]}}, None, b"\0" * 8,
                     "not one of"),
    "missing-offsets": ({"a": {"dtype": "F32", "shape": [2]}}, None, b"\0" * 8, "exactly"),
    "entry-not-object": ({"a": [1, 2]}, None, b"", "exactly"),
    "metadata-not-strings": ({"__metadata__": {"format": 1}}, None, b"", "strings to strings"),
    "metadata-not-object": ({"__metadata__": ["format"]}, None, b"", "strings to strings"),
    "plain-safetensors": ({"a": f32(2, 0)}, None, b"\0" * 8, "not a Latent Atlas checkpoint"),
}


@pytest.mark.parametrize("case", CORRUPT)
def test_corrupt_safetensors_give_a_checkpoint_error_naming_the_file(tmp_path, case, unpickling_forbidden):
    header, length, data, expected = CORRUPT[case]
    path = write_raw(tmp_path / "bad.safetensors", header, data, length)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_safetensors_library_errors_are_wrapped(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model())

    def broken_open(*args, **kwargs):
        raise RuntimeError("library exploded")
    monkeypatch.setattr(checkpoint_module, "safe_open", broken_open)
    with pytest.raises(CheckpointError, match=r"m\.safetensors: could not read its tensors \(library explo"):
        load_checkpoint(path)


# -- random damage: only CheckpointError or a good load, never another exception ---------------------
def tiny_model():
    return make_tiny_model("vae", arch="mlp", image_shape=[1, 4, 4], latent_dim=2, hidden=8)


@functools.lru_cache(maxsize=1)
def valid_bytes() -> bytes:
    with torch.random.fork_rng(devices=[]):        # runs at collection: leave the global RNG as it was
        model = tiny_model()
        opts = model.make_optimizers(1e-3)
        model.train_step(torch.rand(2, 1, 4, 4), None, opts)
    with tempfile.TemporaryDirectory() as folder:
        path = save_checkpoint(pathlib.Path(folder) / "m.safetensors", model, optimizers=opts,
                               history={"step": [1], "loss": [2.5]},
                               rng_state={"torch": torch.get_rng_state()},
                               vectors={"v": {"vector": torch.ones(2), "description": "d"}},
                               dataset={"name": "x", "label_names": ["a"]}, train_state={"step": 1})
        return path.read_bytes()


DAMAGE_SETTINGS = settings(max_examples=200, deadline=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture])


@DAMAGE_SETTINGS
@given(cut=st.integers(min_value=0, max_value=len(valid_bytes()) - 1))
def test_truncated_checkpoints_are_refused(tmp_path, cut):
    path = tmp_path / "cut.safetensors"
    path.write_bytes(valid_bytes()[:cut])
    with pytest.raises(CheckpointError):
        load_checkpoint(path, with_optimizers=True)


HEADER_END = 8 + int.from_bytes(valid_bytes()[:8], "little")
POSITIONS = st.one_of(st.integers(0, HEADER_END - 1),               # half the flips hit the JSON header
                      st.integers(0, len(valid_bytes()) - 1))


@DAMAGE_SETTINGS
@given(flips=st.lists(st.tuples(POSITIONS, st.integers(1, 255)), min_size=1, max_size=4))
def test_flipped_bytes_give_a_checkpoint_error_or_a_good_load(tmp_path, flips):
    data = bytearray(valid_bytes())
    for position, xor in flips:
        data[position] ^= xor
    path = tmp_path / "flipped.safetensors"
    path.write_bytes(bytes(data))
    try:
        ckpt = load_checkpoint(path, with_optimizers=True)
    except CheckpointError as e:
        assert str(path) in str(e)
        return
    for tensor in ckpt.model.state_dict().values():
        assert torch.isfinite(tensor).all()


def test_valid_bytes_do_load(tmp_path):
    path = tmp_path / "ok.safetensors"
    path.write_bytes(valid_bytes())
    assert load_checkpoint(path, with_optimizers=True).vectors["v"]["description"] == "d"


# -- hostile metadata --------------------------------------------------------------------------------
@pytest.fixture
def builds(monkeypatch):
    """Devices every build_model call asked for; anything but "meta" allocates real memory."""
    devices, real = [], registry.build_model

    def spy(kind, config, device=None):
        devices.append(str(device))
        return real(kind, config, device)
    monkeypatch.setattr(registry, "build_model", spy)
    return devices


def rewrite(path, tensors=None, **changes):
    """Re-emit a checkpoint with some metadata values changed (None removes one) or other tensors."""
    meta = dict(read_header(path)["__metadata__"])
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    tensors = safetensors.torch.load_file(path) if tensors is None else tensors
    safetensors.torch.save_file(tensors, path, metadata=meta)
    return path


def config_json(**changes):
    base = {"arch": "mlp", "image_shape": [1, 4, 4], "latent_dim": 2, "hidden": 8, "beta": 1.0,
            "likelihood": "bernoulli", "width": 32, "cond_dim": 0}
    return json.dumps({**base, **changes})


HOSTILE_METADATA = {
    "unknown-kind": ({"kind": "transformer"}, "unknown model kind 'transformer'"),
    "no-kind": ({"kind": None}, "no model kind"),
    "negative-latent": ({"config": config_json(latent_dim=-1)}, "latent_dim"),
    "huge-latent": ({"config": config_json(latent_dim=10 ** 9)}, "latent_dim"),
    "400-digit-beta": ({"config": config_json().replace("1.0", "9" * 400)}, "config beta is out of range"),
    "nan-beta": ({"config": config_json().replace("1.0", "NaN")}, "beta must be a finite number"),
    "cvae-without-condition": ({"kind": "cvae"}, "cond_dim"),
    "latent-as-string": ({"config": config_json(latent_dim="8")}, "latent_dim must be int"),
    "unknown-config-key": ({"config": config_json(module="os.system")}, "unknown config keys: module"),
    "config-a-list": ({"config": "[1, 2]"}, "config must be a JSON object"),
    "config-not-json": ({"config": "{oops"}, "config is not valid JSON"),
    "no-config": ({"config": None}, "no config"),
    "50MB-config": ({"config": json.dumps({"latent_dim": 2, "junk": "x" * 50_000_000})},
                    "over the 65536 limit"),
    "dataset-a-list": ({"dataset": "[1, 2]"}, "dataset must be a JSON object"),
    "history-values-not-lists": ({"history": '{"loss": 5}'}, "history 'loss' must be a list"),
    "history-not-json": ({"history": "nan nan"}, "history is not valid JSON"),
    "train-state-a-string": ({"train_state": '"resume"'}, "train_state must be a JSON object"),
    "vectors-not-objects": ({"vectors": '{"v": 3}'}, "vectors 'v' must be an object"),
    "optim-a-number": ({"optim": "5"}, "optim must be a JSON object"),
    "no-format": ({"format": None}, "not a Latent Atlas checkpoint"),
    "other-format": ({"format": "diffusers"}, "not a Latent Atlas checkpoint"),
    "future-version": ({"format_version": "2"}, "format_version '2' is not supported"),
    "billions-of-parameters": ({"config": config_json(image_shape=[3, 512, 512], hidden=8192)},
                               "over the 200,000,000 limit"),
}


@pytest.mark.parametrize("case", HOSTILE_METADATA)
def test_hostile_metadata_is_refused_before_any_allocation(tmp_path, case, builds):
    changes, expected = HOSTILE_METADATA[case]
    path = rewrite(save_checkpoint(tmp_path / "m.safetensors", tiny_model()), **changes)
    builds.clear()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert str(path) in str(err.value) and expected in str(err.value)
    assert all(device == "meta" for device in builds), builds


def test_the_build_spy_does_see_real_builds(tmp_path, builds):
    """Negative control for the test above: a good load does build on a real device."""
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model())
    builds.clear()
    load_checkpoint(path)
    assert builds == ["meta", "None"]


def test_a_mismatched_config_is_reported_tensor_by_tensor(tmp_path, builds):
    torch.manual_seed(0)
    model = registry.build_model("vae", registry.make_config("vae", {"latent_dim": 8}))
    path = save_checkpoint(tmp_path / "m.safetensors", model)
    config = json.loads(read_header(path)["__metadata__"]["config"])
    rewrite(path, config=json.dumps({**config, "latent_dim": 16}))
    builds.clear()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert str(path) in message
    assert "fc_mu.weight: file [8, 256], model [16, 256]" in message
    assert "fc_logvar.bias: file [8], model [16]" in message
    assert "dec_fc.0.weight: file [256, 8], model [256, 16]" in message
    assert builds == ["meta"]


def test_missing_and_unexpected_weights_are_listed_with_a_count(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model())
    rewrite(path, kind="gan", config=json.dumps({"image_shape": [1, 28, 28], "latent_dim": 8, "width": 4,
                                                 "cond_dim": 0}))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert "missing from the file: discriminator.main.0.weight" in message and "more" in message
    assert "not in the model: fc1.bias" in message


def test_integer_buffers_stored_as_floats_are_refused(tmp_path):
    torch.manual_seed(0)
    gan = registry.build_model("gan", registry.make_config("gan", {"image_shape": [1, 16, 16], "width": 4}))
    path = save_checkpoint(tmp_path / "g.safetensors", gan)
    tensors = safetensors.torch.load_file(path)
    tensors["model.generator.main.1.num_batches_tracked"] = torch.tensor(0.0)
    rewrite(path, tensors=tensors)
    with pytest.raises(CheckpointError, match="num_batches_tracked: file holds floats, model expects int"):
        load_checkpoint(path)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_in_a_file_are_refused(tmp_path, builds, bad):
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model())
    tensors = safetensors.torch.load_file(path)
    tensors["model.fc3.weight"][0, 1] = bad
    rewrite(path, tensors=tensors)
    builds.clear()
    with pytest.raises(CheckpointError, match=r"m\.safetensors: tensor model\.fc3\.weight has NaN/Inf"):
        load_checkpoint(path)
    assert builds == ["meta"]


def test_non_finite_vectors_in_a_file_are_refused(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model(), vectors={"v": {"vector": torch.ones(2)}})
    tensors = safetensors.torch.load_file(path)
    tensors["vector.v"][0] = float("nan")
    rewrite(path, tensors=tensors)
    with pytest.raises(CheckpointError, match="vector 'v' has NaN/Inf"):
        load_checkpoint(path)


def test_unexpected_tensor_names_are_refused(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model())
    tensors = safetensors.torch.load_file(path)
    tensors["payload.blob"] = torch.zeros(4, dtype=torch.uint8)
    rewrite(path, tensors=tensors)
    with pytest.raises(CheckpointError, match="unexpected tensor 'payload.blob'"):
        load_checkpoint(path)


def test_malformed_optimizer_metadata_is_refused_when_optimizers_are_asked_for(tmp_path):
    model = tiny_model()
    path = save_checkpoint(tmp_path / "m.safetensors", model, optimizers=model.make_optimizers(1e-3))
    rewrite(path, optim=json.dumps({"model": {"param_groups": [{"params": "all"}], "scalars": {}}}))
    load_checkpoint(path)                                  # weights alone still load
    with pytest.raises(CheckpointError, match="malformed param group"):
        load_checkpoint(path, with_optimizers=True)


def test_optimizer_state_of_the_wrong_shape_is_refused(tmp_path):
    model = tiny_model()
    opts = model.make_optimizers(1e-3)
    model.train_step(torch.rand(2, 1, 4, 4), None, opts)
    path = save_checkpoint(tmp_path / "m.safetensors", model, optimizers=opts)
    tensors = safetensors.torch.load_file(path)
    other_shape = next(t.shape for t in model.state_dict().values() if t.shape != (8, 16) and t.dim() > 0)
    tensors["optim.model.0.exp_avg"] = torch.zeros(other_shape)     # another parameter's shape
    rewrite(path, tensors=tensors)
    with pytest.raises(CheckpointError, match=r"optimizer 'model' exp_avg of parameter 0: file \[.*\], model "
                                              r"\[8, 16\]"):
        load_checkpoint(path, with_optimizers=True)
    tensors["optim.model.0.exp_avg"] = torch.zeros(3, 3)           # no parameter's shape: refused from the header
    rewrite(path, tensors=tensors)
    with pytest.raises(CheckpointError, match=r"'optim.model.0.exp_avg' has shape \[3, 3\], which no parameter"):
        load_checkpoint(path, with_optimizers=True)


def test_a_failed_load_leaves_the_previous_model_alone(tmp_path):
    good = load_checkpoint(save_checkpoint(tmp_path / "good.safetensors", tiny_model()))
    before = {k: v.clone() for k, v in good.model.state_dict().items()}
    bad = write_raw(tmp_path / "bad.safetensors", {"a": f32(2, 0)}, b"\0" * 8)
    with pytest.raises(CheckpointError):
        load_checkpoint(bad)
    assert all(torch.equal(before[k], v) for k, v in good.model.state_dict().items())
