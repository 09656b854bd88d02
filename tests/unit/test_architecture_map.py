"""The README's architecture section is the map of the code: every folder and module of `jobtui/`
stands in its tree, once, with a sentence saying what it holds, and the tree names nothing that is
not there. A new module without its line, or a line left behind by a move, fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "jobtui"
ENTRY = re.compile(r"^(?P<indent> *)(?P<name>[\w.]+/?)(?P<rest>.*)$")


def map_block(readme: str) -> list[str]:
    """The lines of the first code block under `## Architecture`."""
    section = readme.split("\n## Architecture\n", 1)[1]
    block = section.split("```", 2)[1]
    return block.splitlines()[1:]


def mapped(lines: list[str]) -> dict[str, str]:
    """{path below jobtui/: its sentence} of the map; a line that continues a sentence is deeper
    than the entry it belongs to and starts with no name of a room."""
    entries: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    last = (-1, "")  # the indent and path of the last entry
    for line in lines:
        if not line.strip():
            continue
        match = ENTRY.match(line)
        name = match["name"] if match else ""
        rest = match["rest"] if match else ""
        is_room = name.endswith(("/", ".py", ".tcss")) and (not rest or rest.startswith("  "))
        if match is None or not is_room:
            if last[1] and len(line) - len(line.lstrip()) > last[0]:
                entries[last[1]] += " " + line.strip()
                continue
            raise AssertionError(f"a map line names no room: {line!r}")
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else ""
        path = parent + name
        assert path not in entries, f"{path} stands twice in the map"
        entries[path] = rest.strip()
        last = (indent, path)
        if name.endswith("/"):
            stack.append((indent, path))
    return entries


def rooms() -> set[str]:
    """Every folder and module of the package (but `__init__.py` and caches), relative to it."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*"):
        relative = path.relative_to(PACKAGE)
        if "__pycache__" in relative.parts or path.name == "__init__.py":
            continue
        if path.is_dir():
            found.add(f"{relative.as_posix()}/")
        elif path.suffix in (".py", ".tcss"):
            found.add(relative.as_posix())
    return found


def test_the_readme_map_is_the_tree_of_the_package() -> None:
    lines = map_block((ROOT / "README.md").read_text(encoding="utf-8"))
    assert lines[0].strip() == "jobtui/", "the map starts at the package"
    entries = mapped([line[2:] for line in lines[1:]])
    missing = sorted(rooms() - set(entries))
    stale = sorted(set(entries) - rooms())
    assert not missing, f"not in the README's map: {missing}"
    assert not stale, f"in the README's map but not in jobtui/: {stale}"
    unsaid = sorted(path for path, sentence in entries.items() if len(sentence.split()) < 3)
    assert not unsaid, f"rooms the map names without saying what they hold: {unsaid}"


def test_the_map_reader_finds_a_missing_and_a_stale_room() -> None:
    lines = [
        "core/      the common model",
        "  models.py  Job and its states",
        "  gone.py  not here",
    ]
    entries = mapped(lines)
    assert set(entries) == {"core/", "core/models.py", "core/gone.py"}
    assert "core/gone.py" not in rooms() and "core/text.py" in rooms() - set(entries)
