"""The task table (babelscope.vocab.tasks): what each task pairs, and that analyses, rank jobs and
interventions find their tasks by modality and direction, never by name."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from babelscope.vocab import tasks as T
from babelscope.corpus.manifest import Corpus, CorpusRecord
from babelscope.corpus.tasks import build_task_samples
from babelscope.errors import ConfigError
from babelscope.rank import build_analysis

LANGS = ["cmn", "deu", "eng", "spa"]


def _corpus(groups=("g1", "g2")) -> Corpus:
    recs = [CorpusRecord(id=f"{g}-{l}-{m}", group=g, lang=l, modality=m, text=f"{g} {l}", split="test",
                         audio=f"{g}-{l}.wav" if m == "speech" else None)
            for g in groups for l in LANGS for m in ("text", "speech")]
    return Corpus(root=".", records=recs)


def test_every_task_pairs_the_languages_its_direction_says():
    others = [l for l in LANGS if l != "eng"]
    want = {  # written out by hand, independently of Task.pairs
        "asr": {(l, l) for l in LANGS}, "s2t": {(l, "eng") for l in others}, "t2t": {(l, "eng") for l in others},
        "en2x_s2t": {("eng", l) for l in others}, "en2x_t2t": {("eng", l) for l in others},
        "x2y_s2t": set(itertools.permutations(LANGS, 2)), "x2y_t2t": set(itertools.permutations(LANGS, 2)),
    }
    assert set(want) == set(T.TASKS)
    for name, pairs in want.items():
        samples = build_task_samples(_corpus(), [name])
        got = [(s.src_lang, s.tgt_lang) for s in samples]
        assert set(got) == pairs and len(got) == 2 * len(pairs), name
        assert {s.modality for s in samples} == {T.TASKS[name].modality}
        assert len({s.sample_id for s in samples}) == len(samples)
        # the reference is the group's text in the target language
        assert all(s.reference == f"{s.group} {s.tgt_lang}" for s in samples)


def test_presets_are_the_study_tasks():
    assert T.PRESETS == ("asr", "s2t", "t2t", "en2x_s2t", "en2x_t2t")
    with pytest.raises(ConfigError, match=r"unknown task 'x2x'; choose from asr, s2t"):
        T.get_task("x2x")
    with pytest.raises(ConfigError, match="direction must be one of"):
        T.Task("bad", "speech", "sideways")
    with pytest.raises(ConfigError, match="already registered"):
        T.register_task(T.Task("s2t", "text", "to_pivot"))


def test_cross_task_labels_every_language_from_the_same_sources():
    table = pd.DataFrame([s.to_row() for s in build_task_samples(_corpus(), ["s2t", "x2y_s2t"])])
    an = build_analysis(table, "target_language", modality="speech")
    sub = table.iloc[an.rows]
    assert set(sub["task"]) == {"x2y_s2t"} and an.label_names == tuple(LANGS)
    assert [an.label_names[c] for c in an.labels] == sub["tgt_lang"].tolist()
    # every label is asked for from the three other languages
    assert all(sorted(g["src_lang"].unique()) == sorted(set(LANGS) - {l}) for l, g in sub.groupby("tgt_lang"))
    # a pivot→X task, when recorded, is preferred
    both = pd.DataFrame([s.to_row() for s in build_task_samples(_corpus(), ["en2x_s2t", "x2y_s2t"])])
    assert set(both.iloc[build_analysis(both, "target_language", modality="speech").rows]["task"]) == {"en2x_s2t"}


def test_a_family_task_is_found_by_direction_not_name(monkeypatch):
    """A model family registers its own task; the analyses, rank jobs and interventions use it
    without knowing its name."""
    from babelscope.pipeline.intervene_stage import intervention_task
    from babelscope.pipeline.rank_stage import rank_jobs

    monkeypatch.setattr(T, "TASKS", dict(T.TASKS))
    T.register_task(T.Task("bos_s2t", "speech", "from_pivot", "speech pivot → X by a forced first token"))
    monkeypatch.setattr(T, "TASKS", {"bos_s2t": T.TASKS.pop("bos_s2t"), **T.TASKS})  # registered first: preferred
    rows = [{"task": "bos_s2t", "src_lang": "eng", "tgt_lang": l, "modality": "speech", "group": g}
            for l in ("deu", "spa", "fra") for g in ("a", "b")]
    an = build_analysis(pd.DataFrame(rows), "target_language", modality="speech")
    assert an.task == "bos_s2t" and an.label_names == ("deu", "fra", "spa")
    jobs = rank_jobs(["target_language"], [2], ["bos_s2t"], {"text_decoder"})
    assert [(j.analysis, j.modality, j.tasks(["bos_s2t"])) for j in jobs] == [("target_language", "speech",
                                                                              ("bos_s2t",))]
    assert intervention_task("steering", "speech", ["s2t", "bos_s2t"]) == "bos_s2t"
    assert intervention_task("median_replacement", "speech", ["s2t", "bos_s2t"]) == "s2t"
    assert intervention_task("steering", "text", ["s2t", "bos_s2t"]) is None


def test_a_corpus_without_the_pivot_cannot_run_pivot_tasks(tmp_path):
    """X→pivot outputs would have no reference, pivot→X no input: an error naming the pivot and the
    corpus's languages, not a store of empty references. Same-language tasks need no pivot."""
    from conftest import make_corpus

    from babelscope.corpus import build_task_samples, read_manifest
    from babelscope.errors import ConfigError

    corpus = read_manifest(make_corpus(tmp_path / "c", n_groups=2, langs=("deu", "fra")))
    for tasks in (["s2t"], ["asr", "en2x_t2t"]):
        with pytest.raises(ConfigError, match=r"pivot language 'eng': the corpus has no record in it \(it has deu, "
                                              r"fra\), but tasks (s2t|en2x_t2t) translate"):
            build_task_samples(corpus, tasks)
    assert {s.tgt_lang for s in build_task_samples(corpus, ["s2t"], pivot="deu")} == {"deu"}
    assert len(build_task_samples(corpus, ["asr", "x2y_t2t"])) == 2 * 2 + 2 * 2
