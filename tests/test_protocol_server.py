"""`autogpt serve` over real HTTP (httpx, following the Agent Protocol spec), with the scripted model."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import threading
import time

import httpx
import pytest
from ap_helpers import AUTOGPT, Server, decision, write_script

WRITE_THEN_FINISH = [
    decision("write_file", "write it", path="out/answer.txt", content="Washington"),
    decision("finish", "done", reason="wrote out/answer.txt"),
]


@pytest.fixture
def server(tmp_path):
    model = write_script(tmp_path / "script.json", WRITE_THEN_FINISH)
    srv = Server(tmp_path / "ws", model).start()
    yield srv
    srv.stop()


def test_full_task_over_plain_http(server, tmp_path):
    with server.client() as c:
        r = c.post("/agent/tasks", json={"input": "Write Washington to out/answer.txt", "additional_input": {"a": 1}})
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        task = r.json()
        assert task["input"].startswith("Write") and task["artifacts"] == [] and task["additional_input"] == {"a": 1}
        tid = task["task_id"]
        binary = bytes(range(256)) * 40
        up = c.post(f"/agent/tasks/{tid}/artifacts", files={"file": ("data.bin", binary)},
                    data={"relative_path": "inputs/deep/er"})
        assert up.status_code == 200, up.text
        uploaded = up.json()
        assert uploaded["agent_created"] is False and uploaded["relative_path"] == "inputs/deep/er/data.bin"
        assert uploaded["file_name"] == "data.bin" and uploaded["created_at"] and uploaded["modified_at"]

        first = c.post(f"/agent/tasks/{tid}/steps", json={}).json()
        assert first["status"] == "completed" and not first["is_last"] and first["name"] == "write_file"
        proposed = {"name": "write_file", "arguments": {"path": "out/answer.txt", "content": "Washington"}}
        assert first["additional_output"]["use_tool"] == proposed
        assert "write it" in first["output"] and "Proposed action: write_file" in first["output"]
        second = c.post(f"/agent/tasks/{tid}/steps", json={"input": "y"}).json()
        assert "Result of write_file (ok)" in second["output"]
        assert [a["relative_path"] for a in second["artifacts"]] == ["out/answer.txt"]
        assert second["artifacts"][0]["agent_created"] is True
        last = c.post(f"/agent/tasks/{tid}/steps").json()  # no body at all: approval, like clients that send none
        assert last["is_last"] is True and last["additional_output"]["status"] == "finished"
        assert c.post(f"/agent/tasks/{tid}/steps", json={}).status_code == 409

        arts = c.get(f"/agent/tasks/{tid}/artifacts").json()
        assert arts["pagination"] == {"total_items": 2, "total_pages": 1, "current_page": 1, "page_size": 10}
        by_path = {a["relative_path"]: a for a in arts["artifacts"]}
        got = c.get(f"/agent/tasks/{tid}/artifacts/{by_path['out/answer.txt']['artifact_id']}")
        assert got.content == b"Washington" and got.headers["content-type"] == "application/octet-stream"
        got = c.get(f"/agent/tasks/{tid}/artifacts/{by_path['inputs/deep/er/data.bin']['artifact_id']}")
        assert got.content == binary
        steps = c.get(f"/agent/tasks/{tid}/steps", params={"page_size": 2}).json()
        assert len(steps["steps"]) == 2 and steps["pagination"]["total_pages"] == 2
        assert c.get(f"/agent/tasks/{tid}/steps/{first['step_id']}").json()["output"] == first["output"]
        assert {a["relative_path"] for a in c.get(f"/agent/tasks/{tid}").json()["artifacts"]} == set(by_path)
    # The upload was in the task's own folder, where its agent works.
    ws = tmp_path / "ws" / "agents" / f"task-{tid}" / "workspace"
    assert (ws / "inputs/deep/er/data.bin").read_bytes() == binary and (ws / "out/answer.txt").exists()


def test_feedback_is_not_run_and_reaches_the_model(tmp_path):
    model = write_script(tmp_path / "s.json", [
        decision("write_file", path="bad.txt", content="x"),
        decision("finish", reason="ok"),
    ])
    srv = Server(tmp_path / "ws", model).start()
    try:
        with srv.client() as c:
            tid = c.post("/agent/tasks", json={"input": "g"}).json()["task_id"]
            c.post(f"/agent/tasks/{tid}/steps", json={})
            s = c.post(f"/agent/tasks/{tid}/steps", json={"input": "do not write bad.txt"}).json()
            assert "last_action" not in s["additional_output"] and s["name"] == "finish"
            assert c.get(f"/agent/tasks/{tid}/artifacts").json()["artifacts"] == []
    finally:
        srv.stop()
    events = [json.loads(x) for run in (tmp_path / "ws" / "runs").iterdir() for x in (run / "events.jsonl").open()]
    assert any(e["type"] == "user_feedback" and e["text"] == "do not write bad.txt" for e in events)


def test_pagination_of_tasks(server):
    with server.client() as c:
        ids = [c.post("/agent/tasks", json={"input": f"task {i}"}).json()["task_id"] for i in range(23)]
        page = c.get("/agent/tasks", params={"current_page": 3, "page_size": 10}).json()
        assert page["pagination"] == {"total_items": 23, "total_pages": 3, "current_page": 3, "page_size": 10}
        assert [t["task_id"] for t in page["tasks"]] == ids[20:]
        default = c.get("/agent/tasks").json()
        assert [t["task_id"] for t in default["tasks"]] == ids[:10] and default["pagination"]["page_size"] == 10
        assert c.get("/agent/tasks", params={"current_page": 9}).json()["tasks"] == []
        assert c.get("/agent/tasks", params={"page_size": 0}).status_code == 422


def test_error_paths_are_json(server, tmp_path):
    with server.client() as c:
        tid = c.post("/agent/tasks", json={"input": "g"}).json()["task_id"]
        for path in ("/agent/tasks/nope", "/agent/tasks/nope/steps", f"/agent/tasks/{tid}/steps/nope",
                     f"/agent/tasks/{tid}/artifacts/nope", "/agent/tasks/nope/artifacts"):
            r = c.get(path)
            assert r.status_code == 404 and "message" in r.json(), path
        assert c.post("/agent/tasks/nope/steps", json={}).status_code == 404
        r = c.post("/agent/tasks", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 400 and "not valid JSON" in r.json()["message"]
        r = c.post("/agent/tasks", json={"input": 5})
        assert r.status_code == 422 and r.json()["message"].startswith("invalid input")
        assert c.post("/agent/tasks", json={}).status_code == 422  # a task needs an input
        r = c.get(server.url + "/nowhere")
        assert r.status_code == 404 and r.json()["message"] and r.headers["cache-control"] == "no-store"
        assert c.post(f"/agent/tasks/{tid}/artifacts", data={"relative_path": "x"}).status_code == 422  # no file
        # traversal and absolute paths are refused, nothing is written outside
        for bad in ("../escape", "../../etc", "/etc", "a/../../b"):
            r = c.post(f"/agent/tasks/{tid}/artifacts", files={"file": ("x.txt", b"pwn")}, data={"relative_path": bad})
            assert r.status_code == 400 and "workspace" in r.json()["message"], (bad, r.text)
        r = c.post(f"/agent/tasks/{tid}/artifacts", files={"file": ("..", b"pwn")})
        assert r.status_code == 400
        assert not list((tmp_path / "ws").rglob("x.txt")) and not (tmp_path / "escape").exists()
        # a symlink the agent (or anyone) planted in the workspace does not lead uploads or downloads out
        ws = tmp_path / "ws" / "agents" / f"task-{tid}" / "workspace"
        ws.mkdir(parents=True, exist_ok=True)
        outside = tmp_path / "outside"
        outside.mkdir()
        (ws / "link").symlink_to(outside)
        r = c.post(f"/agent/tasks/{tid}/artifacts", files={"file": ("x.txt", b"pwn")}, data={"relative_path": "link"})
        assert r.status_code == 400 and not (outside / "x.txt").exists()


def test_upload_over_the_limit_is_413(tmp_path):
    model = write_script(tmp_path / "s.json", WRITE_THEN_FINISH)
    srv = Server(tmp_path / "ws", model, env={"AUTOGPT_MAX_UPLOAD_MB": "0.1"}).start()
    try:
        with srv.client() as c:
            tid = c.post("/agent/tasks", json={"input": "g"}).json()["task_id"]
            limit = int(0.1 * 1024 * 1024)
            ok = c.post(f"/agent/tasks/{tid}/artifacts", files={"file": ("ok.bin", b"a" * limit)})
            assert ok.status_code == 200
            r = c.post(f"/agent/tasks/{tid}/artifacts", files={"file": ("big.bin", b"a" * (limit + 1))})
            assert r.status_code == 413 and "too large" in r.json()["message"]
            big = b"a" * (limit * 4)  # streamed without Content-Length (chunked): cut off while reading

            def chunks():
                yield b"--xx\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big2.bin\"\r\n\r\n"
                for i in range(0, len(big), 65536):
                    yield big[i:i + 65536]
                yield b"\r\n--xx--\r\n"

            r = c.post(f"/agent/tasks/{tid}/artifacts", content=chunks(),
                       headers={"content-type": "multipart/form-data; boundary=xx"})
            assert r.status_code == 413
        ws = tmp_path / "ws" / "agents" / f"task-{tid}" / "workspace"
        assert not (ws / "big.bin").exists() and not (ws / "big2.bin").exists()
    finally:
        srv.stop()


def test_api_key_required_when_set(tmp_path):
    model = write_script(tmp_path / "s.json", WRITE_THEN_FINISH)
    key = "s3cret-key-for-tests-1234"
    srv = Server(tmp_path / "ws", model, env={"AUTOGPT_API_KEY": key}).start()
    try:
        with srv.client() as c:
            r = c.post("/agent/tasks", json={"input": "g"})
            assert r.status_code == 401 and "Bearer" in r.json()["message"]
            assert c.get("/agent/tasks", headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert c.get("/agent/tasks", headers={"Authorization": key}).status_code == 401
            assert httpx.get(srv.url + "/heartbeat").status_code == 200  # health checks stay open
        with srv.client(headers={"Authorization": f"Bearer {key}"}) as c:
            tid = c.post("/agent/tasks", json={"input": f"say {key}"}).json()["task_id"]
            step = c.post(f"/agent/tasks/{tid}/steps", json={}).json()
            assert step["status"] == "completed"
            assert key not in json.dumps(c.get(f"/agent/tasks/{tid}/steps").json()["steps"])
    finally:
        srv.stop()


def test_secret_in_model_output_is_redacted_in_steps(tmp_path):
    secret = "sk-live-abcdefghijklmnop1234567890"
    model = write_script(tmp_path / "s.json", [decision("write_file", f"the key is {secret}", path="k.txt",
                                                        content=secret)])
    srv = Server(tmp_path / "ws", model, env={"OPENAI_API_KEY": secret}).start()
    try:
        with srv.client() as c:
            tid = c.post("/agent/tasks", json={"input": "g"}).json()["task_id"]
            step = c.post(f"/agent/tasks/{tid}/steps", json={}).json()
            assert secret not in json.dumps(step) and "REDACTED" in step["output"]
    finally:
        srv.stop()


def test_restart_keeps_tasks_steps_artifacts_and_the_task_goes_on(tmp_path):
    model = write_script(tmp_path / "s.json", WRITE_THEN_FINISH)
    srv = Server(tmp_path / "ws", model).start()
    with srv.client() as c:
        tid = c.post("/agent/tasks", json={"input": "g"}).json()["task_id"]
        c.post(f"/agent/tasks/{tid}/artifacts", files={"file": ("in.txt", b"hello")})
        c.post(f"/agent/tasks/{tid}/steps", json={})
        c.post(f"/agent/tasks/{tid}/steps", json={})  # runs write_file, proposes finish
        before = (c.get(f"/agent/tasks/{tid}").json(), c.get(f"/agent/tasks/{tid}/steps").json(),
                  c.get(f"/agent/tasks/{tid}/artifacts").json())
    srv.stop()
    srv.start()
    try:
        with srv.client() as c:
            after = (c.get(f"/agent/tasks/{tid}").json(), c.get(f"/agent/tasks/{tid}/steps").json(),
                     c.get(f"/agent/tasks/{tid}/artifacts").json())
            assert after == before
            # the pending finish comes back from the run's event log: approving it ends the task
            last = c.post(f"/agent/tasks/{tid}/steps", json={"input": "y"}).json()
            assert last["is_last"] and last["additional_output"]["status"] == "finished"
    finally:
        srv.stop()


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_kill_9_during_a_step_then_restart(tmp_path):
    slow = decision("execute_python", "wait", code="import time\ntime.sleep(60)")
    model = write_script(tmp_path / "s.json", [slow, decision("finish", reason="done")])
    srv = Server(tmp_path / "ws", model, env={"AUTOGPT_SANDBOX": "none"}).start()
    with srv.client() as c:
        tid = c.post("/agent/tasks", json={"input": "g"}).json()["task_id"]
        c.post(f"/agent/tasks/{tid}/steps", json={})
        errors: list[BaseException] = []

        def approve() -> None:
            try:
                c.post(f"/agent/tasks/{tid}/steps", json={"input": "y"})
            except httpx.HTTPError as e:
                errors.append(e)

        t = threading.Thread(target=approve)
        t.start()
        events = next((tmp_path / "ws" / "runs").iterdir()) / "events.jsonl"
        _wait_for(lambda: '"tool_started"' in events.read_text())
        srv.kill9()
        t.join(10)
        assert errors  # the client saw the connection drop
    srv.start()
    try:
        with srv.client() as c:
            steps = c.get(f"/agent/tasks/{tid}/steps").json()["steps"]
            assert [s["status"] for s in steps] == ["completed", "completed"]
            assert "server stopped" in steps[1]["output"] and "error" in steps[1]["additional_output"]
            # the task goes on: the agent resumes from its log (told the tool was interrupted)
            s = c.post(f"/agent/tasks/{tid}/steps", json={}).json()  # the script restarts: proposes the wait again
            assert s["name"] == "execute_python" and not s["is_last"]
            s = c.post(f"/agent/tasks/{tid}/steps", json={"input": "skip the wait"}).json()
            assert s["name"] == "finish"
            assert c.post(f"/agent/tasks/{tid}/steps", json={}).json()["is_last"]
    finally:
        srv.stop()
    text = events.read_text()
    assert "interrupted before it reported a result" in text


def test_twenty_tasks_step_concurrently(tmp_path):
    model = write_script(tmp_path / "s.json", WRITE_THEN_FINISH)
    srv = Server(tmp_path / "ws", model).start()

    async def one(client: httpx.AsyncClient, i: int) -> str:
        r = await client.post("/agent/tasks", json={"input": f"task {i}"})
        tid = r.json()["task_id"]
        for _ in range(5):
            r = await client.post(f"/agent/tasks/{tid}/steps", json={})
            assert r.status_code == 200, r.text
            assert "error" not in r.json()["additional_output"], r.text
            if r.json()["is_last"]:
                return tid
        raise AssertionError("task did not finish")

    async def main() -> list[str]:
        async with httpx.AsyncClient(base_url=srv.url + "/ap/v1", timeout=60) as client:
            return await asyncio.gather(*(one(client, i) for i in range(20)))

    try:
        ids = asyncio.run(main())
        assert len(set(ids)) == 20
        with srv.client() as c:
            for tid in ids:
                arts = c.get(f"/agent/tasks/{tid}/artifacts").json()["artifacts"]
                assert [a["relative_path"] for a in arts] == ["out/answer.txt"]
    finally:
        srv.stop()


def test_steps_of_one_task_are_serialised(tmp_path):
    writes = [decision("write_file", path=f"f{i}.txt", content=str(i)) for i in range(3)]
    model = write_script(tmp_path / "s.json", [*writes, decision("finish", reason="x")])
    srv = Server(tmp_path / "ws", model).start()

    async def main() -> list[dict]:
        async with httpx.AsyncClient(base_url=srv.url + "/ap/v1", timeout=60) as client:
            tid = (await client.post("/agent/tasks", json={"input": "g"})).json()["task_id"]
            rs = await asyncio.gather(*(client.post(f"/agent/tasks/{tid}/steps", json={}) for _ in range(5)))
            return [r.json() for r in rs]

    try:
        steps = asyncio.run(main())
        assert sum(s["is_last"] for s in steps) == 1 and all(s["status"] == "completed" for s in steps)
        assert all("error" not in s["additional_output"] for s in steps)
        actions = [s["additional_output"].get("last_action") for s in steps]
        ran = sorted(a["args"]["path"] for a in actions if a and a["tool"] == "write_file")
        assert ran == ["f0.txt", "f1.txt", "f2.txt"]  # each proposal ran once, none twice or lost
    finally:
        srv.stop()


def test_port_in_use_is_one_line_error(tmp_path):
    model = write_script(tmp_path / "s.json", WRITE_THEN_FINISH)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
        r = subprocess.run([AUTOGPT, "serve", "--port", str(port), "--model", model, "--workspace",
                            str(tmp_path / "ws")], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and r.stderr.strip() == (
        f"error: port {port} on 127.0.0.1 is already in use; choose another with --port"
    )
    r = subprocess.run([AUTOGPT, "serve", "--model", "scripted/missing.json", "--workspace", str(tmp_path / "ws")],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "not found" in r.stderr and "Traceback" not in r.stderr


AGENT_MODULE = '''
import time
from forge.agent.agent import Agent


class SlowAgent(Agent):
    """Every tool call takes 3 s: longer than the server's step limit in the test."""

    def execute(self, proposal):
        time.sleep(3)
        return super().execute(proposal)
'''


def test_custom_agent_class_and_step_time_limit(tmp_path):
    (tmp_path / "slow_agent.py").write_text(AGENT_MODULE)
    model = write_script(tmp_path / "s.json", WRITE_THEN_FINISH)
    env = {"PYTHONPATH": str(tmp_path), "AUTOGPT_STEP_TIMEOUT": "1"}
    srv = Server(tmp_path / "ws", model, env=env, args=["--agent", "slow_agent:SlowAgent"]).start()
    try:
        with srv.client() as c:
            tid = c.post("/agent/tasks", json={"input": "g"}).json()["task_id"]
            assert c.post(f"/agent/tasks/{tid}/steps", json={}).json()["name"] == "write_file"
            t0 = time.monotonic()
            s = c.post(f"/agent/tasks/{tid}/steps", json={}).json()
            assert time.monotonic() - t0 < 2.5  # answered at the limit, not when the tool returned
            assert s["status"] == "completed" and "did not finish within 1 s" in s["additional_output"]["error"]
            busy = c.post(f"/agent/tasks/{tid}/steps", json={})
            assert busy.status_code == 409 and "still running" in busy.json()["message"]
            time.sleep(2.5)
            s = c.post(f"/agent/tasks/{tid}/steps", json={})  # the slow step finished meanwhile
            assert s.status_code == 200, s.text
    finally:
        srv.stop()


def test_docs_are_served_offline(server):
    page = httpx.get(server.url + "/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text and "cdn." not in page.text
    script = next(src for src in __import__("re").findall(r'src="([^"]+)"', page.text) if "swagger-ui-bundle" in src)
    assert httpx.get(server.url + script).status_code == 200
    spec = httpx.get(server.url + "/openapi.json").json()
    assert {"/ap/v1/agent/tasks", "/ap/v1/agent/tasks/{task_id}/steps/{step_id}",
            "/ap/v1/agent/tasks/{task_id}/artifacts/{artifact_id}"} <= set(spec["paths"])


def test_failed_steps_are_completed_with_the_error_and_three_end_the_run(tmp_path):
    model = write_script(tmp_path / "s.json", [decision("list_folder", path=".")])  # then the script runs out
    srv = Server(tmp_path / "ws", model).start()
    try:
        with srv.client() as c:
            tid = c.post("/agent/tasks", json={"input": "g"}).json()["task_id"]
            c.post(f"/agent/tasks/{tid}/steps", json={})
            failed = [c.post(f"/agent/tasks/{tid}/steps", json={}).json() for _ in range(3)]
            for s in failed:
                assert s["status"] == "completed" and "ran out of responses" in s["additional_output"]["error"]
                assert s["output"].startswith("Result of list_folder") or s["output"].startswith("Error:")
            assert [s["is_last"] for s in failed] == [False, False, True]
            assert failed[-1]["additional_output"]["status"] == "error"
            assert "Traceback" not in json.dumps(failed)
    finally:
        srv.stop()


def test_run_state_is_current_while_the_task_waits_for_its_next_step(tmp_path):
    """The agent skips state.json rewrites inside a step burst; the server writes it once a step has
    answered, so `autogpt runs list` on the serve workspace is current between steps."""
    from forge.runs.log import read_state

    model = write_script(tmp_path / "s.json", [decision("write_file", path=f"f{i}.txt", content="x")
                                               for i in range(4)] + [decision("finish", reason="ok")])
    srv = Server(tmp_path / "ws", model).start()
    try:
        with srv.client() as c:
            tid = c.post("/agent/tasks", json={"input": "g"}).json()["task_id"]
            for executed in range(4):  # each step runs the pending action and proposes the next
                c.post(f"/agent/tasks/{tid}/steps", json={})
                run = next((tmp_path / "ws" / "runs").iterdir())
                deadline = time.monotonic() + 5
                while read_state(run).get("steps") != executed and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert read_state(run)["steps"] == executed
    finally:
        srv.stop()
