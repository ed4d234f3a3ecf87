"""scripts/fuzz_loaders.py in small: 200 mutated inputs over the four loaders, none gives an untyped error.

The full run (`python scripts/fuzz_loaders.py --total 20000`) takes about a minute; this keeps CI exercising
the harness. Negative controls: a loader raising the wrong type, or hanging, is caught and saved.
"""
from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

from latent_atlas.models.errors import DatasetError

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "fuzz_loaders.py"


@pytest.fixture(scope="module")
def fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_loaders", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_loaders"] = module          # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def test_two_hundred_mutated_inputs_give_results_or_typed_errors(fuzz, tmp_path):
    report = fuzz.run_fuzz(200, seed=7, failures=tmp_path / "failures")
    assert report.failures == [], [Path(f + ".txt").read_text() for f in report.failures]
    assert report.total == 200 and set(report.counts) == {"checkpoint", "idx", "attributes", "image"}
    assert all(report.accepted.get(name, 0) < count for name, count in report.counts.items())  # mutations bite
    assert not (tmp_path / "failures").exists()


def _target(fuzz, load):
    return fuzz.Target("fake", ".bin", [b"0123456789"], load)


def test_negative_control_an_untyped_exception_is_a_failure_with_a_reproducer(fuzz, tmp_path):
    calls = []

    def load(path):
        calls.append(1)
        if len(calls) % 2:
            raise IndexError("parser bug")
        raise DatasetError(f"{path}: fine, a typed error")
    report = fuzz.Report()
    work = tmp_path / "work"
    work.mkdir()
    fuzz.fuzz_target(_target(fuzz, load), 10, 0, work, tmp_path / "failures", report)
    assert report.counts == {"fake": 10} and len(report.failures) == 5
    repro = Path(report.failures[0])
    assert repro.exists() and "IndexError: parser bug" in Path(str(repro) + ".txt").read_text()


def test_negative_control_a_hanging_loader_is_stopped_and_reported(fuzz, tmp_path):
    def load(path):
        end = time.perf_counter() + 30
        while time.perf_counter() < end:
            pass
    report = fuzz.Report()
    work = tmp_path / "work"
    work.mkdir()
    start = time.perf_counter()
    fuzz.fuzz_target(_target(fuzz, load), 2, 0, work, tmp_path / "failures", report, time_limit=0.2)
    assert time.perf_counter() - start < 5
    assert len(report.failures) == 2
    assert "FuzzTimeout" in Path(report.failures[0] + ".txt").read_text()
