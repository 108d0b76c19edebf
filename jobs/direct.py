"""Direct calls: run a job for a request that waits for it, and answer with its result or its error."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from jobs.errors import DirectCallTimedOut, JobNotFound
from jobs.model import Job
from jobs.outcomes import outcome_error
from jobs.service import JobService


async def run_directly(
    service: JobService, endpoint_path: Any, payload: Any, client: str, request_id: str | None, payload_size: int = 0
) -> Job:
    """Run a job and wait for it: the completed job, or the error its ending maps to.

    A direct call is a job like any other (same queue, limits, timeout and workers). The record is
    deleted once it ends (this answer is its only delivery), and a caller that is cancelled (a
    client that hung up) cancels the job: nobody will read its result.
    """
    started = await service.start(endpoint_path, payload, client, request_id, payload_size)
    job_id = started.job.id
    try:
        job = await service.wait_until_finished(job_id, started.job.timeout_seconds * 2 + 5)
    except asyncio.CancelledError:
        await asyncio.shield(_cancel_quietly(service, job_id))
        raise
    await service.discard(job_id)
    if job is None:
        raise JobNotFound("the job was deleted before it finished", job_id=job_id)
    if job.status.is_active:
        raise DirectCallTimedOut("the job did not finish in time")
    error = outcome_error(job, direct=True)
    if error is not None:
        raise error
    return job


async def _cancel_quietly(service: JobService, job_id: str) -> None:
    with contextlib.suppress(JobNotFound):
        await service.delete(job_id)
