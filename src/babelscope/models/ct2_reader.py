"""A reader for CTranslate2 (faster-whisper) ``model.bin`` files, with numpy alone (the ``ctranslate2``
package is not needed).

* :func:`read_ct2_model` reads a ``model.bin`` into a :class:`CT2Model`;
* :func:`read_ct2_header` reads only its version and spec;
* :func:`is_ct2_dir` tells a CTranslate2 model folder from a transformers one.

``model.bin`` layout (little-endian; strings are ``uint16`` length including a NUL, bytes, NUL)::

    uint32 binary_version
    string spec_name, uint32 spec_revision                       (version >= 2)
    uint32 n_variables, then per variable:
        string name; uint8 rank; uint32 dims[rank]
        version >= 4: uint8 dtype_id (0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16); uint32 n_bytes
        version <  4: uint8 item_size (4 f32, 2 i16, 1 i8);           uint32 n_items
        raw data
    uint32 n_aliases, then per alias: string alias, string target  (version >= 3)

Quantized weights (``int8``/``int16``) come with ``<name>_scale`` and are dequantized
(``weight / scale``) to float32 by :meth:`CT2Model.to_torch`; float16/bfloat16/float32 weights keep
their dtype exactly.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from babelscope.errors import ModelLoadError

MAX_BINARY_VERSION = 6

_DTYPE_BY_ID = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}
_DTYPE_BY_ITEMSIZE = {4: "float32", 2: "int16", 1: "int8"}  # binary versions < 4
_NP = {"float32": np.float32, "int8": np.int8, "int16": np.int16, "int32": np.int32, "float16": np.float16,
       "bfloat16": np.uint16}  # bfloat16 is read as raw uint16 bits


@dataclass
class CT2Model:
    """The contents of a CTranslate2 ``model.bin``: variables as numpy arrays, plus aliases.

    ``dtypes`` gives each variable's stored type; ``bfloat16`` arrays are held as raw ``uint16`` bits
    (numpy has no bfloat16; :func:`to_torch` converts them exactly).
    """

    binary_version: int
    spec: str
    revision: int
    variables: dict[str, np.ndarray]
    dtypes: dict[str, str]
    aliases: dict[str, str] = field(default_factory=dict)

    def resolve(self, name: str) -> str:
        seen = set()
        while name in self.aliases and name not in self.variables:
            if name in seen:
                raise ModelLoadError(f"model.bin: alias loop at {name!r}")
            seen.add(name)
            name = self.aliases[name]
        return name

    def __contains__(self, name: str) -> bool:
        return self.resolve(name) in self.variables

    def scalar(self, name: str, default=None):
        name = self.resolve(name)
        if name not in self.variables:
            return default
        return self.variables[name].reshape(-1)[0].item()

    def to_torch(self, name: str):
        """The variable as a torch tensor: floats exactly as stored, quantized ints dequantized to float32."""
        import torch

        real = self.resolve(name)
        if real not in self.variables:
            raise ModelLoadError(f"model.bin has no variable {name!r} (spec {self.spec})")
        arr, dtype = self.variables[real], self.dtypes[real]
        if dtype == "bfloat16":
            return torch.from_numpy(arr.view(np.int16).copy()).view(torch.bfloat16)
        if dtype in ("int8", "int16"):
            scale_name = self.resolve(real + "_scale")
            if scale_name in self.variables:
                scale = self.variables[scale_name].astype(np.float32)
                w = arr.astype(np.float32)
                if scale.size == 1:
                    w = w / scale.reshape(())
                else:  # one scale per output row (conv weights are scaled over their flattened rows)
                    w = w / scale.reshape((-1,) + (1,) * (w.ndim - 1))
                return torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))
        return torch.from_numpy(np.array(arr, copy=True))


def _read_exact(fh: BinaryIO, n: int, what: str, path: Path) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise ModelLoadError(f"{path}: truncated CTranslate2 model file (ended while reading {what})")
    return data


def _read_u(fh: BinaryIO, fmt: str, what: str, path: Path) -> int:
    return struct.unpack("<" + fmt, _read_exact(fh, struct.calcsize(fmt), what, path))[0]


def _read_str(fh: BinaryIO, what: str, path: Path) -> str:
    n = _read_u(fh, "H", what, path)
    raw = _read_exact(fh, n, what, path)
    if n == 0 or raw[-1] != 0:
        raise ModelLoadError(f"{path}: not a CTranslate2 model file (bad string while reading {what})")
    try:
        return raw[:-1].decode("utf-8")
    except UnicodeDecodeError:
        raise ModelLoadError(f"{path}: not a CTranslate2 model file (non-UTF-8 {what})") from None


def _read_header(fh: BinaryIO, path: Path) -> tuple[int, str, int]:
    version = _read_u(fh, "I", "the binary version", path)
    if not 1 <= version <= MAX_BINARY_VERSION:
        raise ModelLoadError(f"{path}: not a CTranslate2 model file, or binary version {version} "
                             f"(this reader knows versions 1-{MAX_BINARY_VERSION})")
    spec, revision = "", 1
    if version >= 2:
        spec = _read_str(fh, "the spec name", path)
        revision = _read_u(fh, "I", "the spec revision", path)
    return version, spec, revision


def read_ct2_header(path: str | Path) -> tuple[int, str, int]:
    """``(binary_version, spec_name, spec_revision)`` of a CTranslate2 ``model.bin``."""
    path = Path(path)
    with path.open("rb") as fh:
        return _read_header(fh, path)


def read_ct2_model(path: str | Path, *, load_data: bool = True) -> CT2Model:
    """Read a CTranslate2 ``model.bin`` (any binary version 1-6). With ``load_data=False`` only the
    variable table is read (data is skipped; arrays are empty placeholders of the right dtype)."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.bin"
    if not path.is_file():
        raise ModelLoadError(f"no CTranslate2 model file at {path}")
    size = path.stat().st_size
    variables: dict[str, np.ndarray] = {}
    dtypes: dict[str, str] = {}
    aliases: dict[str, str] = {}
    with path.open("rb") as fh:
        version, spec, revision = _read_header(fh, path)
        n_vars = _read_u(fh, "I", "the variable count", path)
        for i in range(n_vars):
            name = _read_str(fh, f"the name of variable {i}", path)
            rank = _read_u(fh, "B", f"the rank of {name!r}", path)
            shape = tuple(struct.unpack(f"<{rank}I", _read_exact(fh, 4 * rank, f"the shape of {name!r}", path)))
            if version >= 4:
                type_id = _read_u(fh, "B", f"the dtype of {name!r}", path)
                if type_id not in _DTYPE_BY_ID:
                    raise ModelLoadError(f"{path}: variable {name!r} has unknown dtype id {type_id}")
                dtype = _DTYPE_BY_ID[type_id]
                n_bytes = _read_u(fh, "I", f"the size of {name!r}", path)
            else:
                item = _read_u(fh, "B", f"the item size of {name!r}", path)
                if item not in _DTYPE_BY_ITEMSIZE:
                    raise ModelLoadError(f"{path}: variable {name!r} has unknown item size {item}")
                dtype = _DTYPE_BY_ITEMSIZE[item]
                n_bytes = _read_u(fh, "I", f"the size of {name!r}", path) * item
            np_dtype = np.dtype(_NP[dtype])
            n_items = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if n_items * np_dtype.itemsize != n_bytes:
                raise ModelLoadError(f"{path}: variable {name!r} of shape {shape} and dtype {dtype} "
                                     f"declares {n_bytes} bytes (expected {n_items * np_dtype.itemsize})")
            if fh.tell() + n_bytes > size:
                raise ModelLoadError(f"{path}: truncated CTranslate2 model file (variable {name!r} runs past "
                                     f"the end: is a part missing?)")
            if load_data:
                buf = bytearray(n_bytes)
                fh.readinto(buf)
                variables[name] = np.frombuffer(buf, dtype=np_dtype).reshape(shape)
            else:
                fh.seek(n_bytes, os.SEEK_CUR)
                variables[name] = np.empty((0,), dtype=np_dtype)
            dtypes[name] = dtype
        if version >= 3:
            n_alias = _read_u(fh, "I", "the alias count", path)
            for _ in range(n_alias):
                alias = _read_str(fh, "an alias name", path)
                aliases[alias] = _read_str(fh, f"the target of alias {alias!r}", path)
        if fh.tell() != size:
            raise ModelLoadError(f"{path}: {size - fh.tell()} unexpected bytes after the CTranslate2 model data")
    return CT2Model(version, spec, revision, variables, dtypes, aliases)


def is_ct2_dir(path: str | Path) -> bool:
    """A CTranslate2 model folder: ``model.bin`` with a CTranslate2 header, and no transformers
    ``config.json`` (one with a ``model_type``)."""
    path = Path(path)
    if not (path / "model.bin").is_file():
        return False
    cfg = path / "config.json"
    if cfg.is_file():
        try:
            if "model_type" in json.loads(cfg.read_text(encoding="utf-8")):
                return False
        except (ValueError, UnicodeDecodeError):
            return False
    try:
        read_ct2_header(path / "model.bin")
    except (ModelLoadError, OSError):
        return False
    return True
