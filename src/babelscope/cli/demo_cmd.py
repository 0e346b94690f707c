"""``babelscope demo``: the pipeline on built-in defaults."""

from __future__ import annotations

from pathlib import Path

import typer


def demo(
    out: Path = typer.Option(Path("demo-out"), "--out", "-o", help="Output folder."),
    model: str = typer.Option("tiny-random-seamless", "--model", "-m", help="Model to analyse."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Run the study on built-in defaults: synthesize the demo corpus, record all five tasks."""
    from babelscope.cli.record_cmds import console, print_store_summary
    from babelscope.corpus import build_task_samples
    from babelscope.corpus.demo_corpus import build_demo_corpus
    from babelscope.models import load_model
    from babelscope.record import RecordSettings, record

    corpus = build_demo_corpus(out / "corpus", progress=progress)
    samples = build_task_samples(corpus, ["asr", "s2t", "t2t", "en2x_s2t", "en2x_t2t"])
    adapter = load_model(model)
    settings = RecordSettings(steps=(2, 7, 12), sites=("text_decoder", "speech_encoder.encoder.layers.*.ffn1.intermediate_dense",
                                                        "text_encoder.layers.*.ffn.fc1"),
                              batch_size=16, max_new_tokens=16)
    store = record(adapter, samples, out / "activations", settings, progress=progress)
    print_store_summary(store)
    console.print(str((out / "activations").resolve()))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
