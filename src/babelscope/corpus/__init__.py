"""Corpus: manifest reading and validation, audio, tasks."""

from babelscope.corpus.manifest import Corpus, CorpusRecord, read_manifest, write_manifest
from babelscope.corpus.tasks import TaskSample, build_task_samples, parse_tasks
from babelscope.vocab.tasks import TASKS

__all__ = ["Corpus", "CorpusRecord", "read_manifest", "write_manifest", "TASKS", "TaskSample",
           "build_task_samples", "parse_tasks"]
