"""Benchmark the worker pipe's messages: the tuples that are pickled against pickling the dataclasses.

Every job crosses a worker's pipe three times (run, started, done). This measures one round of the
three, dumped and loaded as the pool does it (`to_wire` tuples, then `worker_message` back into
dataclasses), against pickling the dataclass instances themselves and against bare tuples with no
dataclass at all (the format before the messages were typed), in the same run.

Usage: .venv/bin/python bench/bench_messages.py [--rounds 20000]
"""

from __future__ import annotations

import argparse
import pickle
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs.pool.messages import Outcome, RunTask, TaskDone, TaskStarted, worker_message

PROTOCOL = pickle.HIGHEST_PROTOCOL


def as_wire() -> None:
    """One job's three messages the way the pool sends them."""
    run = RunTask("job_1", "handlers.demo:echo", {"rows": [1, 2, 3]})
    RunTask.from_wire(pickle.loads(pickle.dumps(run.to_wire(), PROTOCOL)))
    worker_message(pickle.loads(pickle.dumps(TaskStarted("job_1", 1.5).to_wire(), PROTOCOL)))
    done = TaskDone("job_1", Outcome("ok", '{"rows":[1,2,3]}'))
    worker_message(pickle.loads(pickle.dumps(done.to_wire(), PROTOCOL)))


def as_dataclasses() -> None:
    """The same three messages pickled as dataclass instances (the reference)."""
    pickle.loads(pickle.dumps(RunTask("job_1", "handlers.demo:echo", {"rows": [1, 2, 3]}), PROTOCOL))
    pickle.loads(pickle.dumps(TaskStarted("job_1", 1.5), PROTOCOL))
    pickle.loads(pickle.dumps(TaskDone("job_1", Outcome("ok", '{"rows":[1,2,3]}')), PROTOCOL))


def as_bare_tuples() -> None:
    """The same three messages as bare tuples, with no dataclass on either side (the floor)."""
    pickle.loads(pickle.dumps(("job_1", "handlers.demo:echo", {"rows": [1, 2, 3]}), PROTOCOL))
    pickle.loads(pickle.dumps(("started", "job_1", 1.5), PROTOCOL))
    pickle.loads(pickle.dumps(("done", "job_1", "ok", '{"rows":[1,2,3]}', ""), PROTOCOL))


def main() -> None:
    """Print microseconds per job for the three ways and their ratios to pickling the dataclasses."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20000)
    rounds = parser.parse_args().rounds
    wire = min(timeit.repeat(as_wire, number=rounds, repeat=5)) / rounds * 1e6
    reference = min(timeit.repeat(as_dataclasses, number=rounds, repeat=5)) / rounds * 1e6
    floor = min(timeit.repeat(as_bare_tuples, number=rounds, repeat=5)) / rounds * 1e6
    print(f"pipe messages per job: as the pool sends them {wire:.2f} us, dataclasses pickled {reference:.2f} us, ")
    print(f"bare tuples {floor:.2f} us; ratios to dataclasses pickled: {wire / reference:.2f}, {floor / reference:.2f}")


if __name__ == "__main__":
    main()
