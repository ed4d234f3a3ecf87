"""scripts/fuzz_schemas.py in small: 30 hypothesis inputs per schema door (recipe, session, vector JSON and
.npy, four checkpoint metadata fields), through the real loaders; none may end in an error outside the
LatentAtlasError family. Negative controls: a loader raising ValueError, or hanging, is counted."""
from __future__ import annotations

import importlib.util
import io
import sys
import time
from pathlib import Path

import pytest
from hypothesis import strategies as st

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "fuzz_schemas.py"


@pytest.fixture(scope="module")
def fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_schemas", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_schemas"] = module
    spec.loader.exec_module(module)
    return module


def test_every_schema_door_gives_a_result_or_a_typed_error(fuzz):
    out = io.StringIO()
    results = fuzz.run(30, out=out)
    assert set(results) == {"recipe", "session", "vectors.json", "vectors.npy", "checkpoint.dataset",
                            "checkpoint.train_state", "checkpoint.history", "checkpoint.vectors"}
    for kind, stats in results.items():
        assert stats["inputs"] == 30, kind
        assert stats["failures"] == [], (kind, stats["failures"][:2])
        assert stats["accepted"] < stats["inputs"], kind        # the mutations reach the checks
    assert "failures   0" in out.getvalue()


def test_an_untyped_error_and_a_hang_are_counted(fuzz, tmp_path, monkeypatch):
    def bad(path):
        if path.read_bytes() == b"hang":
            time.sleep(60)
        raise ValueError("not ours")
    monkeypatch.setattr(fuzz, "TIME_LIMIT_S", 0.5)
    stats = fuzz.fuzz_kind("fake", st.sampled_from([b"x", b"hang"]), bad, tmp_path, 4, 0)
    names = {name for name, *_ in stats["failures"]}
    assert stats["inputs"] >= 2 and names == {"ValueError", "Timeout"}, names
