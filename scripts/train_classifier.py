"""Train the Fashion-MNIST classifier whose features the quality metrics use, once, with a fixed seed:

    python scripts/train_classifier.py [--epochs 6] [--out resources/classifier/fashion_classifier.safetensors]

Refuses to save a network below 0.92 test accuracy. About 1-2 minutes per epoch on one core of a busy CPU.
"""
from __future__ import annotations

import argparse
import sys
import time

import torch
import torch.nn.functional as F

from latent_atlas.models.data import load_dataset
from latent_atlas.models.quality.classifier import CLASSIFIER_PATH, FashionClassifier, save_classifier
from latent_atlas.models.quality.features import classify

MIN_ACCURACY = 0.92


def _tensors(split: str):
    data = load_dataset("fashion-mnist", split=split)
    if len(data) < 10_000:
        raise SystemExit(f"the full Fashion-MNIST is needed, found {data.source}")
    return torch.from_numpy(data.images).float() / 255.0, torch.from_numpy(data.labels).long()


def train(epochs: int, seed: int, batch_size: int = 128, lr: float = 3e-3) -> tuple[FashionClassifier, float]:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    x_train, y_train = _tensors("train")
    x_test, y_test = _tensors("test")
    model = FashionClassifier()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(x_train) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    for epoch in range(epochs):
        model.train()
        t0 = time.perf_counter()
        order = torch.randperm(len(x_train), generator=g)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        acc = (classify(model, x_test) == y_test).float().mean().item()
        print(f"epoch {epoch + 1}/{epochs}: test accuracy {acc:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return model, acc


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="1: on a shared CPU a second thread spin-waits")
    p.add_argument("--out", default=str(CLASSIFIER_PATH))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model, acc = train(args.epochs, args.seed)
    if acc < MIN_ACCURACY:
        print(f"test accuracy {acc:.4f} is below {MIN_ACCURACY}: not saved", file=sys.stderr)
        return 1
    out = save_classifier(model, args.out, test_accuracy=round(acc, 4), epochs=args.epochs, seed=args.seed,
                          torch=torch.__version__, trained_by="scripts/train_classifier.py")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB), test accuracy {acc:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
