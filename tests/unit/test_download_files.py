"""services/download.py: a server's name as one safe path component, and partial files that are
created new and never opened through a link."""

from __future__ import annotations

import os
import stat
import unicodedata
from pathlib import Path

import pytest

from jobtui.services.download import (
    FALLBACK,
    LocalFileError,
    PartFile,
    component,
    folder_problem,
    inside,
    local_error,
    part_of,
    safe_name,
    write_file,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.tsv", "report.tsv"),
        ("résumé.pdf", "résumé.pdf"),
        ("../x.txt", "x.txt"),
        ("/etc/passwd", "etc_passwd"),
        ("../../home/u/.bash_profile", "home_u_.bash_profile"),
        ("..\\..\\win.ini", "win.ini"),
        (".bashrc", "bashrc"),
        ("ab\x00cd", "ab_cd"),
        ("two\nlines", "two_lines"),
        ("\x1b[2Jclear", "[2Jclear"),
        ("a\x9bb", "a_b"),
        ("a\x7fb", "a_b"),
        ("report\u202evst.exe", "report_vst.exe"),
        ("a\u2066b\u2069", "a_b_"),
        ("zero\u200bwidth", "zero_width"),
        ("lone\udc80surrogate", "lone_surrogate"),
        ("  spaced  ", "spaced"),
        ("", FALLBACK),
        (".", FALLBACK),
        ("..", FALLBACK),
        ("...", FALLBACK),
        ("/", FALLBACK),
        ("\x00\x00", FALLBACK),
    ],
)
def test_safe_name(name: str, expected: str) -> None:
    assert safe_name(name) == expected


def test_the_fallback_is_cleaned_too() -> None:
    assert safe_name("..", "job-../7") == "job-.._7"
    assert safe_name("..", "..") == FALLBACK
    assert component("..") is None and component("x/") == "x_"


@pytest.mark.parametrize("char", ["n", "é", "語", "🙂"])
def test_a_long_name_fits_name_max_in_bytes_keeping_its_extension(char: str) -> None:
    name = safe_name(char * 300 + ".tsv")
    assert len(os.fsencode(name)) <= 255 and name.endswith(".tsv")
    assert name.startswith(char * 10)
    name.encode("utf-8")  # whole characters only
    assert len(os.fsencode(safe_name(char * 300))) <= 255
    assert len(os.fsencode(safe_name("x." + char * 300))) <= 255


def test_no_character_class_survives() -> None:
    every = "".join(chr(code) for code in range(0x0, 0x3000) if not 0xD800 <= code < 0xE000)
    name = safe_name(every, limit=100_000)
    assert "/" not in name and "\\" not in name
    assert all(unicodedata.category(char)[0] != "C" for char in name)


def test_inside_keeps_the_name_in_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "dl"
    folder.mkdir()
    assert inside(folder, "../../x") == folder / "x"
    assert inside(folder, "..", "job 7") == folder / "job 7"
    (folder / "out.txt").symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(LocalFileError) as outside:
        inside(folder, "out.txt")
    assert outside.value.reason == f"it resolves outside {folder}"
    (folder / "in.txt").symlink_to(folder / "real.txt")
    assert inside(folder, "in.txt") == folder / "in.txt"


def test_the_part_name_fits_too(tmp_path: Path) -> None:
    target = tmp_path / safe_name("n" * 300 + ".tsv")
    part = part_of(target)
    assert part.name.endswith(".tsv.part") and len(os.fsencode(part.name)) <= 255
    assert part_of(tmp_path / "a.zip") == tmp_path / "a.zip.part"


def test_a_part_file_is_created_new_under_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        part = PartFile.create(tmp_path / "a.part")
    finally:
        os.umask(old)
    part.write(b"abc")
    saved = part.commit(tmp_path / "a", overwrite=False)
    assert saved.read_bytes() == b"abc" and stat.S_IMODE(saved.stat().st_mode) == 0o640
    (tmp_path / "b.part").write_bytes(b"there")
    with pytest.raises(LocalFileError, match="a file is already there"):
        PartFile.create(tmp_path / "b.part")
    (tmp_path / "c.part").symlink_to(tmp_path / "nowhere")
    with pytest.raises(LocalFileError, match="a symbolic link is already there"):
        PartFile.create(tmp_path / "c.part")
    assert not (tmp_path / "nowhere").exists()


def test_resume_takes_only_a_regular_file_never_a_link_or_a_fifo(tmp_path: Path) -> None:
    assert PartFile.resume(tmp_path / "none.part") is None
    (tmp_path / "r.part").write_bytes(b"12345")
    part = PartFile.resume(tmp_path / "r.part")
    assert part is not None and part.size == 5
    part.write(b"678")
    part.close()
    assert (tmp_path / "r.part").read_bytes() == b"12345678"
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    (tmp_path / "l.part").symlink_to(victim)
    with pytest.raises(LocalFileError, match="symbolic link"):
        PartFile.resume(tmp_path / "l.part")
    os.mkfifo(tmp_path / "f.part")  # opening it to write would wait for a reader
    with pytest.raises(LocalFileError, match="not a regular file"):
        PartFile.resume(tmp_path / "f.part")
    (tmp_path / "d.part").mkdir()
    with pytest.raises(LocalFileError):
        PartFile.resume(tmp_path / "d.part")
    assert victim.read_bytes() == b"keep"


def test_commit_replaces_a_link_instead_of_writing_through_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    target = tmp_path / "out"
    target.symlink_to(victim)
    part = PartFile.temporary(target)
    part.write(b"new")
    with pytest.raises(FileExistsError):
        part.commit(target, overwrite=False)  # a link, even dangling, is something there
    assert part.path.exists()
    part.commit(target, overwrite=True)
    assert not target.is_symlink() and target.read_bytes() == b"new"
    assert victim.read_bytes() == b"keep" and sorted(p.name for p in tmp_path.iterdir()) == [
        "out",
        "victim",
    ]


def test_local_errors_say_which_part_of_the_path_is_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("ls.txt").write_text("a file\n")
    with pytest.raises(LocalFileError) as error:
        write_file(Path("ls.txt/x"), b"data", overwrite=False)
    assert str(error.value) == "cannot write ls.txt/x: ls.txt is not a folder"
    with pytest.raises(LocalFileError) as error:
        write_file(Path("no/such/x"), b"data", overwrite=False)
    assert str(error.value) == "cannot write no/such/x: folder no does not exist"
    assert folder_problem(tmp_path) is None
    line = local_error(Path("x"), OSError(36, "File name too long")).line
    assert line == "cannot write x: the name is too long for the file system"
    assert isinstance(error.value, OSError)
