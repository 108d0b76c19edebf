"""`python -m jobs.client` as a user runs it: output files, progress lines, exit statuses."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from jobs.client.cli import EXIT_DEADLINE, EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE
from tests.process import ROOT, free_port


def cli(url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCJOBS_URL": url, "DOCJOBS_API_KEY": "cli-key"}
    return subprocess.run(
        [sys.executable, "-m", "jobs.client", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write_json(path: Path, data: object) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_run_writes_the_result_and_decodes_the_output_file(service_url: str, tmp_path: Path) -> None:
    content = b"PK\x03\x04 not really a deck"
    payload = {"file": {"name": "../deck.pptx", "base64": base64.b64encode(content).decode()}}
    out = tmp_path / "out" / "result.json"
    out.parent.mkdir()
    done = cli(service_url, "run", "/api/v1/demo/echo", write_json(tmp_path / "p.json", payload), "-o", str(out))
    assert done.returncode == EXIT_OK, done.stderr
    assert json.loads(out.read_text())["data"] == payload
    assert (out.parent / "deck.pptx").read_bytes() == content, "written beside -o, never outside it"
    assert "wrote" in done.stderr and "deck.pptx" in done.stderr


def test_run_shows_progress_as_plain_lines_when_not_a_terminal(service_url: str, tmp_path: Path) -> None:
    payload = write_json(tmp_path / "p.json", {"seconds": 0.6, "steps": 3})
    done = cli(service_url, "run", "/api/v1/demo/sleep", payload)
    assert done.returncode == EXIT_OK, done.stderr
    assert json.loads(done.stdout)["message"] == "Slept 0.6 s"
    lines = done.stderr.splitlines()
    assert "[100%] completed: Job completed successfully" in lines
    assert any(line.startswith("[ 33%] running: step 1 of 3") for line in lines), lines
    assert "\x1b" not in done.stderr, "no terminal control codes in a pipe"


def test_a_failed_job_exits_1_with_the_service_message(service_url: str, tmp_path: Path) -> None:
    payload = write_json(tmp_path / "p.json", {"message": "Excel file not found"})
    done = cli(service_url, "run", "/api/v1/demo/fail", payload, "-q")
    assert done.returncode == EXIT_FAILED
    assert "job_failed: Job failed: Excel file not found" in done.stderr
    assert done.stdout == ""


def test_the_deadline_exits_3_and_the_job_can_be_cancelled(service_url: str, tmp_path: Path) -> None:
    payload = write_json(tmp_path / "p.json", {"seconds": 20})
    done = cli(service_url, "run", "/api/v1/demo/sleep", payload, "--deadline", "0.5", "-q")
    assert done.returncode == EXIT_DEADLINE, done.stderr
    job_id = done.stderr.split("python -m jobs.client result ")[1].split("`")[0]
    status = cli(service_url, "status", job_id)
    assert status.returncode == EXIT_OK
    assert json.loads(status.stdout)["status"] in ("pending", "running")
    cancelled = cli(service_url, "cancel", job_id)
    assert cancelled.returncode == EXIT_OK
    assert json.loads(cancelled.stdout)["success"] is True
    gone = cli(service_url, "result", job_id)
    assert gone.returncode == EXIT_FAILED
    assert "job_not_found" in gone.stderr


def test_the_status_and_result_commands_follow_a_job_started_elsewhere(service_url: str, tmp_path: Path) -> None:
    job_id = start_job(service_url, "/api/v1/demo/sleep", {"seconds": 0.3, "steps": 1})
    for _ in range(20):
        status = cli(service_url, "status", job_id, "--wait", "5")
        assert status.returncode == EXIT_OK, status.stderr
        if json.loads(status.stdout)["status"] == "completed":
            break
    out = tmp_path / "again.json"
    done = cli(service_url, "result", job_id, "-o", str(out))
    assert done.returncode == EXIT_OK, done.stderr
    assert json.loads(out.read_text())["message"] == "Slept 0.3 s"


def start_job(url: str, endpoint: str, payload: object) -> str:
    request = urllib.request.Request(
        f"{url}/api/v1/jobs/start",
        data=json.dumps({"endpoint": endpoint, "payload": payload}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        job_id: str = json.loads(response.read())["jobId"]
        return job_id


def test_usage_errors_exit_2(service_url: str, tmp_path: Path) -> None:
    missing = cli(service_url, "run", "/api/v1/demo/echo", str(tmp_path / "nope.json"))
    assert missing.returncode == EXIT_USAGE
    assert "cannot read the payload file" in missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert cli(service_url, "run", "/api/v1/demo/echo", str(bad)).returncode == EXIT_USAGE
    assert cli(service_url, "frobnicate").returncode == EXIT_USAGE


def test_an_unreachable_service_exits_4(tmp_path: Path) -> None:
    payload = write_json(tmp_path / "p.json", {})
    done = cli(f"http://127.0.0.1:{free_port()}", "run", "/api/v1/demo/echo", payload, "-q")
    assert done.returncode == EXIT_UNAVAILABLE
    assert "network_error" in done.stderr


def test_run_draws_a_live_bar_on_a_terminal(service_url: str, tmp_path: Path) -> None:
    import pty

    payload = write_json(tmp_path / "p.json", {"seconds": 0.4, "steps": 2})
    leader, follower = pty.openpty()
    env = {**os.environ, "DOCJOBS_URL": service_url, "COLUMNS": "100"}
    process = subprocess.Popen(
        [sys.executable, "-m", "jobs.client", "run", "/api/v1/demo/sleep", payload, "-o", str(tmp_path / "o.json")],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    assert process.wait(timeout=60) == EXIT_OK
    text = screen.decode(errors="replace")
    assert "\x1b[" in text, "a terminal gets the redrawn bar"
    assert "100%" in text and "completed: Job completed successfully" in text
