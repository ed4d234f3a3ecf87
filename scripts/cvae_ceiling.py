"""Where a Fashion-MNIST CVAE's conditional accuracy is lost: in the decoder or in the sampling.

    python scripts/cvae_ceiling.py resources/models/fashion_cvae.safetensors [--n 5000]

For a CVAE conditioned on the 10 classes, prints the bundled classifier's accuracy on (per class too):
the real test images, sharp and blurred; their reconstructions (encoded and decoded with their own class:
the ceiling no sampling can pass); prior samples at temperature 1, 0.8, 0.6 and 0; and samples whose z is
drawn from a 10-component Gaussian mixture fitted, per class, to the posterior means of 20,000 training
images (a prior fitted after training). The last two lines judge the real images and the prior samples by a
second, unrelated classifier trained on the spot (LeNet-5 style, the same 20,000 training images, 4 epochs):
a check that what the bundled classifier sees is not peculiar to it. docs/quality.md has the numbers.
Under a minute on 2 cores.
"""
from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.data import load_dataset
from latent_atlas.models.quality.classifier import load_classifier
from latent_atlas.models.quality.features import classify


def _line(name: str, predicted: torch.Tensor, labels: torch.Tensor) -> str:
    per_class = " ".join(f"{(predicted[labels == k] == k).float().mean().item():.2f}" for k in range(10))
    return f"{name:<28} {(predicted == labels).float().mean().item():.3f}   {per_class}"


def _images(split: str, limit: int):
    data = load_dataset("fashion-mnist", split=split, limit=limit)
    labels = torch.from_numpy(data.labels).long()
    return torch.from_numpy(data.images).float() / 255.0, labels, F.one_hot(labels, 10).float()


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = torch.arange(-2, 3, dtype=torch.float32)
    k = torch.exp(-r ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="replicate"), k.view(1, 1, 1, 5))
    return F.conv2d(F.pad(x, (0, 0, 2, 2), mode="replicate"), k.view(1, 1, 5, 1))


def _train_lenet(x: torch.Tensor, y: torch.Tensor, seed: int, epochs: int = 4) -> torch.nn.Module:
    from torch import nn

    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    with torch.enable_grad():
        for _ in range(epochs):
            order = torch.randperm(len(x))
            for i in range(0, len(x), 128):
                batch = order[i:i + 128]
                loss = F.cross_entropy(net(x[batch]), y[batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
    return net.eval()


def _predict(net: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    return torch.cat([net(images[i:i + 1000]).argmax(1) for i in range(0, len(images), 1000)])


@torch.no_grad()
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("--n", type=int, default=5000, help="test images and samples")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    model = load_checkpoint(args.checkpoint).model.float().eval()
    if model.cond_dim != 10 or not model.can_encode or tuple(model.image_shape) != (1, 28, 28):
        print(f"{args.checkpoint}: needs a 28x28 CVAE conditioned on the 10 Fashion-MNIST classes",
              file=sys.stderr)
        return 1
    classifier = load_classifier()
    x, y, c = _images("test", args.n)
    print(f"{'':<28} all     " + " ".join(f"{k:>4}" for k in range(10)))
    print(_line("real test images", classify(classifier, x), y))
    for sigma in (0.5, 1.0):   # how much blur alone costs: a VAE's mean image is a blurred one
        print(_line(f"real, Gaussian blur s={sigma} px", classify(classifier, _blur(x, sigma)), y))
    mu, _ = model.encode(x, c)
    print(_line("reconstructions", classify(classifier, model.decode(mu, c)), y))

    g = torch.Generator().manual_seed(args.seed)
    z = torch.randn(args.n, model.latent_dim, generator=g)
    labels = torch.arange(args.n) % 10
    cond = F.one_hot(labels, 10).float()
    for t in (1.0, 0.8, 0.6, 0.0):
        print(_line(f"prior samples, T = {t}", classify(classifier, model.decode(z * t, cond)), labels))

    from sklearn.mixture import GaussianMixture

    x_train, y_train, c_train = _images("train", 20_000)
    mu_train = torch.cat([model.encode(x_train[i:i + 1000], c_train[i:i + 1000])[0]
                          for i in range(0, len(x_train), 1000)]).numpy()
    z_fitted = np.zeros((args.n, model.latent_dim), dtype=np.float32)
    for k in range(10):
        gmm = GaussianMixture(10, covariance_type="full", reg_covar=1e-4, random_state=args.seed)
        gmm.fit(mu_train[y_train.numpy() == k])
        with warnings.catch_warnings():   # numpy's PSD check on float32 round-off of a fitted covariance
            warnings.simplefilter("ignore", RuntimeWarning)
            z_fitted[labels.numpy() == k] = gmm.sample(int((labels == k).sum()))[0]
    predicted = classify(classifier, model.decode(torch.from_numpy(z_fitted), cond))
    print(_line("per-class GMM prior samples", predicted, labels))

    # a second judge that shares nothing with the classifier (or with a CVAE's condition reader): a
    # LeNet-5-style network (5x5 convs, max-pooling) trained here on the same 20,000 training images
    judge = _train_lenet(x_train, y_train, seed=args.seed)
    print(_line("real test images, LeNet", _predict(judge, x), y))
    print(_line("prior samples, LeNet", _predict(judge, model.decode(z, cond)), labels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
