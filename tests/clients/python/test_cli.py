"""The installed `docjobs` command as a user runs it, from a folder outside the repository: output files,
progress lines, exit statuses, Ctrl-C."""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from docjobs_client.cli import (
    EXIT_DEADLINE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
)
from tests.clients.python.commands import (
    LiveCommand,
    TerminalCommand,
    docjobs,
    printed_commands,
    run_printed,
    user_env,
)
from tests.process import free_port


def cli(url: str, *args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return docjobs(url, *args, cwd=cwd, stdin=stdin, env=user_env(url, DOCJOBS_API_KEY="cli-key"))


SLEEP = "/api/v1/demo/sleep"


def write_json(path: Path, data: object) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_run_writes_the_result_and_decodes_the_output_file(service_url: str, tmp_path: Path) -> None:
    content = b"PK\x03\x04 not really a deck"
    payload = {"file": {"name": "../deck.pptx", "base64": base64.b64encode(content).decode()}}
    write_json(tmp_path / "p.json", payload)
    (tmp_path / "out").mkdir()
    # Relative paths, from a folder outside the repository, as a user types them.
    done = cli(service_url, "run", "/api/v1/demo/echo", "p.json", "-o", "out/result.json", cwd=tmp_path)
    assert done.returncode == EXIT_OK, done.stderr
    assert json.loads((tmp_path / "out" / "result.json").read_text())["data"] == payload
    assert (tmp_path / "out" / "deck.pptx").read_bytes() == content, "written beside -o, never outside it"
    assert "wrote" in done.stderr and "deck.pptx" in done.stderr


def test_run_shows_progress_as_plain_lines_when_not_a_terminal(service_url: str, tmp_path: Path) -> None:
    payload = write_json(tmp_path / "p.json", {"seconds": 0.6, "steps": 3})
    done = cli(service_url, "run", SLEEP, payload, cwd=tmp_path)
    assert done.returncode == EXIT_OK, done.stderr
    assert json.loads(done.stdout)["message"] == "Slept 0.6 s"
    lines = done.stderr.splitlines()
    assert "[100%] completed: Job completed successfully" in lines
    assert any(line.startswith("[ 33%] running: step 1 of 3") for line in lines), lines
    assert "\x1b" not in done.stderr, "no terminal control codes in a pipe"


def test_a_failed_job_exits_1_with_the_service_message(service_url: str, tmp_path: Path) -> None:
    payload = write_json(tmp_path / "p.json", {"message": "Excel file not found"})
    done = cli(service_url, "run", "/api/v1/demo/fail", payload, "-q", cwd=tmp_path)
    assert done.returncode == EXIT_FAILED
    assert "job_failed: Job failed: Excel file not found" in done.stderr
    assert done.stdout == ""


def test_the_deadline_exits_3_with_commands_that_follow_and_cancel_the_job(service_url: str, tmp_path: Path) -> None:
    payload = write_json(tmp_path / "p.json", {"seconds": 20})
    done = cli(service_url, "run", SLEEP, payload, "--deadline", "0.5", "-q", cwd=tmp_path)
    assert done.returncode == EXIT_DEADLINE, done.stderr
    assert "; the job goes on." in done.stderr
    commands = printed_commands(done.stderr)
    job_id = commands["cancel it"].split()[2]
    assert commands == {
        "fetch its result": f"docjobs result {job_id} --url {service_url}",
        "follow it": f"docjobs status {job_id} --wait 25 --url {service_url}",
        "cancel it": f"docjobs cancel {job_id} --url {service_url}",
    }
    assert_the_printed_commands_work(commands, tmp_path)


def assert_the_printed_commands_work(commands: dict[str, str], cwd: Path) -> None:
    """Follow, cancel, then fail to fetch the job, each command run exactly as printed."""
    status = run_printed(commands["follow it"], cwd=cwd)
    assert status.returncode == EXIT_OK, status.stderr
    assert json.loads(status.stdout)["status"] in ("pending", "running")
    cancelled = run_printed(commands["cancel it"], cwd=cwd)
    assert cancelled.returncode == EXIT_OK, cancelled.stderr
    assert json.loads(cancelled.stdout)["success"] is True
    gone = run_printed(commands["fetch its result"], cwd=cwd)
    assert gone.returncode == EXIT_FAILED
    assert "job_not_found" in gone.stderr


def test_ctrl_c_exits_130_leaving_the_job_and_printing_how_to_fetch_or_cancel_it(
    service_url: str, tmp_path: Path
) -> None:
    write_json(tmp_path / "p.json", {"seconds": 20, "steps": 20})
    args = ["run", SLEEP, "p.json", "-o", "out.json"]
    with LiveCommand(args, cwd=tmp_path, env=user_env(service_url)) as live:
        live.wait_for_line("[")  # a progress line: the job has its id and is being followed
        live.process.send_signal(signal.SIGINT)
        code, stdout, stderr = live.finish()
    assert code == EXIT_INTERRUPTED, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert stdout == ""
    commands = printed_commands(stderr)
    job_id = commands["cancel it"].split()[2]
    assert f"docjobs: interrupted; job {job_id} goes on in the service." in stderr.splitlines()
    assert commands == {
        "fetch its result": f"docjobs result {job_id} -o out.json --url {service_url}",
        "follow it": f"docjobs status {job_id} --wait 25 --url {service_url}",
        "cancel it": f"docjobs cancel {job_id} --url {service_url}",
    }
    assert_the_printed_commands_work(commands, tmp_path)


@contextmanager
def silent_service() -> Iterator[tuple[str, threading.Event]]:
    """A loopback listener that reads one request and never answers: the URL, and an event set once
    the request's headers have arrived."""
    received = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def take_one() -> None:
            connection, _ = listener.accept()
            with connection:
                data = b""
                while b"\r\n\r\n" not in data and (chunk := connection.recv(4096)):
                    data += chunk
                received.set()
                connection.recv(1)  # hold the connection until the client drops it

        thread = threading.Thread(target=take_one, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", received
        thread.join(10)


def test_ctrl_c_before_the_service_named_the_job_says_so(tmp_path: Path) -> None:
    write_json(tmp_path / "p.json", {})
    args = ["run", "/api/v1/demo/echo", "p.json"]
    with silent_service() as (url, received), LiveCommand(args, cwd=tmp_path, env=user_env(url)) as live:
        assert received.wait(30), "the start request never arrived"
        live.process.send_signal(signal.SIGINT)
        code, stdout, stderr = live.finish()
    assert (code, stdout) == (EXIT_INTERRUPTED, "")
    assert stderr == "docjobs: interrupted before the service named the job; if it was started, it runs on"


def test_the_status_and_result_commands_follow_a_job_started_elsewhere(service_url: str, tmp_path: Path) -> None:
    job_id = start_job(service_url, SLEEP, {"seconds": 0.3, "steps": 1})
    for _ in range(20):
        status = cli(service_url, "status", job_id, "--wait", "5", cwd=tmp_path)
        assert status.returncode == EXIT_OK, status.stderr
        if json.loads(status.stdout)["status"] == "completed":
            break
    done = cli(service_url, "result", job_id, "-o", "again.json", cwd=tmp_path)
    assert done.returncode == EXIT_OK, done.stderr
    assert json.loads((tmp_path / "again.json").read_text())["message"] == "Slept 0.3 s"


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
    missing = cli(service_url, "run", "/api/v1/demo/echo", "nope.json", cwd=tmp_path)
    assert missing.returncode == EXIT_USAGE
    assert "cannot read the payload file" in missing.stderr
    (tmp_path / "bad.json").write_text("{not json")
    assert cli(service_url, "run", "/api/v1/demo/echo", "bad.json", cwd=tmp_path).returncode == EXIT_USAGE
    assert cli(service_url, "frobnicate", cwd=tmp_path).returncode == EXIT_USAGE


def test_a_url_without_a_scheme_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    # Refused before any request: nothing is sent to localhost:8080.
    expected = (
        "docjobs: the service URL 'localhost:8080' is not http:// or https://, a host and an optional port;"
        " did you mean 'http://localhost:8080'? (from --url or DOCJOBS_URL)\n"
    )
    from_env = docjobs("localhost:8080", "run", "/api/v1/demo/echo", "-", cwd=tmp_path, stdin="{}")
    assert (from_env.returncode, from_env.stderr) == (EXIT_USAGE, expected)
    job_id = "job_1690123456789_0123456789abcdef0123456789abcdef"
    from_flag = docjobs("http://127.0.0.1:1", "status", job_id, "--url", "localhost:8080", cwd=tmp_path)
    assert (from_flag.returncode, from_flag.stderr) == (EXIT_USAGE, expected)


def test_an_unreachable_service_exits_4(tmp_path: Path) -> None:
    payload = write_json(tmp_path / "p.json", {})
    done = cli(f"http://127.0.0.1:{free_port()}", "run", "/api/v1/demo/echo", payload, "-q", cwd=tmp_path)
    assert done.returncode == EXIT_UNAVAILABLE
    assert "network_error" in done.stderr


def test_run_draws_a_live_bar_on_a_terminal(service_url: str, tmp_path: Path) -> None:
    payload = write_json(tmp_path / "p.json", {"seconds": 0.4, "steps": 2})
    with TerminalCommand(["run", SLEEP, payload, "-o", "o.json"], cwd=tmp_path, env=user_env(service_url)) as term:
        text = term.read_until(None)
        assert term.process.wait(timeout=30) == EXIT_OK
    assert "\x1b[" in text, "a terminal gets the redrawn bar"
    assert "100%" in text and "completed: Job completed successfully" in text


def test_ctrl_c_on_a_terminal_stops_the_bar_before_printing_the_commands(service_url: str, tmp_path: Path) -> None:
    write_json(tmp_path / "p.json", {"seconds": 20, "steps": 20})
    with TerminalCommand(["run", SLEEP, "p.json"], cwd=tmp_path, env=user_env(service_url)) as term:
        term.read_until(b"running: step 1 of 20")
        term.process.send_signal(signal.SIGINT)
        text = term.read_until(None)
        assert term.process.wait(timeout=30) == EXIT_INTERRUPTED
    assert "Traceback" not in text
    bar, _, message = text.partition("docjobs: interrupted; job ")
    assert bar.endswith("\x1b[?25h"), "the bar stopped and gave the cursor back first"
    assert "\x1b" not in message, "nothing redrawn over the message"
    commands = printed_commands(message.replace("\r\n", "\n"))
    assert set(commands) == {"fetch its result", "follow it", "cancel it"}
    cancelled = run_printed(commands["cancel it"], cwd=tmp_path)
    assert cancelled.returncode == EXIT_OK, cancelled.stderr
