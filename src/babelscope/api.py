"""The notebook API: the pipeline's stages as plain functions, ``import babelscope as bs``.

Each function is a thin front over the stage's own package (and says which); every keyword has the
CLI's default. A study in a notebook (docs/python.md walks one)::

    import babelscope as bs

    model = bs.load_model("babel-mini")
    corpus = bs.demo_corpus("corpus", modalities=("text",), max_groups=20)
    samples = bs.samples(corpus, ["en2x_t2t"])
    act = bs.record(model, samples, steps=(2,))                 # out=None: in memory
    exp = bs.rank(act, "target_language", view="step=2/mean", modality="text")
    deu = bs.select(exp, "deu", k=100)
    with bs.forcing(model, deu, factor=2.0):
        texts = bs.generate(model, samples[:8])
    res = bs.intervene(model, samples, deu, expertise=exp, steer_to="deu")   # with controls and CIs
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from babelscope.intervene.context import forcing

if TYPE_CHECKING:  # pragma: no cover
    from babelscope.corpus.manifest import Corpus
    from babelscope.corpus.tasks import TaskSample
    from babelscope.intervene.run import InterventionResult
    from babelscope.models.base import ModelAdapter
    from babelscope.rank.expertise import Expertise
    from babelscope.rank.memstore import ArrayStore
    from babelscope.rank.select import NeuronSet
    from babelscope.record.store import Activations

__all__ = ["load_model", "load_corpus", "demo_corpus", "samples", "record", "rank", "select", "generate",
           "forcing", "intervene", "report", "open_activations", "in_memory"]


def load_model(name: str = "babel-mini", *, device: str = "cpu", dtype: str = "float32",
               seed: int = 0) -> "ModelAdapter":
    """A model wrapped in its family's adapter: a built-in name, a zoo name, a folder or a hub id
    (:func:`babelscope.models.load_model`)."""
    from babelscope.models import load_model as _load

    return _load(name, device=device, dtype=dtype, seed=seed)


def load_corpus(folder: str | Path) -> "Corpus":
    """A corpus folder's ``manifest.jsonl``, checked (:func:`babelscope.corpus.read_manifest`)."""
    from babelscope.corpus import read_manifest

    return read_manifest(folder)


def demo_corpus(folder: str | Path, *, split: str | None = "test", max_groups: int | None = None,
                modalities: Sequence[str] = ("text", "speech"), langs: Sequence[str] | None = None,
                progress: bool = False) -> "Corpus":
    """The built-in parallel demo corpus (six languages; speech synthesized with espeak-ng), built once
    into ``folder`` (:func:`babelscope.corpus.demo_corpus.build_demo_corpus`)."""
    from babelscope.corpus.demo_corpus import DEMO_LANGS, build_demo_corpus

    return build_demo_corpus(folder, langs=tuple(langs or DEMO_LANGS), split=split, max_groups=max_groups,
                             modalities=tuple(modalities), progress=progress)


def samples(corpus: "Corpus | str | Path", tasks: Sequence[str] | str, *, pivot: str = "eng",
            langs: Sequence[str] | None = None, split: str | None = None,
            max_groups: int | None = None) -> "list[TaskSample]":
    """Every (task, group, language) sample the corpus supports (:func:`babelscope.corpus.build_task_samples`)."""
    from babelscope.corpus import build_task_samples

    if not hasattr(corpus, "records"):
        corpus = load_corpus(corpus)
    return build_task_samples(corpus, [tasks] if isinstance(tasks, str) else list(tasks), pivot=pivot, langs=langs,
                              split=split, max_groups=max_groups)


def record(adapter: "ModelAdapter", samples: Sequence["TaskSample"], out: str | Path | None = None, *,
           steps: Sequence[int] = (2, 7, 12), sites: Sequence[str] = ("text_decoder",), batch_size: int = 16,
           max_new_tokens: int = 24, dtype: str = "float32", overwrite: bool = False,
           progress: bool = False, **settings: Any) -> "Activations | ArrayStore":
    """Record every unit's response per decoding step (:func:`babelscope.record.record`).

    With ``out`` the store is written there (resumable, crash-safe) and opened; with ``out=None`` it is
    recorded into a temporary folder, read into memory (:func:`in_memory`) and the folder deleted —
    for small runs: the whole store must fit in memory."""
    from babelscope.record import RecordSettings
    from babelscope.record import record as _record

    rs = RecordSettings(steps=tuple(steps), sites=tuple(sites), batch_size=batch_size, max_new_tokens=max_new_tokens,
                        dtype=dtype, **settings)
    if out is not None:
        return _record(adapter, samples, out, rs, overwrite=overwrite, progress=progress)
    with tempfile.TemporaryDirectory(prefix="babelscope-record-") as tmp:
        return in_memory(_record(adapter, samples, Path(tmp) / "store", rs, progress=progress))


def in_memory(store: "Activations") -> "ArrayStore":
    """Every array of a store read into memory, as an :class:`~babelscope.rank.ArrayStore` (same sites,
    views, samples, validity and manifest)."""
    from babelscope.rank.memstore import ArrayStore

    arrays, valid = {}, {}
    for site in store.sites:
        for view in store.views(site):
            arrays[(site, view)] = store.responses(site, view)
            valid[(site, view)] = store.valid(site, view)
    info = {site: asdict(store.site(site)) for site in store.sites}
    return ArrayStore(store.samples.copy(), arrays, info, valid=valid, manifest=dict(store.manifest))


def rank(store: Any, analysis: str, *, view: str, modality: str | None = None, task: str | None = None,
         family: str | None = None, out: str | Path | None = None, progress: bool = False,
         **options: Any) -> "Expertise":
    """Rank every unit by AP for every label of one analysis at one view (:func:`babelscope.rank.rank_store`;
    ``analysis``: ``source_language``, ``target_language`` or ``modality``, built from the store's samples)."""
    from babelscope.rank import build_analysis, rank_store

    an = build_analysis(store.samples, analysis, modality=modality, task=task, family=family)
    return rank_store(store, an, view=view, out=out, progress=progress, **options)


def select(expertise: "Expertise", label: str, *, k: int = 100, mode: str = "top",
           component: str = "text_decoder", seed: int | None = 0) -> "NeuronSet":
    """The ``k`` units of ``component`` that best classify ``label`` (:func:`babelscope.rank.select_units`)."""
    from babelscope.rank import select_units

    return select_units(expertise, label, k=k, mode=mode, component=component, seed=seed)


def generate(adapter: "ModelAdapter", samples: Sequence["TaskSample"], *, batch_size: int = 16,
             max_new_tokens: int = 24) -> list[str]:
    """The greedy output text of every sample, batched as the recorder batches
    (:func:`babelscope.models.generation.generate_texts`); forced inside a :func:`forcing` block."""
    from babelscope.models.generation import generate_texts

    return [o["text"] for o in generate_texts(adapter, samples, batch_size=batch_size, max_new_tokens=max_new_tokens)]


def intervene(adapter: "ModelAdapter", samples: Sequence["TaskSample"], sets: "NeuronSet | Sequence[NeuronSet]", *,
              expertise: "Expertise | Sequence[Expertise]", steer_to: str | None = None,
              out: str | Path | None = None, value: str = "on_p50", factor: float = 1.0,
              positions: str = "all", steps: tuple[int, int] | None = None, op: str = "replace",
              batch_size: int = 16, max_new_tokens: int = 24, n_boot: int = 1000, progress: bool = False,
              **options: Any) -> "InterventionResult":
    """Generate unforced, forced and with a random-k baseline drawn from ``expertise`` (the tables the
    sets were selected from), score every output and compare the conditions with paired CIs
    (:func:`babelscope.intervene.run_intervention`)."""
    from babelscope.intervene import Forcing, run_intervention
    from babelscope.rank.expertise import Expertise
    from babelscope.rank.select import NeuronSet

    sets = (sets,) if isinstance(sets, NeuronSet) else tuple(sets)
    tables = [e.loaded().table for e in ((expertise,) if isinstance(expertise, Expertise) else expertise)]
    spec = Forcing(sets=sets, value=value, factor=factor, positions=positions, steps=steps, op=op)
    return run_intervention(adapter, samples, spec, baseline_tables=tables, steer_to=steer_to, out=out,
                            batch_size=batch_size, max_new_tokens=max_new_tokens, n_boot=n_boot,
                            progress=progress, **options)


def report(run: str | Path, out: str | Path | None = None) -> Path:
    """Write the HTML report of a run folder; returns the path of ``report.html``
    (:func:`babelscope.report.build_report`)."""
    from babelscope.report import build_report

    return build_report(run, out)


def open_activations(path: str | Path) -> "Activations":
    """Open an activation store written by ``babelscope record`` (:class:`babelscope.record.Activations`)."""
    from babelscope.record.store import open_activations as _open

    return _open(path)
