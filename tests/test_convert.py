"""Converting the PyTorch examples' VAE and DCGAN checkpoints: the result decodes exactly as the original."""
from __future__ import annotations

import pytest
import safetensors.torch
import torch
import torch.nn.functional as F
from torch import nn

import latent_atlas.models.checkpoints.convert as convert_module
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint, save_checkpoint
from latent_atlas.models.checkpoints.convert import ARCHS, convert_checkpoint
from latent_atlas.models.errors import CheckpointError
from latent_atlas.models.registry import build_model, make_config


# -- the original networks, as in github.com/pytorch/examples (vae/main.py, dcgan/main.py) -----------
class ExampleVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))


class Generator(nn.Module):
    def __init__(self, nz, ngf, nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh()
        )

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self, ndf, nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid()
        )

    def forward(self, input):
        output = self.main(input)
        return output.view(-1, 1).squeeze(1)


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find('BatchNorm') != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


def trained_batchnorm(net, shape):
    """A few training-mode passes, so running statistics are not the trivial 0 / 1 and the test bites."""
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(*shape))
    return net.eval()


# -- VAE ---------------------------------------------------------------------------------------------
def test_example_vae_converts_and_decodes_exactly_as_the_original(tmp_path):
    torch.manual_seed(0)
    original = ExampleVAE().eval()
    torch.save(original.state_dict(), tmp_path / "vae.pth")
    out = convert_checkpoint(tmp_path / "vae.pth", "pytorch-vae", tmp_path / "vae.safetensors")
    ckpt = load_checkpoint(out)
    assert ckpt.kind == "vae"
    cfg = ckpt.config
    assert (cfg.arch, cfg.hidden, cfg.latent_dim, cfg.image_shape) == ("mlp", 400, 20, (1, 28, 28))
    assert (cfg.likelihood, cfg.beta) == ("bernoulli", 1.0)
    assert ckpt.dataset["name"] == "unknown (converted from vae.pth)"
    assert ckpt.dataset["image_shape"] == [1, 28, 28]
    z = torch.randn(16, 20)
    with torch.no_grad():
        expected = original.decode(z).view(-1, 1, 28, 28)
        got = ckpt.model.decode(z)
        assert got.shape == (16, 1, 28, 28)
        assert torch.allclose(got, expected, atol=1e-6)
        x = torch.rand(4, 1, 28, 28)
        mu, logvar = ckpt.model.encode(x)
        mu0, logvar0 = original.encode(x.view(-1, 784))
        assert torch.allclose(mu, mu0, atol=1e-6) and torch.allclose(logvar, logvar0, atol=1e-6)


@pytest.mark.parametrize("wrap", ["state_dict", "model", "module", "plain-safetensors"])
def test_wrapped_and_dataparallel_state_dicts_convert(tmp_path, wrap):
    torch.manual_seed(1)
    original = ExampleVAE()
    sd = original.state_dict()
    src = tmp_path / "vae.ckpt"
    if wrap == "module":
        torch.save({f"module.{k}": v for k, v in sd.items()}, src)
    elif wrap == "plain-safetensors":
        safetensors.torch.save_file(dict(sd), src)
    else:
        torch.save({wrap: sd, "epoch": 10, "args": {"lr": 1e-3}}, src)
    model = load_checkpoint(convert_checkpoint(src, "pytorch-vae", tmp_path / "o.safetensors")).model
    z = torch.randn(3, 20)
    with torch.no_grad():
        assert torch.allclose(model.decode(z), original.decode(z).view(-1, 1, 28, 28), atol=1e-6)


def test_vae_with_three_channels_and_other_sizes(tmp_path):
    torch.manual_seed(2)
    net = ExampleVAE()
    net.fc1, net.fc4 = nn.Linear(3 * 16 * 16, 400), nn.Linear(400, 3 * 16 * 16)
    torch.save(net.state_dict(), tmp_path / "rgb.pt")
    with pytest.raises(CheckpointError, match="768 inputs, which is not 1 x H x H"):
        convert_checkpoint(tmp_path / "rgb.pt", "pytorch-vae", tmp_path / "o.safetensors")
    with pytest.raises(CheckpointError, match="not 32 x 32"):
        convert_checkpoint(tmp_path / "rgb.pt", "pytorch-vae", tmp_path / "o.safetensors",
                           channels=3, image_size=32)
    ckpt = load_checkpoint(convert_checkpoint(tmp_path / "rgb.pt", "pytorch-vae", tmp_path / "o.safetensors",
                                              channels=3))
    assert ckpt.config.image_shape == (3, 16, 16)
    z = torch.randn(2, 20)
    with torch.no_grad():
        assert torch.allclose(ckpt.model.decode(z), net.decode(z).view(-1, 3, 16, 16), atol=1e-6)


# -- DCGAN -------------------------------------------------------------------------------------------
def make_dcgan(nz, ngf, nc, seed=0):
    torch.manual_seed(seed)
    net_g, net_d = Generator(nz, ngf, nc), Discriminator(ngf, nc)
    net_g.apply(weights_init)
    net_d.apply(weights_init)
    return trained_batchnorm(net_g, (8, nz, 1, 1)), trained_batchnorm(net_d, (8, nc, 64, 64))


@pytest.mark.parametrize("nz,ngf,nc", [(100, 64, 3), (100, 64, 1), (16, 8, 3)])
def test_example_dcgan_converts_and_decodes_exactly_as_the_original(tmp_path, nz, ngf, nc):
    net_g, net_d = make_dcgan(nz, ngf, nc)
    torch.save(net_g.state_dict(), tmp_path / "netG_epoch_24.pth")
    torch.save(net_d.state_dict(), tmp_path / "netD_epoch_24.pth")
    out = convert_checkpoint(tmp_path / "netG_epoch_24.pth", "pytorch-dcgan", tmp_path / "gan.safetensors",
                             discriminator=tmp_path / "netD_epoch_24.pth")
    ckpt = load_checkpoint(out)
    assert ckpt.kind == "gan"
    assert ckpt.config.image_shape == (nc, 64, 64)
    assert ckpt.config.latent_dim == nz and ckpt.config.width == ngf
    assert ckpt.dataset["discriminator"] == "converted from netD_epoch_24.pth"
    z = torch.randn(4, nz)
    with torch.no_grad():
        expected = (net_g(z.view(4, nz, 1, 1)) + 1) / 2
        got = ckpt.model.decode(z)
        assert got.shape == (4, nc, 64, 64)
        assert torch.allclose(got, expected, atol=1e-6)
        x = torch.rand(4, nc, 64, 64) * 2 - 1
        assert torch.allclose(torch.sigmoid(ckpt.model.discriminator(x)), net_d(x), atol=1e-6)
        assert torch.allclose(ckpt.model.realness((x + 1) / 2), net_d(x) / (1 - net_d(x)), rtol=1e-4)


def test_dcgan_without_discriminator_is_flagged_and_reproducible(tmp_path):
    net_g, _ = make_dcgan(16, 8, 1)
    torch.save(net_g.state_dict(), tmp_path / "netG.pth")
    outs = [convert_checkpoint(tmp_path / "netG.pth", "pytorch-dcgan", tmp_path / f"{n}.safetensors")
            for n in "ab"]
    first, second = (load_checkpoint(out) for out in outs)
    assert first.dataset["discriminator"] == "not converted"
    z = torch.randn(2, 16)
    with torch.no_grad():
        assert torch.allclose(first.model.decode(z), (net_g(z.view(2, 16, 1, 1)) + 1) / 2, atol=1e-6)
    for key, value in first.model.discriminator.state_dict().items():
        assert torch.equal(value, second.model.discriminator.state_dict()[key])


def test_dcgan_checks_sizes_and_widths(tmp_path):
    net_g, _ = make_dcgan(16, 8, 3)
    torch.save(net_g.state_dict(), tmp_path / "netG.pth")
    torch.save(Discriminator(16, 3).state_dict(), tmp_path / "netD.pth")
    with pytest.raises(CheckpointError, match="makes 64 x 64 images, not 32 x 32"):
        convert_checkpoint(tmp_path / "netG.pth", "pytorch-dcgan", tmp_path / "o.safetensors", image_size=32)
    with pytest.raises(CheckpointError, match="3-channel images, not 1"):
        convert_checkpoint(tmp_path / "netG.pth", "pytorch-dcgan", tmp_path / "o.safetensors", channels=1)
    with pytest.raises(CheckpointError, match="ndf=16 differs from the generator's ngf=8"):
        convert_checkpoint(tmp_path / "netG.pth", "pytorch-dcgan", tmp_path / "o.safetensors",
                           discriminator=tmp_path / "netD.pth")
    with pytest.raises(CheckpointError, match="not the PyTorch example VAE"):
        convert_checkpoint(tmp_path / "netG.pth", "pytorch-vae", tmp_path / "o.safetensors")
    torch.save(ExampleVAE().state_dict(), tmp_path / "vae.pth")
    with pytest.raises(CheckpointError, match="not a DCGAN generator"):
        convert_checkpoint(tmp_path / "vae.pth", "pytorch-dcgan", tmp_path / "o.safetensors")
    assert not (tmp_path / "o.safetensors").exists()


def test_a_32_pixel_generator_is_inferred_from_its_layer_count(tmp_path):
    torch.manual_seed(3)
    net = Generator(10, 4, 1)
    net.main = nn.Sequential(                      # the example with one upsampling block fewer: 4 -> 32
        nn.ConvTranspose2d(10, 16, 4, 1, 0, bias=False), nn.BatchNorm2d(16), nn.ReLU(True),
        nn.ConvTranspose2d(16, 8, 4, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(True),
        nn.ConvTranspose2d(8, 4, 4, 2, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU(True),
        nn.ConvTranspose2d(4, 1, 4, 2, 1, bias=False), nn.Tanh())
    net = trained_batchnorm(net, (4, 10, 1, 1))
    torch.save(net.state_dict(), tmp_path / "g32.pth")
    out = convert_checkpoint(tmp_path / "g32.pth", "pytorch-dcgan", tmp_path / "o.safetensors")
    ckpt = load_checkpoint(out)
    assert ckpt.config.image_shape == (1, 32, 32)
    z = torch.randn(2, 10)
    with torch.no_grad():
        assert torch.allclose(ckpt.model.decode(z), (net(z.view(2, 10, 1, 1)) + 1) / 2, atol=1e-6)


# -- refusals ----------------------------------------------------------------------------------------
def test_a_whole_pickled_module_is_refused(tmp_path):
    torch.save(ExampleVAE(), tmp_path / "whole.pth")
    with pytest.raises(CheckpointError, match="weights_only load refused it"):
        convert_checkpoint(tmp_path / "whole.pth", "pytorch-vae", tmp_path / "o.safetensors")


@pytest.mark.parametrize("obj,expected", [
    ([torch.ones(2)], "holds a list, not a state dict"),
    ({"fc1.weight": torch.ones(2), "epoch": 3}, "entry 'epoch' is a int"),
    ({}, "holds an empty dict, no tensors"),
    ({"state_dict": {"a": 1}}, "entry 'state_dict' is a dict"),
])
def test_anything_but_a_state_dict_is_refused(tmp_path, obj, expected):
    torch.save(obj, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match=expected):
        convert_checkpoint(tmp_path / "x.pt", "pytorch-vae", tmp_path / "o.safetensors")


def test_old_torch_is_refused_before_loading(tmp_path, monkeypatch):
    torch.save(ExampleVAE().state_dict(), tmp_path / "vae.pth")
    calls = []
    monkeypatch.setattr(torch, "__version__", "2.5.1")
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(1))
    with pytest.raises(CheckpointError, match=r"older than 2\.6.*CVE-2025-32434.*upgrade torch"):
        convert_checkpoint(tmp_path / "vae.pth", "pytorch-vae", tmp_path / "o.safetensors")
    assert calls == []


@pytest.mark.parametrize("version,safe", [("2.6.0", True), ("2.13.0+cpu", True), ("2.5.1+cu121", False),
                                          ("1.13.1", False), ("garbage", False), ("3.0.0", True)])
def test_torch_version_gate(version, safe):
    assert convert_module.torch_is_safe(version) is safe


def test_bad_arguments_and_files(tmp_path):
    torch.save(ExampleVAE().state_dict(), tmp_path / "vae.pth")
    with pytest.raises(CheckpointError, match="unknown architecture 'pytorch-unet'"):
        convert_checkpoint(tmp_path / "vae.pth", "pytorch-unet", tmp_path / "o.safetensors")
    with pytest.raises(CheckpointError, match="no such file"):
        convert_checkpoint(tmp_path / "missing.pth", "pytorch-vae", tmp_path / "o.safetensors")
    with pytest.raises(CheckpointError, match="only goes with --arch pytorch-dcgan"):
        convert_checkpoint(tmp_path / "vae.pth", "pytorch-vae", tmp_path / "o.safetensors",
                           discriminator=tmp_path / "vae.pth")
    with pytest.raises(CheckpointError, match="overwrite an input"):
        convert_checkpoint(tmp_path / "vae.pth", "pytorch-vae", tmp_path / "vae.pth")
    (tmp_path / "notes.pth").write_text("just some text")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        convert_checkpoint(tmp_path / "notes.pth", "pytorch-vae", tmp_path / "o.safetensors")
    small = build_model("vae", make_config("vae", {"arch": "mlp", "hidden": 8, "latent_dim": 2}))
    ours = save_checkpoint(tmp_path / "ours.safetensors", small)
    with pytest.raises(CheckpointError, match="already a Latent Atlas checkpoint"):
        convert_checkpoint(ours, "pytorch-vae", tmp_path / "o.safetensors")
    assert set(ARCHS) == {"pytorch-vae", "pytorch-dcgan", "zoo-vae", "zoo-cvae"}


def test_non_finite_weights_are_not_converted(tmp_path):
    net = ExampleVAE()
    with torch.no_grad():
        net.fc4.weight[0, 0] = float("nan")
    torch.save(net.state_dict(), tmp_path / "nan.pth")
    with pytest.raises(CheckpointError, match="fc4.weight has NaN/Inf"):
        convert_checkpoint(tmp_path / "nan.pth", "pytorch-vae", tmp_path / "o.safetensors")
    assert not (tmp_path / "o.safetensors").exists()
