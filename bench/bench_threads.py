"""Interactive decodes while the machine is busy: one-latent decode latency on the GUI's decode path
against the torch thread count it runs with, while a batch thread trains in the same process (what the
Training tab does) and, optionally, another process burns every core (what the rest of a desktop does).

    python -m bench.bench_threads [--decodes 300] [--external]

For each model (the bundled Fashion-MNIST VAE, 28x28; a 64x64 RGB z128 zoo VanillaVAE) and each thread
count of the decoding thread (1, 2, all cores): median and p95 of a decode, and the training thread's
steps/s in the same window, so a faster click that slowed training would show. The rule this chose
(models/threads.py): interactive work on 1 thread, batch work on the rest.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time

import torch

from bench.machine import describe_machine, summary, write_results
from latent_atlas.models.config import VAEConfig
from latent_atlas.models.registry import build_model

BURN = "import torch\ntorch.set_num_threads({n})\na = torch.randn(512, 512)\nwhile True:\n    a @ a\n"


def models():
    torch.manual_seed(0)
    small = build_model("vae", VAEConfig(image_shape=(1, 28, 28), latent_dim=16)).eval()
    zoo = build_model("vae", VAEConfig(image_shape=(3, 64, 64), latent_dim=128, arch="zoo",
                                       hidden_dims=(32, 64, 128, 256, 512), likelihood="gaussian")).eval()
    return {"28x28 VAE (bundled size)": small, "64x64 RGB z128 (zoo size)": zoo}


def trainer_thread(stop: threading.Event, counter: list, threads: int) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = build_model("vae", VAEConfig(image_shape=(1, 28, 28), latent_dim=16))
    opt = model.make_optimizers(1e-3)
    x = torch.rand(128, 1, 28, 28)
    while not stop.is_set():
        model.train_step(x, None, opt)
        counter[0] += 1


def decode_latencies(model, n: int, threads: int) -> list[float]:
    out = []
    result = {}

    def run():
        torch.set_num_threads(threads)
        z = torch.randn(n + 10, model.latent_dim)
        with torch.inference_mode():
            for i in range(n + 10):
                t0 = time.perf_counter()
                model.decode(z[i:i + 1])
                if i >= 10:
                    out.append((time.perf_counter() - t0) * 1000)
                time.sleep(0.002)                   # clicks are not back to back
        result["done"] = True

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--decodes", type=int, default=300)
    p.add_argument("--external", action="store_true", help="also run a process that burns every core")
    args = p.parse_args(argv)
    cores = os.cpu_count() or 2
    counts = sorted({1, 2, cores})
    burner = None
    if args.external:
        burner = subprocess.Popen([sys.executable, "-c", BURN.format(n=cores)])
    results = {"machine": describe_machine(), "cores": cores, "external_load": args.external, "cases": {}}
    try:
        for name, model in models().items():
            for threads in counts:
                stop, steps = threading.Event(), [0]
                train = threading.Thread(target=trainer_thread, args=(stop, steps, max(1, cores - 1)))
                train.start()
                time.sleep(0.5)
                t0, s0 = time.perf_counter(), steps[0]
                lat = summary(decode_latencies(model, args.decodes, threads))
                rate = (steps[0] - s0) / (time.perf_counter() - t0)
                stop.set()
                train.join()
                results["cases"][f"{name}, decode threads {threads}"] = {"decode_ms": lat, "train_steps_per_s": rate}
                print(f"{name:28s} decode threads {threads}: median {lat['median']:.2f} ms  p95 {lat['p95']:.2f} ms"
                      f"  max {lat['max']:.1f} ms | training alongside {rate:.1f} steps/s", flush=True)
            base = results["cases"][f"{name}, decode threads 1"]["decode_ms"]["p95"]
            for threads in counts[1:]:
                other = results["cases"][f"{name}, decode threads {threads}"]["decode_ms"]["p95"]
                print(f"  p95 with {threads} threads / with 1: {other / base:.1f}x")
    finally:
        if burner is not None:
            burner.kill()
    write_results("threads_external" if args.external else "threads", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
