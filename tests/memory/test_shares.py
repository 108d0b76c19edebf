"""Each client has its own share of the result budget: one client filling it never refuses another's job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.memory.helpers import start, wait_final
from tests.process import run_server

pytestmark = pytest.mark.slow

ALICE, BOB = "alice-key-0123456789", "bob-key-0123456789"
CONFIG = f"""
[server]
shutdown_grace_seconds = 1

[pool]
workers = 2

[jobs]
result_grace_seconds = 0
max_result_bytes = 4194304          # each start reserves 4 MiB ...
max_client_result_bytes = 8388608   # ... of an 8 MiB share: two jobs' worth
max_stored_result_bytes = 33554432

[auth]
keys = {{ alice = "{ALICE}", bob = "{BOB}" }}

[endpoints]
"/api/v1/demo/big-result" = "tests.fault_handlers:big_result"
"""
BODY = json.dumps({"endpoint": "/api/v1/demo/big-result", "payload": {"rows": 25_000, "width": 100}}).encode()


def as_client(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def refused_start(
    session: aiohttp.ClientSession, url: str, body: bytes = BODY
) -> tuple[aiohttp.ClientResponse, dict[str, Any]]:
    async with session.post(f"{url}/api/v1/jobs/start", data=body, headers={"Content-Type": "application/json"}) as r:
        return r, await r.json()


@pytest.mark.timeout(60)
async def test_a_client_at_its_result_share_cannot_make_another_clients_start_fail(tmp_path: Path) -> None:
    with run_server(tmp_path, config=CONFIG) as server:
        async with (
            aiohttp.ClientSession(headers=as_client(ALICE)) as alice,
            aiohttp.ClientSession(headers=as_client(BOB)) as bob,
        ):
            held = [await start(alice, server.url, BODY) for _ in range(2)]
            response, refusal = await refused_start(alice, server.url)
            assert response.status == 503, refusal
            assert refusal["error"] == "store_full" and refusal["success"] is False
            assert "8.0 MiB share" in refusal["message"] and "jobs.max_client_result_bytes" in refusal["message"]
            assert int(response.headers["Retry-After"]) >= 1
            for job_id in held:  # finished, not fetched: the results stay in alice's share
                assert (await wait_final(alice, server.url, job_id))["status"] == "completed"
            response, refusal = await refused_start(alice, server.url)
            assert response.status == 503, refusal

            other = await start(bob, server.url, BODY)  # bob's share is untouched
            assert (await wait_final(bob, server.url, other))["status"] == "completed"
            async with bob.get(f"{server.url}/api/v1/jobs/{other}/result") as answer:
                assert len((await answer.json())["data"]["data"]["rows"]) == 25_000

            async with alice.get(f"{server.url}/api/v1/jobs/{held[0]}/result") as answer:
                assert answer.status == 200
            async with alice.get(f"{server.url}/api/v1/jobs/{held[0]}/status") as gone:
                assert gone.status == 404  # past its grace of 0 s: deleted, its bytes given back
            await start(alice, server.url, BODY)


PAYLOAD_CONFIG = f"""
[server]
shutdown_grace_seconds = 1

[pool]
workers = 2

[jobs]
max_client_payload_bytes = 1048576  # one 600 KB payload per client at a time
max_held_payload_bytes = 4194304

[auth]
keys = {{ alice = "{ALICE}", bob = "{BOB}" }}

[endpoints]
"/api/v1/demo/sleep" = {{ handler = "handlers.demo:sleep", validator = "handlers.demo:validate_sleep" }}
"""
PADDED = json.dumps({"endpoint": "/api/v1/demo/sleep", "payload": {"seconds": 20, "pad": "p" * 600_000}}).encode()


@pytest.mark.timeout(60)
async def test_payloads_of_pending_and_running_jobs_count_in_their_clients_share(tmp_path: Path) -> None:
    with run_server(tmp_path, config=PAYLOAD_CONFIG) as server:
        async with (
            aiohttp.ClientSession(headers=as_client(ALICE)) as alice,
            aiohttp.ClientSession(headers=as_client(BOB)) as bob,
        ):
            first = await start(alice, server.url, PADDED)
            response, refusal = await refused_start(alice, server.url, PADDED)
            assert response.status == 503, refusal
            assert refusal["error"] == "store_full" and "jobs.max_client_payload_bytes" in refusal["message"]
            await start(bob, server.url, PADDED)  # bob's payload share is his own
            async with alice.delete(f"{server.url}/api/v1/jobs/{first}") as deleted:
                assert deleted.status == 200  # its worker is stopped, its payload released
            await start(alice, server.url, PADDED)
