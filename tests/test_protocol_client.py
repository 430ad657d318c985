"""Interoperability: the protocol's own Python client (PyPI agent-protocol-client 1.1.0) drives a full task.

The client pins pydantic<2, so it lives in its own venv (made once under pytest's cache dir, from the
configured package index) and runs as a subprocess script against a real `autogpt serve`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ap_helpers import Server, decision, write_script

CLIENT = "agent-protocol-client==1.1.0"

DRIVER = textwrap.dedent('''
    import asyncio, json, sys
    from agent_protocol_client import AgentApi, ApiClient, Configuration, TaskRequestBody, StepRequestBody

    async def main(url, upload):
        async with ApiClient(Configuration(host=url)) as client:
            api = AgentApi(client)
            body = TaskRequestBody(input="Write Washington to out/answer.txt")
            task = await api.create_agent_task(task_request_body=body)
            art = await api.upload_agent_task_artifacts(task_id=task.task_id, file=upload, relative_path="in/put")
            steps = []
            while True:
                approve = StepRequestBody(input="y")
                step = await api.execute_agent_task_step(task_id=task.task_id, step_request_body=approve)
                steps.append({"status": step.status, "is_last": step.is_last, "name": step.name,
                              "artifacts": [a.relative_path for a in step.artifacts]})
                if step.is_last or len(steps) > 10:
                    break
            listed = await api.list_agent_task_artifacts(task_id=task.task_id)
            files = {}
            for a in listed.artifacts:
                data = await api.download_agent_task_artifact(task_id=task.task_id, artifact_id=a.artifact_id)
                files[a.relative_path] = bytes(data).decode("latin-1")
            all_steps = await api.list_agent_task_steps(task_id=task.task_id, current_page=1, page_size=2)
            tasks = await api.list_agent_tasks()
            got = await api.get_agent_task(task_id=task.task_id)
            one = await api.get_agent_task_step(task_id=task.task_id, step_id=all_steps.steps[0].step_id)
            print(json.dumps({
                "uploaded": {"relative_path": art.relative_path, "agent_created": art.agent_created},
                "steps": steps, "files": files, "pages": all_steps.pagination.total_pages,
                "tasks": tasks.pagination.total_items, "task_artifacts": len(got.artifacts),
                "first_step_status": one.status,
            }))

    asyncio.run(main(sys.argv[1], sys.argv[2]))
''')


@pytest.fixture(scope="session")
def client_python(request) -> Path:
    venv = Path(request.config.cache.mkdir("agent-protocol-client-venv"))
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if not (stamp.exists() and stamp.read_text() == CLIENT):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        r = subprocess.run([str(python), "-m", "pip", "install", "-q", CLIENT], capture_output=True, text=True,
                           timeout=600)
        if r.returncode != 0:
            pytest.skip(f"cannot install {CLIENT} from the package index: {r.stderr.strip()[-300:]}")
        stamp.write_text(CLIENT)
    return python


def test_reference_client_drives_a_full_task(client_python, tmp_path):
    model = write_script(tmp_path / "s.json", [
        decision("write_file", "write it", path="out/answer.txt", content="Washington"),
        decision("finish", "done", reason="wrote it"),
    ])
    srv = Server(tmp_path / "ws", model).start()
    upload = tmp_path / "notes.bin"
    upload.write_bytes(bytes([0, 255, 10, 13]) + b"binary")
    try:
        r = subprocess.run([str(client_python), "-c", DRIVER, srv.url, str(upload)], capture_output=True, text=True,
                           timeout=120)
    finally:
        srv.stop()
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    assert out["uploaded"] == {"relative_path": "in/put/notes.bin", "agent_created": False}
    assert [s["name"] for s in out["steps"]] == ["write_file", "finish", "finish"]
    assert out["steps"][-1]["is_last"] and all(s["status"] == "completed" for s in out["steps"])
    assert out["steps"][1]["artifacts"] == ["out/answer.txt"]
    assert out["files"] == {"in/put/notes.bin": upload.read_bytes().decode("latin-1"), "out/answer.txt": "Washington"}
    assert out["pages"] == 2 and out["tasks"] == 1 and out["task_artifacts"] == 2
    assert out["first_step_status"] == "completed"


def test_reference_client_gets_401_without_the_key(client_python, tmp_path):
    model = write_script(tmp_path / "s.json", [decision("finish", reason="x")])
    srv = Server(tmp_path / "ws", model, env={"AUTOGPT_API_KEY": "key-for-this-test-123"}).start()
    script = textwrap.dedent('''
        import asyncio, sys
        from agent_protocol_client import AgentApi, ApiClient, Configuration, TaskRequestBody
        from agent_protocol_client.exceptions import ApiException
        async def main():
            async with ApiClient(Configuration(host=sys.argv[1])) as c:
                try:
                    await AgentApi(c).create_agent_task(task_request_body=TaskRequestBody(input="x"))
                except ApiException as e:
                    print(e.status)
        asyncio.run(main())
    ''')
    try:
        r = subprocess.run([str(client_python), "-c", script, srv.url], capture_output=True, text=True, timeout=60)
    finally:
        srv.stop()
    assert r.stdout.strip() == "401", r.stderr[-2000:]
