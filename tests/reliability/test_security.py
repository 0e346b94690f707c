"""Security of model loading: weights come from safetensors; a pickle checkpoint is read only with
``torch.load(weights_only=True)``, and one that needs more than tensors (the way a malicious pickle
runs code) is refused with a message. (HTML escaping: tests/report and test_determinism.py.)"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
import torch

import babelscope
from babelscope.errors import ModelLoadError

from .catalogue import MODEL, evil_checkpoint

SRC = Path(babelscope.__file__).resolve().parent


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            base = node.func.value
            yield node, (base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")), node.func.attr


def test_no_unsafe_deserialisation_in_the_code_base():
    """Every ``torch.load`` passes ``weights_only=True``; no ``pickle.load``/``np.load(allow_pickle=True)``;
    model weights are loaded only through ``babelscope.models.base.load_weights``."""
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        for node, base, attr in _calls(ast.parse(path.read_text("utf-8"))):
            kw = {k.arg: k.value for k in node.keywords}
            where = f"{rel}:{node.lineno}"
            if base == "torch" and attr == "load":
                wo = kw.get("weights_only")
                if not (isinstance(wo, ast.Constant) and wo.value is True):
                    problems.append(f"{where}: torch.load without weights_only=True")
            if base in ("pickle", "cPickle", "dill", "joblib") and attr in ("load", "loads"):
                problems.append(f"{where}: {base}.{attr}")
            if base in ("np", "numpy") and attr == "load":
                ap = kw.get("allow_pickle")
                if isinstance(ap, ast.Constant) and ap.value is True:
                    problems.append(f"{where}: np.load(allow_pickle=True)")
            if attr == "from_pretrained" and (base.endswith("Model") or base.endswith("ForConditionalGeneration")) \
                    and rel != Path("models/base.py"):
                problems.append(f"{where}: {base}.from_pretrained outside load_weights")
    assert problems == []


def test_built_in_models_ship_safetensors_only(seamless):
    from babelscope.models.builtin import builtin_path

    folder = builtin_path(MODEL)
    assert list(folder.glob("*.safetensors"))
    assert not [p for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt", ".pkl")]
    # nor does the package ship a pickle of its own (py3langid's bundled model is its own package's data)
    assert not [p for p in SRC.rglob("*") if p.suffix in (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")]


@pytest.fixture()
def bin_only(seamless, tmp_path) -> Path:
    """The tiny model's folder with its weights as ``pytorch_model.bin`` (a plain state dict) only."""
    from safetensors.torch import load_file

    from babelscope.models.builtin import builtin_path

    folder = tmp_path / "bin-only"
    shutil.copytree(builtin_path(MODEL), folder)
    torch.save(load_file(str(folder / "model.safetensors")), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    return folder


def test_a_pickle_checkpoint_of_tensors_loads_with_weights_only(bin_only, seamless, monkeypatch):
    """transformers 5 reads a .bin-only folder with torch.load; babelscope asks for weights_only=True
    explicitly (not only by default), and the weights are the same."""
    from babelscope.models import load_model

    seen = []
    real = torch.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("weights_only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    adapter = load_model(str(bin_only))
    assert seen and all(w is True for w in seen), seen
    a = dict(seamless.model.named_parameters())
    for name, p in adapter.model.named_parameters():
        assert torch.equal(p, a[name]), name


def test_a_malicious_pickle_checkpoint_is_refused(bin_only, tmp_path):
    from babelscope.models import load_model

    marker = tmp_path / "code-ran"
    (bin_only / "pytorch_model.bin").write_bytes(evil_checkpoint(marker))
    with pytest.raises(ModelLoadError, match=r"refused to load the pickle checkpoint .*weights_only=True"):
        load_model(str(bin_only))
    assert not marker.exists()
