"""A warm "zygote" for the crash tests: imports babelscope's CLI (torch, transformers, zarr, pyarrow,
the language identifier) once, then forks one child per command; each child runs
``babelscope.cli.main(args)`` exactly as the console script does and exits with its status.

Forking skips the ~5 s of imports that every fresh ``babelscope`` process pays, so the crash test
can afford many SIGKILLs. The children are ordinary processes: the test kills them with SIGKILL by
pid, as it would kill a fresh CLI process. The zygote itself never runs a torch operation (forking
after one could copy a busy OpenMP thread pool).

Protocol: one JSON object per line on stdin, one reply per line on stdout.

    {"op": "run", "args": [...], "log": PATH}   -> {"pid": PID}
    {"op": "wait", "pid": PID}                  -> {"status": CODE}   (negative: killed by signal)
    {"op": "quit"}                              -> exits
"""

from __future__ import annotations

import json
import os
import sys


def _child(args: list[str], log: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    code = 0
    try:
        from babelscope.cli import main

        sys.argv = ["babelscope", *args]
        main(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - report any crash through the exit status
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def serve() -> None:
    import babelscope.cli  # noqa: F401  (typer, rich and every command module)
    import babelscope.intervene  # noqa: F401
    import babelscope.rank  # noqa: F401
    import babelscope.record  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import transformers  # noqa: F401
    import zarr  # noqa: F401
    from transformers import SeamlessM4Tv2Model  # noqa: F401  (the lazy model module)

    from babelscope.evaluate import lid

    lid._py3langid_base()  # the language identifier's tables (numpy only)

    out = sys.stdout
    print(json.dumps({"ready": True}), file=out, flush=True)
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["op"] == "run":
            out.flush()
            pid = os.fork()
            if pid == 0:
                _child(msg["args"], msg["log"])
            print(json.dumps({"pid": pid}), file=out, flush=True)
        elif msg["op"] == "wait":
            _, status = os.waitpid(msg["pid"], 0)
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            print(json.dumps({"status": code}), file=out, flush=True)
        elif msg["op"] == "quit":
            return


if __name__ == "__main__":
    serve()
