"""Corpus: manifest reading and validation, audio, tasks."""

from babelscope.corpus.manifest import Corpus, CorpusRecord, read_manifest, write_manifest
from babelscope.corpus.tasks import TASKS, TaskSample, build_task_samples, parse_tasks

__all__ = ["Corpus", "CorpusRecord", "read_manifest", "write_manifest", "TASKS", "TaskSample",
           "build_task_samples", "parse_tasks"]
