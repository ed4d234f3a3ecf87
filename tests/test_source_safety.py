"""A static scan of the project's own code: nothing that can run code from a file or a string.

Forbidden everywhere: weights_only=False, pickle/marshal loading, np.load(allow_pickle=True), eval/exec,
yaml.load without a safe loader, shell=True, os.system/os.popen; torch.load only in the allowlisted convert
step and only with weights_only=True. The scanner reads the syntax tree, so `app.exec()` (Qt) and words in
strings or comments are not mistaken for calls. Negative controls feed it a snippet of each pattern.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ["models", "editor", "cli", "main.py", "__init__.py", "__main__.py", "scripts", "bench"]
TORCH_LOAD_ALLOWED = {"models/checkpoints/convert.py"}
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader"}


def _dotted(node: ast.AST) -> str:
    """'pickle.loads' for pickle.loads, 'np.load' for np.load, '' for anything not a plain name chain."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _keyword(call: ast.Call, name: str, splat: bool = False):
    """(present, constant value or a marker) of a keyword argument; with splat, **kwargs counts as present."""
    for kw in call.keywords:
        if kw.arg == name:
            return True, kw.value.value if isinstance(kw.value, ast.Constant) else "<expression>"
    if splat and any(kw.arg is None for kw in call.keywords):   # **kwargs could hold anything
        return True, "<**kwargs>"
    return False, None


def scan_source(source: str, rel: str = "<snippet>") -> list[str]:
    """Every forbidden call in `source`, as 'file:line: what'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        short = name.rsplit(".", 1)[-1]
        module = name.rsplit(".", 1)[0] if "." in name else ""

        def flag(what, line=node.lineno):
            found.append(f"{rel}:{line}: {what}")

        has_wo, wo = _keyword(node, "weights_only")
        if has_wo and wo is False:
            flag("weights_only=False")
        if module in ("pickle", "cPickle", "_pickle", "dill") and short in ("load", "loads", "Unpickler"):
            flag(f"{name}(")
        if module == "marshal" and short in ("load", "loads"):
            flag(f"{name}(")
        if name in ("eval", "exec", "builtins.eval", "builtins.exec", "compile"):
            flag(f"{name}(")
        has_ap, ap = _keyword(node, "allow_pickle")
        if has_ap and (module in ("np", "numpy") or short == "load") and ap is not False:
            flag(f"{name}( with allow_pickle={ap}")
        if module == "yaml" and short in ("load", "load_all", "unsafe_load", "full_load"):
            loader = next((kw.value for kw in node.keywords if kw.arg == "Loader"), None)
            if len(node.args) > 1:
                loader = node.args[1]
            loader_name = _dotted(loader).rsplit(".", 1)[-1] if loader is not None else ""
            if short != "load" and short != "load_all" or loader_name not in SAFE_YAML_LOADERS:
                flag(f"{name}( without SafeLoader")
        has_shell, shell = _keyword(node, "shell", splat=module in ("subprocess", "asyncio"))
        if has_shell and shell is not False:
            flag(f"{name}( with shell={shell}")
        if name in ("os.system", "os.popen"):
            flag(f"{name}(")
        if name in ("torch.load", "torch.serialization.load"):
            wo = _keyword(node, "weights_only", splat=True)[1]
            if rel not in TORCH_LOAD_ALLOWED:
                flag(f"{name}( outside {sorted(TORCH_LOAD_ALLOWED)}")
            elif wo is not True:
                flag(f"{name}( without weights_only=True")
    return found


def project_files() -> list[Path]:
    files = []
    for entry in SCANNED:
        path = ROOT / entry
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return files


def test_the_scan_covers_the_project():
    rels = {f.relative_to(ROOT).as_posix() for f in project_files()}
    assert {"main.py", "models/checkpoints/checkpoint.py", "models/checkpoints/convert.py", "editor/core/export.py",
            "cli/commands.py"} <= rels
    assert len(rels) > 40


def test_project_code_has_no_unsafe_loading_or_code_execution():
    found = []
    for path in project_files():
        rel = path.relative_to(ROOT).as_posix()
        found.extend(scan_source(path.read_text(encoding="utf-8"), rel))
    assert found == []


def test_convert_loads_pickles_only_with_weights_only_true():
    tree = ast.parse((ROOT / "models/checkpoints/convert.py").read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _dotted(n.func) == "torch.load"]
    assert calls, "convert.py no longer calls torch.load: update the allowlist"
    assert all(_keyword(c, "weights_only") == (True, True) for c in calls)


# -- negative controls: the scanner sees each forbidden pattern ------------------------------------------
FORBIDDEN = {
    "weights_only=False": "import torch\ntorch.load(p, weights_only=False)\n",
    "weights_only=False elsewhere": "safe_load(p, weights_only=False)\n",
    "pickle.load": "import pickle\nwith open(p, 'rb') as f:\n    pickle.load(f)\n",
    "pickle.loads": "import pickle\npickle.loads(data)\n",
    "pickle.Unpickler": "import pickle\npickle.Unpickler(f).load()\n",
    "np.load allow_pickle": "import numpy as np\nnp.load(p, allow_pickle=True)\n",
    "numpy.load allow_pickle": "import numpy\nnumpy.load(p, allow_pickle=flag)\n",
    "eval": "x = eval(text)\n",
    "exec": "exec(code, {})\n",
    "compile": "compile(src, 'f', 'exec')\n",
    "torch.load outside": "import torch\ntorch.load(p, weights_only=True)\n",
    "torch.serialization.load": "import torch\ntorch.serialization.load(p)\n",
    "marshal.loads": "import marshal\nmarshal.loads(b)\n",
    "yaml.load bare": "import yaml\nyaml.load(text)\n",
    "yaml.load FullLoader": "import yaml\nyaml.load(text, Loader=yaml.FullLoader)\n",
    "yaml.unsafe_load": "import yaml\nyaml.unsafe_load(text)\n",
    "subprocess shell": "import subprocess\nsubprocess.run('ls ' + d, shell=True)\n",
    "check_output shell": "import subprocess\nsubprocess.check_output(cmd, shell=flag)\n",
    "os.system": "import os\nos.system('rm x')\n",
}


@pytest.mark.parametrize("case", FORBIDDEN)
def test_negative_control_each_forbidden_pattern_is_flagged(case):
    found = scan_source(FORBIDDEN[case], "models/x.py")
    assert len(found) >= 1 and all(f.startswith("models/x.py:") for f in found)


def test_torch_load_in_the_allowlisted_file_still_needs_weights_only_true():
    assert scan_source("torch.load(p)\n", "models/checkpoints/convert.py")
    assert scan_source("torch.load(p, weights_only=flag)\n", "models/checkpoints/convert.py")
    assert scan_source("torch.load(p, **kw)\n", "models/checkpoints/convert.py")
    assert scan_source("torch.load(p, weights_only=True)\n", "models/checkpoints/convert.py") == []


SAFE = {
    "qt exec": "app.exec()\ndialog.exec()\n",
    "safe yaml": "import yaml\nyaml.safe_load(t)\nyaml.load(t, Loader=yaml.SafeLoader)\n",
    "np.load default": "import numpy as np\nnp.load(p, allow_pickle=False)\nnp.load(p)\n",
    "subprocess list": "import subprocess\nsubprocess.run([sys.executable, '-c', 'pass'], shell=False)\n",
    "words in strings": "s = 'pickle.loads( eval( weights_only=False'\n# exec(x)\n",
    "own load": "from models.checkpoint import load_checkpoint\nload_checkpoint(p)\nself.load(p)\n",
}


@pytest.mark.parametrize("case", SAFE)
def test_safe_code_is_not_flagged(case):
    assert scan_source(SAFE[case]) == []
