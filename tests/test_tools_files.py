"""File tools and workspace confinement."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from forge.config import Settings
from forge.errors import PathOutsideWorkspaceError, ToolError
from forge.tools import builtin
from forge.tools.base import ToolContext, ToolRegistry
from forge.tools.workspace import resolve_in_workspace


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


@pytest.fixture
def ctx(ws: Path) -> ToolContext:
    settings = Settings(_env_file=None, workspace=ws.parent, max_observation_chars=2000)
    return ToolContext(workspace=ws, settings=settings)


@pytest.fixture
def outside(tmp_path: Path, ws: Path) -> dict[str, Path]:
    """Things outside the workspace: a secret file, a sibling `ws-evil` folder, symlinks to both."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    evil = tmp_path / "ws-evil"
    evil.mkdir()
    (evil / "loot.txt").write_text("LOOT")
    (ws / "link_file").symlink_to(secret)
    (ws / "link_dir").symlink_to(evil, target_is_directory=True)
    (ws / "inner").mkdir()
    (ws / "inner" / "up").symlink_to("../..", target_is_directory=True)  # relative link climbing out
    return {"secret": secret, "evil": evil}


def escaping_paths(ws: Path) -> list[str]:
    return [
        "../secret.txt",
        "inner/../../secret.txt",
        "/etc/passwd",
        str(ws / "inside.txt"),  # absolute, even though it points inside
        "notes\x00.txt",
        "link_file",
        "link_dir/loot.txt",
        "inner/up/secret.txt",
        "../ws-evil/loot.txt",  # sibling whose name starts with the workspace's name
    ]


def call(tool: object, ctx: ToolContext, **args: object) -> str:
    result = tool(ctx, args)  # type: ignore[operator]
    assert isinstance(result, str)
    return result


# Confinement ---------------------------------------------------------------------------------
def test_every_escape_is_refused_for_read_write_and_list(ctx: ToolContext, ws: Path, outside: dict) -> None:
    for path in escaping_paths(ws):
        with pytest.raises(PathOutsideWorkspaceError, match="relative to the workspace"):
            call(builtin.read_file, ctx, path=path)
        with pytest.raises(PathOutsideWorkspaceError):
            call(builtin.write_file, ctx, path=path, content="pwned")
        with pytest.raises(PathOutsideWorkspaceError):
            call(builtin.list_folder, ctx, path=path)
    assert outside["secret"].read_text() == "TOP SECRET"
    assert (outside["evil"] / "loot.txt").read_text() == "LOOT"
    assert not (ws / "inside.txt").exists()
    assert sorted(p.name for p in outside["evil"].iterdir()) == ["loot.txt"]


def test_list_folder_refuses_escaping_folders(ctx: ToolContext, outside: dict) -> None:
    for path in ("..", "link_dir", "inner/up", "../ws-evil"):
        with pytest.raises(PathOutsideWorkspaceError):
            call(builtin.list_folder, ctx, path=path)


def test_messages_say_what_went_wrong(ws: Path, outside: dict) -> None:
    with pytest.raises(PathOutsideWorkspaceError, match="absolute path"):
        resolve_in_workspace(ws, "/etc/passwd")
    with pytest.raises(PathOutsideWorkspaceError, match=r"'\.\.'"):
        resolve_in_workspace(ws, "../secret.txt")
    with pytest.raises(PathOutsideWorkspaceError, match="symlink"):
        resolve_in_workspace(ws, "link_file")
    with pytest.raises(PathOutsideWorkspaceError, match="NUL"):
        resolve_in_workspace(ws, "a\x00b")


def test_sibling_prefix_is_not_inside(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (tmp_path / "ws-evil").mkdir()
    # A string-prefix check would accept this: "/.../ws-evil/x".startswith("/.../ws").
    assert str(tmp_path / "ws-evil" / "x").startswith(str(root))
    with pytest.raises(PathOutsideWorkspaceError):
        resolve_in_workspace(root, "../ws-evil/x")


def test_paths_that_stay_inside_are_accepted(ws: Path) -> None:
    (ws / "data").mkdir()
    (ws / "alias").symlink_to("data", target_is_directory=True)
    assert resolve_in_workspace(ws, "data/../notes.txt") == ws.resolve() / "notes.txt"
    assert resolve_in_workspace(ws, "alias/a.csv") == ws.resolve() / "data" / "a.csv"
    assert resolve_in_workspace(ws, ".") == ws.resolve()
    with pytest.raises(ToolError, match="does not exist"):
        resolve_in_workspace(ws, "missing.txt", must_exist=True)


def test_dangling_symlink_out_cannot_be_written_through(ctx: ToolContext, ws: Path, tmp_path: Path) -> None:
    target = tmp_path / "created-outside.txt"
    (ws / "dangling").symlink_to(target)
    with pytest.raises(PathOutsideWorkspaceError):
        call(builtin.write_file, ctx, path="dangling", content="x")
    assert not target.exists()


# Behaviour -----------------------------------------------------------------------------------
def test_write_then_read_creates_parents_atomically(ctx: ToolContext, ws: Path) -> None:
    msg = call(builtin.write_file, ctx, path="reports/2024/summary.md", content="# Title\nline 2\n")
    assert "reports/2024/summary.md" in msg
    assert (ws / "reports" / "2024" / "summary.md").read_text() == "# Title\nline 2\n"
    assert call(builtin.read_file, ctx, path="reports/2024/summary.md") == "# Title\nline 2\n"
    call(builtin.write_file, ctx, path="reports/2024/summary.md", content="replaced")
    assert call(builtin.read_file, ctx, path="reports/2024/summary.md") == "replaced"
    assert sorted(os.listdir(ws / "reports" / "2024")) == ["summary.md"]  # no temp files left
    assert (ws / "reports" / "2024" / "summary.md").stat().st_mode & 0o777 == 0o644


def test_write_keeps_the_mode_of_an_existing_file(ctx: ToolContext, ws: Path) -> None:
    script = ws / "run.sh"
    script.write_text("old")
    script.chmod(0o755)
    call(builtin.write_file, ctx, path="run.sh", content="new")
    assert script.stat().st_mode & 0o777 == 0o755


def test_workspace_is_created_when_missing(tmp_path: Path) -> None:
    ws = tmp_path / "fresh" / "ws"
    ctx = ToolContext(workspace=ws, settings=Settings(_env_file=None))
    call(builtin.write_file, ctx, path="a.txt", content="hi")
    assert (ws / "a.txt").read_text() == "hi"


def test_long_file_is_truncated_with_a_way_to_read_on(ctx: ToolContext, ws: Path) -> None:
    text = "".join(f"line {i:05d}\n" for i in range(2000))  # 22,000 characters
    (ws / "big.txt").write_text(text)
    first = call(builtin.read_file, ctx, path="big.txt")
    assert len(first) < 2000
    assert "offset=1800" in first and "truncated" in first
    pieces, offset = [], 0
    while True:
        out = call(builtin.read_file, ctx, path="big.txt", offset=offset)
        if "[truncated" not in out:
            pieces.append(out)
            break
        pieces.append(out.split("\n[truncated")[0])
        offset += 1800
    assert "".join(pieces) == text


def test_read_errors_are_observations(ctx: ToolContext, ws: Path) -> None:
    (ws / "img.png").write_bytes(b"\x89PNG\x00\x00\x01")
    (ws / "sub").mkdir()
    with pytest.raises(ToolError, match="binary"):
        call(builtin.read_file, ctx, path="img.png")
    with pytest.raises(ToolError, match="list_folder"):
        call(builtin.read_file, ctx, path="sub")
    with pytest.raises(ToolError, match="does not exist"):
        call(builtin.read_file, ctx, path="nope.txt")
    with pytest.raises(ToolError, match="folder"):
        call(builtin.write_file, ctx, path="sub", content="x")
    (ws / "empty.txt").write_text("")
    assert call(builtin.read_file, ctx, path="empty.txt") == "(empty file)"
    with pytest.raises(ToolError, match="offset"):
        call(builtin.read_file, ctx, path="empty.txt", offset=-1)


def test_list_folder_is_recursive_and_skips_links(ctx: ToolContext, ws: Path, outside: dict) -> None:
    (ws / "data").mkdir()
    (ws / "data" / "a.csv").write_text("x,y\n")
    (ws / "notes.txt").write_text("hello")
    (ws / ".git").mkdir()
    (ws / ".git" / "HEAD").write_text("ref")
    listing = call(builtin.list_folder, ctx)
    assert "data/" in listing
    assert "data/a.csv (4 bytes)" in listing
    assert "notes.txt (5 bytes)" in listing
    assert ".git/ (not expanded)" in listing and "HEAD" not in listing
    assert "link_dir ->" in listing and "loot.txt" not in listing
    assert call(builtin.list_folder, ctx, path="data") == "Contents of data:\na.csv (4 bytes)"


# ask_user, finish, registry ------------------------------------------------------------------
def test_ask_user_without_a_user(ctx: ToolContext) -> None:
    out = call(builtin.ask_user, ctx, question="Which format?")
    assert "No user is available" in out and "decide yourself" in out


def test_ask_user_with_a_user(ws: Path) -> None:
    asked: list[str] = []

    def answer(question: str) -> str:
        asked.append(question)
        return "CSV please"

    ctx = ToolContext(workspace=ws, settings=Settings(_env_file=None), ask_user=answer)
    assert call(builtin.ask_user, ctx, question="Which format?") == "The user answered: CSV please"
    assert asked == ["Which format?"]


def test_finish_ends_the_run(ctx: ToolContext) -> None:
    assert builtin.finish.ends_run
    assert not builtin.read_file.ends_run
    assert call(builtin.finish, ctx, reason="all done") == "all done"


def test_builtin_tools_come_from_the_entry_point_in_order() -> None:
    registry = ToolRegistry.from_plugins()
    assert registry.names()[:10] == builtin.__all__
    assert registry.names()[:10] == [
        "read_file", "write_file", "list_folder", "web_search", "read_webpage",
        "execute_python", "execute_shell", "ask_user", "read_output", "finish",
    ]
    spec = registry.get("read_webpage").parameters_schema()  # type: ignore[union-attr]
    assert spec["required"] == ["url"]
    assert "ctx" not in spec["properties"]


def test_execute_python_wants_exactly_one_of_code_or_file(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="exactly one"):
        call(builtin.execute_python, ctx)
    with pytest.raises(ToolError, match="exactly one"):
        call(builtin.execute_python, ctx, code="print(1)", file="a.py")
    with pytest.raises(PathOutsideWorkspaceError):
        call(builtin.execute_python, ctx, file="../evil.py")


def test_big_listings_are_cut_with_a_hint(ctx: ToolContext, ws: Path) -> None:
    for i in range(300):
        (ws / f"file_{i:03d}.txt").write_text("x")
    listing = call(builtin.list_folder, ctx)
    assert len(listing) <= 2000  # fits the agent's observation limit, so the hint survives
    assert "file_000.txt (1 byte)" in listing
    assert listing.endswith("entries; list a subfolder to see more]")
