"""Converting the PyTorch-VAE zoo's checkpoints (github.com/AntixK/PyTorch-VAE): VanillaVAE / BetaVAE and
ConditionalVAE, from a real PyTorch Lightning .ckpt and from a plain state dict. The converted file must
decode and encode as the original network does (BatchNorm in eval mode, with trained statistics)."""
from __future__ import annotations

import math
import os
import time

import pytest
import torch
from torch import nn

from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.checkpoints.convert import convert_checkpoint
from latent_atlas.models.errors import CheckpointError

TOL = 1e-5
CELEBA_ATTRS = [
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
    "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby",
    "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male",
    "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose",
    "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair",
    "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
]


# -- the zoo's networks, written from its models/vanilla_vae.py and models/cvae.py ------------------
# Independent of latent_atlas.models.networks.zoo. The zoo's decode() hard-codes view(-1, 512, 2, 2);
# here it is the last width and the side its fc_mu implies, so other hidden_dims and sizes run too.
class ZooVanillaVAE(nn.Module):
    def __init__(self, in_channels: int, latent_dim: int, hidden_dims: list[int], img_size: int = 64,
                 extra_in: int = 0, extra_z: int = 0):
        super().__init__()
        self.last, self.s = hidden_dims[-1], img_size // 2 ** len(hidden_dims)
        modules, ch = [], in_channels + extra_in
        for h_dim in hidden_dims:
            modules.append(nn.Sequential(nn.Conv2d(ch, out_channels=h_dim, kernel_size=3, stride=2, padding=1),
                                         nn.BatchNorm2d(h_dim), nn.LeakyReLU()))
            ch = h_dim
        self.encoder = nn.Sequential(*modules)
        flat = hidden_dims[-1] * self.s * self.s
        self.fc_mu = nn.Linear(flat, latent_dim)
        self.fc_var = nn.Linear(flat, latent_dim)
        self.decoder_input = nn.Linear(latent_dim + extra_z, flat)
        rev = list(reversed(hidden_dims))
        self.decoder = nn.Sequential(*[nn.Sequential(
            nn.ConvTranspose2d(rev[i], rev[i + 1], kernel_size=3, stride=2, padding=1, output_padding=1),
            nn.BatchNorm2d(rev[i + 1]), nn.LeakyReLU()) for i in range(len(rev) - 1)])
        self.final_layer = nn.Sequential(
            nn.ConvTranspose2d(rev[-1], rev[-1], kernel_size=3, stride=2, padding=1, output_padding=1),
            nn.BatchNorm2d(rev[-1]), nn.LeakyReLU(),
            nn.Conv2d(rev[-1], out_channels=3, kernel_size=3, padding=1), nn.Tanh())

    def encode(self, x):
        result = torch.flatten(self.encoder(x), start_dim=1)
        return self.fc_mu(result), self.fc_var(result)

    def decode(self, z):
        result = self.decoder_input(z).view(-1, self.last, self.s, self.s)
        return self.final_layer(self.decoder(result))

    def forward(self, x, labels=None):
        mu, log_var = self.encode(x)
        return self.decode(mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)), mu, log_var


class ZooConditionalVAE(ZooVanillaVAE):
    def __init__(self, in_channels, num_classes, latent_dim, hidden_dims, img_size=64):
        super().__init__(in_channels, latent_dim, hidden_dims, img_size, extra_in=1, extra_z=num_classes)
        self.img_size = img_size
        self.embed_class = nn.Linear(num_classes, img_size * img_size)
        self.embed_data = nn.Conv2d(in_channels, in_channels, kernel_size=1)

    def encode_xy(self, x, y):
        embedded_class = self.embed_class(y).view(-1, self.img_size, self.img_size).unsqueeze(1)
        return self.encode(torch.cat([self.embed_data(x), embedded_class], dim=1))

    def decode_zy(self, z, y):
        return self.decode(torch.cat([z, y], dim=1))

    def forward(self, x, labels=None):
        mu, log_var = self.encode_xy(x, labels)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
        return self.decode_zy(z, labels), mu, log_var


def trained_statistics(net, side, cond=0, steps=3, seed=0):
    """Non-trivial BatchNorm statistics and affine parameters, as training leaves them; then eval()."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
        net.train()
        for _ in range(steps):
            x = torch.rand(8, 3, side, side, generator=g) * 1.5 + 0.2     # off-centre: running stats move
            y = (torch.rand(8, cond, generator=g) > 0.5).float() if cond else None
            net(x, labels=y)
    return net.eval()


def save_lightning(net, path, side, cond=0):
    """A real PyTorch Lightning checkpoint: the zoo's VAEXperiment holds the network as `model`, trained for
    two steps by Lightning's Trainer, and its ModelCheckpoint callback writes the file."""
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint

    class VAEXperiment(pl.LightningModule):
        def __init__(self, vae_model):
            super().__init__()
            self.model = vae_model

        def training_step(self, batch, batch_idx):
            real_img, labels = batch
            recons, mu, log_var = self.model(real_img, labels=labels if cond else None)
            kld = torch.mean(-0.5 * torch.sum(1 + log_var - mu ** 2 - log_var.exp(), dim=1), dim=0)
            return nn.functional.mse_loss(recons, real_img) + 0.00025 * kld

        def configure_optimizers(self):
            optimizer = torch.optim.Adam(self.model.parameters(), lr=0.005)
            return [optimizer], [torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.95)]

    g = torch.Generator().manual_seed(1)
    data = torch.utils.data.TensorDataset(torch.rand(8, 3, side, side, generator=g),
                                          (torch.rand(8, max(cond, 1), generator=g) > 0.5).float())
    checkpoint = ModelCheckpoint(dirpath=path.parent, filename=path.stem)
    trainer = pl.Trainer(max_steps=2, accelerator="cpu", logger=False, callbacks=[checkpoint],
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=path.parent)
    trainer.fit(VAEXperiment(net.train()), torch.utils.data.DataLoader(data, batch_size=4))
    assert path.exists(), list(path.parent.iterdir())
    return net.eval()


def compare(ckpt_model, net, side, cond=0, seed=2, output_range="unit"):
    """Max abs differences (raw decode, decode in [0, 1], mean, log-variance) on the same z, x and c."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(5, ckpt_model.latent_dim, generator=g)
    x = torch.rand(5, 3, side, side, generator=g)
    c = (torch.rand(5, cond, generator=g) > 0.5).float() if cond else None
    seen = x * 2 - 1 if output_range == "tanh" else x
    with torch.no_grad():
        ref = net.decode_zy(z, c) if cond else net.decode(z)
        mu_ref, logvar_ref = net.encode_xy(seen, c) if cond else net.encode(seen)
        raw = ckpt_model.decode_logits(z, c)
        image = ckpt_model.decode(z, c)
        mu, logvar = ckpt_model.encode(x, c)
    shown = (ref + 1) / 2 if output_range == "tanh" else ref.clamp(0, 1)
    assert image.shape == (5, 3, side, side) and 0 <= image.min() and image.max() <= 1
    return [float((a - b).abs().max()) for a, b in ((raw, ref), (image, shown), (mu, mu_ref),
                                                    (logvar, logvar_ref))]


# -- files made once for the module ------------------------------------------------------------------
@pytest.fixture(scope="module")
def zoo_files(tmp_path_factory):
    """name -> (file, original network in eval mode, image side, condition size)."""
    tmp = tmp_path_factory.mktemp("zoo")
    torch.manual_seed(0)
    files = {}
    net = save_lightning(trained_statistics(ZooVanillaVAE(3, 7, [16, 32, 64], img_size=32), 32),
                         tmp / "vae" / "vae.ckpt", 32)
    files["lightning vae 32x32 z7"] = (tmp / "vae" / "vae.ckpt", net, 32, 0)
    net = save_lightning(trained_statistics(ZooConditionalVAE(3, 40, 9, [8, 16, 32], img_size=16), 16, cond=40),
                         tmp / "cvae" / "cvae.ckpt", 16, cond=40)
    files["lightning cvae 16x16 z9 c40"] = (tmp / "cvae" / "cvae.ckpt", net, 16, 40)
    net = trained_statistics(ZooVanillaVAE(3, 128, [32, 64, 128, 256, 512], img_size=64), 64, steps=2)
    torch.save(net.state_dict(), tmp / "vae_default.pt")
    files["state dict vae 64x64 z128 (the zoo's defaults)"] = (tmp / "vae_default.pt", net, 64, 0)
    net = trained_statistics(ZooConditionalVAE(3, 5, 3, [4, 8, 16, 24], img_size=32), 32, cond=5)
    torch.save(net.state_dict(), tmp / "cvae.pt")
    files["state dict cvae 32x32 z3 c5"] = (tmp / "cvae.pt", net, 32, 5)
    return files


CASES = ["lightning vae 32x32 z7", "lightning cvae 16x16 z9 c40", "state dict vae 64x64 z128 (the zoo's defaults)",
         "state dict cvae 32x32 z3 c5"]


def test_the_lightning_file_is_what_the_zoo_writes(zoo_files):
    """The fixture is a real Lightning checkpoint (read here with weights_only, as convert does)."""
    obj = torch.load(zoo_files["lightning vae 32x32 z7"][0], map_location="cpu", weights_only=True)
    assert {"epoch", "global_step", "pytorch-lightning_version", "state_dict", "loops", "callbacks",
            "optimizer_states", "lr_schedulers"} <= set(obj)
    assert obj["global_step"] == 2 and all(k.startswith("model.") for k in obj["state_dict"])
    running_var = obj["state_dict"]["model.encoder.0.1.running_var"]
    assert not torch.allclose(running_var, torch.ones_like(running_var))      # trained statistics


@pytest.mark.parametrize("name", CASES)
def test_converted_file_decodes_and_encodes_as_the_original(zoo_files, tmp_path, name):
    src, net, side, cond = zoo_files[name]
    out = convert_checkpoint(src, None, tmp_path / "out.safetensors")          # layout recognised, not named
    ckpt = load_checkpoint(out)
    model = ckpt.model
    assert (ckpt.kind, model.image_shape, model.cond_dim) == ("cvae" if cond else "vae", (3, side, side), cond)
    assert model.latent_dim == net.fc_mu.out_features and not model.training
    assert ckpt.config.hidden_dims == tuple(b[0].out_channels for b in net.encoder)
    assert ckpt.dataset["converted_arch"] == ("zoo-cvae" if cond else "zoo-vae")
    diffs = compare(model, net, side, cond)
    assert max(diffs) < TOL, diffs
    sd = model.state_dict()
    for key, value in net.state_dict().items():                              # float32, stats and counters kept
        assert sd[key].dtype == value.dtype and torch.equal(sd[key], value), key


def test_batchnorm_statistics_matter_to_the_comparison(zoo_files, tmp_path):
    """Negative control: the same weights with BatchNorm's running statistics reset decode differently by
    far more than the tolerance, so the comparison above would catch statistics lost in conversion."""
    src, net, side, _ = zoo_files["lightning vae 32x32 z7"]
    model = load_checkpoint(convert_checkpoint(src, "zoo-vae", tmp_path / "out.safetensors")).model
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
    assert max(compare(model, net, side)) > 1e-2


def test_zoo_code_before_december_2021_trained_on_minus_one_to_one(zoo_files, tmp_path):
    src, net, side, cond = zoo_files["lightning cvae 16x16 z9 c40"]
    model = load_checkpoint(convert_checkpoint(src, None, tmp_path / "o.safetensors", output_range="tanh")).model
    diffs = compare(model, net, side, cond, output_range="tanh")
    assert max(diffs) < TOL, diffs
    assert max(compare(model, net, side, cond, output_range="unit")[1:]) > 1e-2     # the mapping is used


def test_celeba_condition_names_are_kept_and_shown(zoo_files, tmp_path):
    src = zoo_files["lightning cvae 16x16 z9 c40"][0]
    header = tmp_path / "list_attr_celeba.txt"
    header.write_text("202599\n" + " ".join(CELEBA_ATTRS) + " \n000001.jpg " + " ".join(["-1"] * 40) + "\n")
    ckpt = load_checkpoint(convert_checkpoint(src, None, tmp_path / "o.safetensors", condition_names=header))
    assert ckpt.dataset["condition_names"] == CELEBA_ATTRS and ckpt.dataset["condition"] == "attributes"
    assert ckpt.config.condition_kind == "attributes"

    from latent_atlas.editor.core.loaded_model import load_for_editor
    loaded = load_for_editor(ckpt.path, device=torch.device("cpu"))
    assert loaded.condition_names == CELEBA_ATTRS and not loaded.condition_one_hot
    assert loaded.images.shape[1:] == (16, 16, 3)

    one_per_line = tmp_path / "names.txt"
    one_per_line.write_text("\n".join(CELEBA_ATTRS) + "\n")
    ckpt = load_checkpoint(convert_checkpoint(src, None, tmp_path / "p.safetensors", condition_names=one_per_line))
    assert ckpt.dataset["condition_names"] == CELEBA_ATTRS

    short = tmp_path / "short.txt"
    short.write_text(" ".join(CELEBA_ATTRS[:39]))
    with pytest.raises(CheckpointError, match=r"short\.txt: 39 condition names, but the model has 40"):
        convert_checkpoint(src, None, tmp_path / "q.safetensors", condition_names=short)
    assert not (tmp_path / "q.safetensors").exists()


def test_density_tools_work_on_a_converted_model(zoo_files, tmp_path):
    src, net, side, cond = zoo_files["state dict cvae 32x32 z3 c5"]
    model = load_checkpoint(convert_checkpoint(src, None, tmp_path / "o.safetensors")).model
    x, c = torch.rand(4, 3, side, side), torch.ones(4, cond)
    with torch.no_grad():
        terms = model.loss(x, c)
        elbo, iw = model.elbo(x, c), model.iw_log_likelihood(x, c, k=8)
        mu, _ = net.encode_xy(x, c)
        nll = model.recon_nll(model.decode_logits(mu, c), x)
        sq = (net.decode_zy(mu, c).clamp(0, 1) - x).pow(2).flatten(1).sum(1)   # the zoo's MSE, summed
    assert set(terms) >= {"loss", "recon", "kl", "elbo"} and torch.isfinite(terms["loss"])
    assert elbo.shape == iw.shape == (4,) and torch.isfinite(iw).all()
    # a unit-variance Gaussian on the image shown: 0.5 * squared error + 0.5 * D * log(2 pi)
    assert torch.allclose(nll, 0.5 * sq + 0.5 * x[0].numel() * math.log(2 * math.pi), atol=1e-3)


# -- refusals ------------------------------------------------------------------------------------------
class Payload:
    """Unpickling this creates the marker file: proof of code run from a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_ckpt_with_a_pickled_object_is_refused_and_its_code_never_runs(zoo_files, tmp_path, monkeypatch):
    real = torch.load(zoo_files["lightning vae 32x32 z7"][0], map_location="cpu", weights_only=True)
    marker = tmp_path / "marker"
    torch.save({**real, "hyper_parameters": Payload(marker)}, tmp_path / "evil.ckpt")
    real_load, calls = torch.load, []

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)
    monkeypatch.setattr(torch, "load", spy)
    with pytest.raises(CheckpointError, match=r"evil\.ckpt: not a plain tensor state dict \(weights_only load "
                                              r"refused it: .*Unsupported global: GLOBAL io\.open"):
        convert_checkpoint(tmp_path / "evil.ckpt", None, tmp_path / "o.safetensors")
    assert calls == [True] and not marker.exists() and not (tmp_path / "o.safetensors").exists()
    real_load(tmp_path / "evil.ckpt", weights_only=False)      # negative control: an unsafe load runs it
    assert marker.exists()


def test_a_lightning_file_of_another_network_gets_one_clear_line(zoo_files, tmp_path):
    real = torch.load(zoo_files["lightning vae 32x32 z7"][0], map_location="cpu", weights_only=True)
    other = {f"model.{k}": v for k, v in nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)).state_dict().items()}
    torch.save({**real, "state_dict": other}, tmp_path / "resnet.ckpt")
    with pytest.raises(CheckpointError) as err:
        convert_checkpoint(tmp_path / "resnet.ckpt", None, tmp_path / "o.safetensors")
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'resnet.ckpt'}: a Lightning checkpoint (pytorch-lightning 2.")
    assert "holds no VanillaVAE or ConditionalVAE weights" in message and "found keys like 0.weight" in message
    torch.save({**real, "state_dict": {"step": 3}}, tmp_path / "odd.ckpt")
    with pytest.raises(CheckpointError, match=r"odd\.ckpt: a Lightning checkpoint .* whose state_dict is a dict "
                                              r"that is not all tensors"):
        convert_checkpoint(tmp_path / "odd.ckpt", None, tmp_path / "o.safetensors")


def test_truncated_and_inconsistent_files(zoo_files, tmp_path):
    data = zoo_files["lightning vae 32x32 z7"][0].read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.ckpt: could not be read as a PyTorch file \(truncated"):
        convert_checkpoint(tmp_path / "cut.ckpt", None, tmp_path / "o.safetensors")

    sd = dict(zoo_files["state dict cvae 32x32 z3 c5"][1].state_dict())
    cases = {
        "no_fc_var": ({k: v for k, v in sd.items() if not k.startswith("fc_var")}, "zoo-cvae",
                      "missing: fc_var.bias, fc_var.weight"),
        "wide_decoder": ({**sd, "decoder.0.0.weight": torch.zeros(24, 99, 3, 3)}, None,
                         r"decoder\.0\.0\.weight: file \[24, 99, 3, 3\], model \[24, 16, 3, 3\]"),
        "bad_embed": ({**sd, "embed_class.weight": torch.zeros(100, 5)}, None, "embed_class makes 100 values"),
        "vae_as_cvae": (sd, "zoo-vae", "holds a ConditionalVAE, not a VanillaVAE; use --arch zoo-cvae"),
        "nan": ({**sd, "fc_mu.bias": torch.full((3,), float("nan"))}, None, "fc_mu.bias has NaN/Inf"),
    }
    for name, (state, arch, expected) in cases.items():
        torch.save(state, tmp_path / f"{name}.pt")
        with pytest.raises(CheckpointError, match=expected):
            convert_checkpoint(tmp_path / f"{name}.pt", arch, tmp_path / "o.safetensors")
    assert not (tmp_path / "o.safetensors").exists()


def test_cli_converts_and_bad_input_is_one_line(zoo_files, tmp_path, capsys):
    from latent_atlas.main import main

    src = zoo_files["lightning cvae 16x16 z9 c40"][0]
    names = tmp_path / "names.txt"
    names.write_text(" ".join(CELEBA_ATTRS))
    capsys.readouterr()
    assert main(["convert", str(src), "--out", str(tmp_path / "c.safetensors"), "--condition-names", str(names)]) == 0
    assert "c.safetensors: zoo-cvae as a cvae, 3x16x16 images, latent 9, 40 conditions" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "c.safetensors").dataset["condition_names"][-1] == "Young"

    (tmp_path / "cut.ckpt").write_bytes(src.read_bytes()[:3000])
    vae = zoo_files["lightning vae 32x32 z7"][0]
    bad = {"truncated": (["convert", tmp_path / "cut.ckpt"], tmp_path / "cut.ckpt"),
           "names for a vae": (["convert", vae, "--condition-names", names], vae),
           "missing names file": (["convert", src, "--condition-names", tmp_path / "none.txt"],
                                  tmp_path / "none.txt"),
           "text file": (["convert", names], names)}
    for case, (args, named) in bad.items():
        code = main([str(a) for a in args] + ["--out", str(tmp_path / "x.safetensors")])
        _, err = capsys.readouterr()
        lines = err.splitlines()
        assert code == 1 and len(lines) == 1, (case, err)
        assert lines[0].startswith(f"latent-atlas: error: {named}: "), (case, lines)
        assert not (tmp_path / "x.safetensors").exists(), case


def test_converting_the_zoos_default_size_is_quick(zoo_files, tmp_path):
    """The editor converts on a worker thread anyway; this bounds what the user waits for (64x64, z128,
    4.2 M parameters: about 0.1 s measured on one core)."""
    src = zoo_files["state dict vae 64x64 z128 (the zoo's defaults)"][0]
    start = time.perf_counter()
    convert_checkpoint(src, None, tmp_path / "o.safetensors")
    assert time.perf_counter() - start < 5.0
    assert os.path.getsize(tmp_path / "o.safetensors") > 4 * 3_000_000


def test_the_examples_layouts_are_recognised_without_arch(tmp_path):
    from tests.test_convert import ExampleVAE, Generator

    torch.save(ExampleVAE().state_dict(), tmp_path / "vae.pth")
    torch.save(Generator(8, 4, 3).state_dict(), tmp_path / "netG.pth")
    for name, arch in (("vae.pth", "pytorch-vae"), ("netG.pth", "pytorch-dcgan")):
        ckpt = load_checkpoint(convert_checkpoint(tmp_path / name, None, tmp_path / f"{name}.safetensors"))
        assert ckpt.dataset["converted_arch"] == arch


@pytest.mark.parametrize("values,expected", [
    ({"hidden_dims": (8, 16, 32), "image_shape": (3, 12, 12)}, "multiple of 2\\*\\*3"),
    ({"hidden_dims": (8,), "image_shape": (1, 8, 8)}, "square RGB"),
    ({"hidden_dims": ()}, "1..9 block widths"),
    ({"hidden_dims": (8, 0)}, "hidden_dims entry must be an integer within 1..2048"),
    ({"hidden_dims": (4,) * 10, "image_shape": (3, 512, 512)}, "1..9 block widths"),
    ({"hidden_dims": (8,), "output_range": "logits"}, "output_range must be 'unit' or 'tanh'"),
    ({"arch": "conv", "hidden_dims": (8,)}, "belong to arch 'zoo'"),
])
def test_a_header_cannot_ask_for_a_bad_zoo_network(values, expected):
    from latent_atlas.models.config import VAEConfig
    from latent_atlas.models.errors import ConfigError

    with pytest.raises(ConfigError, match=expected):
        VAEConfig(**{"arch": "zoo", "image_shape": (3, 16, 16), **values}).check()
