"""Property-based fuzzing (hypothesis) of the three parsers/functions every run depends on.

* the manifest parser: any JSON value, any line of bytes gives a record or a ``ManifestError``;
* the config loader: any dict (of config-shaped or random keys and values) gives a ``RunConfig`` or a
  ``ConfigError``;
* ``average_precision`` equals scikit-learn's ``average_precision_score`` on generated inputs: ties,
  few samples, float16/float32/float64, signed zeros, subnormals and extremes.

Example counts are modest (the file runs in well under a minute); raise them with
``BABELSCOPE_FUZZ_EXAMPLES=N`` for a longer hunt.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from babelscope.config import RunConfig, parse_config
from babelscope.corpus.manifest import OPTIONAL, REQUIRED, CorpusRecord, parse_record, read_manifest
from babelscope.errors import ConfigError, ManifestError
from babelscope.rank import average_precision

N = int(os.environ.get("BABELSCOPE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=N, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.filter_too_much])

# -- JSON values -----------------------------------------------------------------------------------

_text = st.one_of(st.text(max_size=12), st.sampled_from(
    ["eng", "deu", "cmn", "speech", "text", "", " ", "g1", "a.wav", "audio/x.wav", "\x00", "\u202e", "\ud800",
     "../../etc/passwd", "/abs/path.wav", "é" * 3, "\t", "line\nbreak", "NaN"]))
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                     st.floats(allow_nan=True, allow_infinity=True), _text)
json_values = st.recursive(_scalars, lambda c: st.one_of(st.lists(c, max_size=4),
                                                         st.dictionaries(_text, c, max_size=4)), max_leaves=12)
_keys = st.sampled_from(REQUIRED + OPTIONAL + ("extra", "ID", ""))
records = st.one_of(
    json_values,
    st.dictionaries(_keys, json_values, max_size=9),
    # mostly well-formed records with one field perturbed
    st.builds(lambda base, k, v: {**base, k: v},
              st.fixed_dictionaries({"id": _text, "group": st.one_of(_text, st.integers()),
                                     "lang": st.sampled_from(["eng", "deu", "xx", "cmn_Hant"]),
                                     "modality": st.sampled_from(["text", "speech", "video"]), "text": _text}),
              _keys, json_values),
)


@FUZZ
@given(obj=records, check_audio=st.booleans())
def test_parse_record_raises_only_manifest_error(tmp_path_factory, obj, check_audio):
    root = tmp_path_factory.getbasetemp() / "fuzz-root"
    root.mkdir(exist_ok=True)
    path = root / "manifest.jsonl"
    try:
        rec = parse_record(obj, path=path, line=3, root=root, check_audio=check_audio)
    except ManifestError as exc:
        msg = str(exc)
        assert msg.startswith(f"{path}, line 3"), msg
        return
    assert isinstance(rec, CorpusRecord)
    assert rec.modality in ("speech", "text") and rec.text.strip() and rec.id.strip()


_lines = st.one_of(
    records.map(lambda o: json.dumps(o, allow_nan=True).encode()),
    st.binary(max_size=40),
    st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@FUZZ
@given(lines=st.lists(_lines, min_size=0, max_size=5))
def test_read_manifest_raises_only_manifest_error(tmp_path_factory, lines):
    folder = tmp_path_factory.mktemp("fuzz-manifest", numbered=True)
    data = b"\n".join(l.replace(b"\n", b" ").replace(b"\r", b" ") for l in lines) + b"\n"
    (folder / "manifest.jsonl").write_bytes(data)
    try:
        corpus = read_manifest(folder)
    except ManifestError as exc:
        assert "manifest.jsonl" in str(exc)
        return
    assert corpus.records and len({r.id for r in corpus.records}) == len(corpus.records)


# -- run configs -----------------------------------------------------------------------------------

_SECTIONS = {
    "model": ["name", "device", "dtype"],
    "corpus": ["source", "split", "max_groups", "langs", "pivot"],
    "record": ["tasks", "steps", "sites", "batch_size", "max_new_tokens", "dtype", "backend"],
    "rank": ["analyses", "block_units"],
    "select": ["k", "mode", "component", "seed"],
    "intervene": ["batch_size", "max_new_tokens", "lid_langs", "n_boot", "runs"],
    "report": ["enabled"],
}
_RUN_KEYS = ["name", "kind", "source_modality", "target_modality", "label", "select_step", "k", "mode",
             "component", "value", "factor", "positions", "steps", "ask", "max_per_lang", "baseline_seed"]
_cfg_scalars = st.one_of(
    _scalars, st.sampled_from(["s2t", "t2t", "asr", "deu", "top", "both", "speech", "text", "float16",
                               "steering", "on_p50", "all", "local", "ray", "text_decoder", "source_language"]),
    st.lists(st.integers(-3, 20), max_size=4), st.lists(st.sampled_from(["s2t", "t2t", "x", "deu"]), max_size=3))
_run = st.dictionaries(st.sampled_from(_RUN_KEYS + ["bogus"]), _cfg_scalars, max_size=8)
_section = {name: st.dictionaries(st.sampled_from(keys + ["bogus"]),
                                  st.lists(_run, max_size=2) if name == "intervene" else _cfg_scalars, max_size=5)
            for name, keys in _SECTIONS.items()}
configs = st.one_of(
    st.dictionaries(st.sampled_from(list(_SECTIONS) + ["name", "seed", "bogus"]), json_values, max_size=5),
    st.fixed_dictionaries({}, optional={**_section, "name": _cfg_scalars, "seed": _cfg_scalars}),
    st.fixed_dictionaries({}, optional={**_section,
                                        "intervene": st.fixed_dictionaries({"runs": st.lists(_run, max_size=3)})}),
    json_values,
)


@FUZZ
@given(data=configs)
def test_parse_config_gives_config_or_config_error(data):
    try:
        cfg = parse_config(data, "fuzz.toml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.toml: ")
        return
    assert isinstance(cfg, RunConfig)
    for r in cfg.intervene.runs:
        assert r.select_step in cfg.record.steps


# -- average precision against scikit-learn --------------------------------------------------------

def _sk_ap(x: np.ndarray, lab: np.ndarray, n_labels: int) -> np.ndarray:
    from sklearn.metrics import average_precision_score

    x64 = x.astype(np.float64)  # exact for float16/float32 values: the same order and the same ties
    return np.array([[average_precision_score(lab == l, x64[:, u]) for u in range(x.shape[1])]
                     for l in range(n_labels)])


_SPECIAL = {np.float16: [0.0, -0.0, 6e-8, -6e-8, 65504.0, -65504.0, 1.0, 1.0009765625],
            np.float32: [0.0, -0.0, 1e-45, -1e-45, 3.4e38, -3.4e38, 1.0, 1.0000001],
            np.float64: [0.0, -0.0, 5e-324, -5e-324, 1.7e308, -1.7e308, 1.0, 1.0000000000000002]}


@st.composite
def ap_inputs(draw):
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64]))
    n = draw(st.integers(2, 24))
    units = draw(st.integers(1, 4))
    n_labels = draw(st.integers(2, min(4, n)))
    # every label present, at least one negative for each: a permutation of all labels plus extras
    extra = draw(st.lists(st.integers(0, n_labels - 1), min_size=n - n_labels, max_size=n - n_labels))
    order = draw(st.permutations(list(range(n_labels)) + extra))
    lab = np.array(order, dtype=np.int64)
    assume(np.bincount(lab, minlength=n_labels).max() < n)
    pool = st.one_of(
        st.sampled_from(_SPECIAL[dtype]),                               # signed zeros, subnormals, extremes
        st.integers(-3, 3).map(float),                                  # heavy ties
        st.floats(allow_nan=False, allow_infinity=False,
                  width={np.float16: 16, np.float32: 32, np.float64: 64}[dtype]),
    )
    x = draw(hnp.arrays(dtype, (n, units), elements=pool))
    return x, lab, n_labels


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # ap.py probes float32 fit
@FUZZ
@given(inp=ap_inputs())
def test_average_precision_matches_sklearn(inp):
    x, lab, n_labels = inp
    got = average_precision(x, lab, n_labels)
    assert got.shape == (n_labels, x.shape[1]) and got.dtype == np.float64
    np.testing.assert_allclose(got, _sk_ap(x, lab, n_labels), rtol=0, atol=1e-6)
