"""``corpus fleurs`` on a tiny synthetic FLEURS tree (original layout: TSV + audio folders)."""

from __future__ import annotations

import importlib.util
import os

import pytest
import soundfile as sf

from babelscope.corpus import read_manifest
from babelscope.corpus.fleurs import build_fleurs_corpus, parse_langs
from babelscope.errors import AudioError, ConfigError, ManifestError

from ._audio import make_fleurs, tone

HAS_DATASETS = importlib.util.find_spec("datasets") is not None

@pytest.fixture()
def fleurs_root(tmp_path):
    return make_fleurs(tmp_path / "fleurs")


def test_parallel_only_and_resampling(fleurs_root, tmp_path):
    out = tmp_path / "corpus"
    res = build_fleurs_corpus(out, langs="eng,deu", root=fleurs_root, split="test", workers=2, progress=False)
    corpus = read_manifest(out)
    assert sorted({r.group for r in corpus.records}) == ["fleurs-10", "fleurs-7"]
    assert len(corpus.records) == 8
    assert {r.split for r in corpus.records} == {"test"}
    keys = corpus.by_key()
    assert keys[("fleurs-7", "eng", "text")].text == 'Another sentence, with "quotes".'
    assert keys[("fleurs-10", "deu", "speech")].text == "Der erste Satz."
    # the first recording of a sentence is kept
    assert keys[("fleurs-10", "eng", "speech")].audio.name == "e10a.wav"
    # the 22.05 kHz file was converted to 16 kHz mono PCM16 with its duration kept
    conv = keys[("fleurs-7", "deu", "speech")].audio
    info = sf.info(str(conv))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert info.duration == pytest.approx(0.5, abs=0.01)
    stats = res.stats.set_index("lang")
    assert stats.loc["eng", "recordings"] == 4 and stats.loc["eng", "sentences"] == 3
    assert stats.loc["eng", "not_in_all_langs"] == 1 and stats.loc["deu", "converted"] == 1
    assert stats.loc["eng", "copied"] == 2 and stats.loc["eng", "kept"] == 2


def test_not_parallel_max_per_lang_and_link(fleurs_root, tmp_path):
    out = tmp_path / "all"
    build_fleurs_corpus(out, langs=["eng", "deu"], root=fleurs_root, parallel_only=False, link=True,
                        progress=False)
    corpus = read_manifest(out)
    groups = {lang: sorted(r.group for r in corpus.records if r.lang == lang and r.modality == "speech")
              for lang in ("eng", "deu")}
    assert groups == {"eng": ["fleurs-10", "fleurs-12", "fleurs-7"], "deu": ["fleurs-10", "fleurs-7", "fleurs-99"]}
    linked, src = out / "audio" / "eng" / "e7.wav", fleurs_root / "en_us/audio/test/e7.wav"
    # a hard link (same file system here): the corpus holds the file itself, no link leads out of it
    assert not linked.is_symlink() and os.stat(linked).st_ino == os.stat(src).st_ino
    assert os.stat(src).st_nlink == 2
    assert not (out / "audio" / "deu" / "d7.wav").is_symlink()  # converted, so written
    one = tmp_path / "one"
    build_fleurs_corpus(one, langs="eng,deu", root=fleurs_root, max_per_lang=1, progress=False)
    assert {r.group for r in read_manifest(one).records} == {"fleurs-7"}  # lowest shared id


def test_errors(fleurs_root, tmp_path):
    with pytest.raises(ConfigError, match=r"no FLEURS test data for fra \(fr_fr\)"):
        build_fleurs_corpus(tmp_path / "o", langs="eng,fra", root=fleurs_root, progress=False)
    with pytest.raises(ConfigError, match="not an ISO 639-3 code.*en_us"):
        parse_langs("en_us")
    assert parse_langs("eng,arb=ar_eg") == [("eng", "en_us"), ("arb", "ar_eg")]
    (fleurs_root / "de_de" / "audio" / "test" / "d10.wav").unlink()
    with pytest.raises(AudioError, match=r"de_de/test.tsv, line 2 \(FLEURS id 10, deu\).*not found"):
        build_fleurs_corpus(tmp_path / "o", langs="eng,deu", root=fleurs_root, progress=False)
    assert not (tmp_path / "o").exists()
    (fleurs_root / "de_de" / "test.tsv").write_text("7\td7.wav\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="line 1: expected tab-separated columns"):
        build_fleurs_corpus(tmp_path / "o", langs="eng,deu", root=fleurs_root, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fleurs"]


@pytest.mark.skipif(HAS_DATASETS, reason="the `datasets` package is installed")
def test_datasets_layouts_need_datasets(fleurs_root, tmp_path):
    (fleurs_root / "fr_fr").mkdir()
    (fleurs_root / "fr_fr" / "dataset_dict.json").write_text('{"splits": ["test"]}')
    with pytest.raises(ConfigError, match="needs the `datasets` package.*pip install datasets"):
        build_fleurs_corpus(tmp_path / "o", langs="eng,fra", root=fleurs_root, progress=False)
    with pytest.raises(ConfigError, match="needs the `datasets` package"):
        build_fleurs_corpus(tmp_path / "o", langs="eng", hub=True, progress=False)
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(not HAS_DATASETS, reason="needs the optional `datasets` package")
def test_datasets_saved_to_disk(tmp_path):
    import io

    import datasets

    def wav_bytes(rate):
        buf = io.BytesIO()
        sf.write(buf, tone(0.5, rate), rate, format="WAV", subtype="PCM_16")
        return buf.getvalue()

    # plain struct first, then cast: encoding through the Audio feature would need torchcodec
    feats = datasets.Features({"id": datasets.Value("int32"), "path": datasets.Value("string"),
                               "audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")},
                               "raw_transcription": datasets.Value("string")})
    root = tmp_path / "hf"
    for code, rows in (("en_us", [(10, "The first.", 16000), (7, "Second.", 16000), (12, "Only en.", 16000)]),
                       ("de_de", [(7, "Zweiter.", 22050), (10, "Erster.", 16000)])):
        d = {"id": [], "path": [], "audio": [], "raw_transcription": []}
        for fid, text, rate in rows:
            d["id"].append(fid)
            d["path"].append(f"/x/{code}/test/{fid}.wav")
            d["audio"].append({"bytes": wav_bytes(rate), "path": None})
            d["raw_transcription"].append(text)
        ds = datasets.Dataset.from_dict(d, features=feats).cast_column("audio", datasets.Audio(sampling_rate=16000))
        if code == "en_us":
            datasets.DatasetDict({"test": ds}).save_to_disk(str(root / code))  # a DatasetDict
        else:
            ds.save_to_disk(str(root / code / "test"))  # one Dataset per split
    res = build_fleurs_corpus(tmp_path / "out", langs="eng,deu", root=root, progress=False)
    keys = res.corpus.by_key()
    assert sorted({g for g, _, _ in keys}) == ["fleurs-10", "fleurs-7"]
    assert keys[("fleurs-7", "deu", "text")].text == "Zweiter."
    info = sf.info(str(keys[("fleurs-7", "deu", "speech")].audio))
    assert info.samplerate == 16000 and info.duration == pytest.approx(0.5, abs=0.01)
