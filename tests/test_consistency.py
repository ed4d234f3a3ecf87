"""The CVAE's condition-consistency term: what it trains, what it leaves alone, and that it is saved."""
from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from latent_atlas.models.checkpoints.checkpoint import load_checkpoint, save_checkpoint
from latent_atlas.models.config import VAEConfig, config_from_dict
from latent_atlas.models.errors import ConfigError
from latent_atlas.models.model_factory import make_model_config
from latent_atlas.models.registry import build_model
from latent_atlas.models.training.consistency import condition_nll


def _cvae(consistency=2.0, cond_dim=4, shape=(1, 8, 8)):
    torch.manual_seed(0)
    return build_model("cvae", VAEConfig(image_shape=shape, latent_dim=3, width=8, hidden=16, cond_dim=cond_dim,
                                         consistency=consistency))


def _batch(n=12, cond_dim=4):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, 1, 8, 8, generator=g)
    return x, F.one_hot(torch.arange(n) % cond_dim, cond_dim).float()


def test_config_rejects_consistency_without_a_condition_and_out_of_range():
    with pytest.raises(ConfigError, match="conditional VAE"):
        VAEConfig(consistency=1.0).check()
    with pytest.raises(ConfigError, match="consistency must be within"):
        VAEConfig(cond_dim=2, consistency=-1.0).check()
    with pytest.raises(ConfigError, match="applies to a CVAE"):
        make_model_config("vae", (1, 8, 8), consistency=1.0)
    kind, cfg = make_model_config("cvae", (1, 8, 8), cond_dim=10, consistency=3)
    assert kind == "cvae" and cfg.consistency == 3.0
    # checkpoints written before the term existed have no such key: they load with it off
    old = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "consistency"}
    assert config_from_dict(VAEConfig, {**old, "image_shape": [1, 8, 8]}).consistency == 0.0


def test_loss_adds_both_terms_and_keeps_the_true_elbo():
    model, (x, c) = _cvae(consistency=2.0), _batch()
    torch.manual_seed(5)
    terms = model.loss(x, c)
    assert {"reader", "consistency"} <= set(terms)
    expected = terms["recon"] + model.config.beta * terms["kl"] + terms["reader"] + 2.0 * terms["consistency"]
    assert torch.allclose(terms["loss"], expected)
    assert torch.allclose(terms["elbo"], -(terms["recon"] + terms["kl"]))
    plain = _cvae(consistency=0.0)
    assert not hasattr(plain, "condition_reader") and "consistency" not in plain.loss(x, c)


def test_the_reader_learns_only_from_real_images_and_the_decoder_only_from_the_consistency_term():
    model, (x, c) = _cvae(), _batch()
    terms = model.loss(x, c)
    reader = list(model.condition_reader.parameters())
    decoder = list(model.decoder.parameters()) + list(model.dec_fc.parameters())
    grads = torch.autograd.grad(terms["consistency"], reader + decoder, allow_unused=True)
    assert all(g is None or not g.any() for g in grads[:len(reader)])      # the reader is held fixed
    assert any(g is not None and g.abs().sum() > 0 for g in grads[len(reader):])
    grads = torch.autograd.grad(terms["reader"], reader + decoder, allow_unused=True)
    assert all(g is not None for g in grads[:len(reader)])
    assert all(g is None for g in grads[len(reader):])                       # real images: no decoder


def test_condition_nll_is_cross_entropy_for_labels_and_bce_for_attributes():
    logits = torch.randn(6, 3)
    labels = F.one_hot(torch.tensor([0, 1, 2, 0, 1, 2]), 3).float()
    assert torch.allclose(condition_nll(logits, labels, "labels"), F.cross_entropy(logits, labels.argmax(1)))
    attributes = torch.tensor([[1, 1, 0], [0, 0, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1], [0, 0, 1]]).float()
    assert torch.allclose(condition_nll(logits, attributes, "attributes"),
                          F.binary_cross_entropy_with_logits(logits, attributes))
    # attributes that happen to be one-hot in a batch keep their own loss: the model's kind decides, not the batch
    assert torch.allclose(condition_nll(logits, labels, "attributes"),
                          F.binary_cross_entropy_with_logits(logits, labels))


@pytest.mark.slow      # several seconds: the default run stays under CI's 5 minutes
def test_training_makes_samples_readable_as_their_condition():
    """On the 8x8 digits, with a low beta and a wide z (so z can carry the class and override the condition):
    with the term, an independent judge (logistic regression on the real training digits) reads prior
    samples under label y as y far more often. The reader itself must be right on held-out real digits."""
    from sklearn.linear_model import LogisticRegression

    from latent_atlas.models.data import load_dataset
    from latent_atlas.models.training.events import TrainConfig
    from latent_atlas.models.training.trainer import Trainer
    from latent_atlas.models.training.training_data import training_tensors

    train = load_dataset("digits", split="train", seed=0)
    test = load_dataset("digits", split="test", seed=0)
    images, cond, _ = training_tensors(train, True)
    judge = LogisticRegression(max_iter=2000).fit(images.flatten(1).numpy(), cond.argmax(1).numpy())
    y = torch.arange(500) % 10
    z = torch.randn(500, 16, generator=torch.Generator().manual_seed(2))
    read = {}
    for w in (0.0, 5.0):
        _, cfg = make_model_config("cvae", train.image_shape, cond_dim=10, latent_dim=16, beta=0.1, consistency=w)
        torch.manual_seed(0)
        model = build_model("cvae", cfg)
        for _ in Trainer(model, images, cond, TrainConfig(epochs=8, batch_size=64, lr=2e-3, seed=0)).run():
            pass
        with torch.no_grad():
            samples = model.eval().decode(z, F.one_hot(y, 10).float())
        read[w] = judge.score(samples.flatten(1).numpy(), y.numpy())
    with torch.no_grad():
        real = model.condition_reader(torch.from_numpy(test.images).float() / 255.0).argmax(1).numpy()
    assert (real == test.labels).mean() > 0.9
    assert read[0.0] < 0.8 and read[5.0] > 0.95, read


def test_checkpoint_keeps_the_reader_and_the_weight(tmp_path):
    model = _cvae(consistency=1.5)
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model)
    loaded = load_checkpoint(path).model
    assert loaded.config.consistency == 1.5
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name
    assert any(name.startswith("condition_reader.") for name in loaded.state_dict())


@pytest.mark.parametrize("bad, message", [({"condition_kind": "evil"}, "condition_kind must be"),
                                          ({"consistency": float("nan")}, "finite"),
                                          ({"consistency": 1e9}, "consistency must be within"),
                                          ({"consistency": "3"}, "config consistency must be float"),
                                          ({"consistency": 2.0, "cond_dim": 0}, "conditional VAE")])
def test_a_hostile_header_cannot_ask_for_a_bad_consistency_setting(bad, message):
    data = {**dataclasses.asdict(VAEConfig(cond_dim=4)), "image_shape": [1, 8, 8], **bad}
    with pytest.raises(ConfigError, match=message):
        config_from_dict(VAEConfig, data)


def test_resuming_with_the_other_kind_of_condition_is_refused():
    """One rule (run_spec.check_resume_data) for every CVAE: the condition a checkpoint records is the one
    it continues on, with or without the consistency term that reads it back."""
    from types import SimpleNamespace

    from latent_atlas.models.training.run_spec import check_resume_data

    data = SimpleNamespace(image_shape=(1, 8, 8), name="faces")
    conditions = torch.zeros(5, 2)
    cfg = VAEConfig(image_shape=(1, 8, 8), cond_dim=2, consistency=1.0, condition_kind="attributes")
    for consistency in (1.0, 0.0):
        ckpt = SimpleNamespace(kind="cvae", config=dataclasses.replace(cfg, consistency=consistency),
                               dataset={"name": "faces", "condition": "attributes"})
        assert check_resume_data("c.safetensors", ckpt, data, conditions, ["a", "b"], "attributes") == []
        with pytest.raises(ConfigError, match="c.safetensors is conditioned on attributes; it cannot resume on "
                                              "labels"):
            check_resume_data("c.safetensors", ckpt, data, conditions, ["a", "b"], "labels")
