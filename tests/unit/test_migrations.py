from pathlib import Path

import pytest

from vendor_risk.db import MigrationError, check_applied, discover_migrations


def write(tmp_path: Path, name: str, sql: str) -> None:
    (tmp_path / name).write_text(sql)


def test_discovers_in_order(tmp_path: Path) -> None:
    write(tmp_path, "0002_b.sql", "SELECT 2;")
    write(tmp_path, "0001_a.sql", "SELECT 1;")
    assert [(m.version, m.name) for m in discover_migrations(tmp_path)] == [(1, "a"), (2, "b")]


def test_refuses_misnamed_and_duplicate_files(tmp_path: Path) -> None:
    write(tmp_path, "1_a.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        discover_migrations(tmp_path)
    (tmp_path / "1_a.sql").unlink()
    write(tmp_path, "0001_a.sql", "SELECT 1;")
    write(tmp_path, "0001_b.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match="used twice"):
        discover_migrations(tmp_path)


def test_pending_are_the_unapplied(tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "SELECT 1;")
    write(tmp_path, "0002_b.sql", "SELECT 2;")
    migrations = discover_migrations(tmp_path)
    pending = check_applied(migrations, {1: migrations[0].checksum})
    assert [m.version for m in pending] == [2]


def test_edited_applied_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "SELECT 1;")
    applied = {1: discover_migrations(tmp_path)[0].checksum}
    write(tmp_path, "0001_a.sql", "SELECT 1; -- edited")
    with pytest.raises(MigrationError, match=r"0001_a\.sql was edited after it was applied"):
        check_applied(discover_migrations(tmp_path), applied)


def test_missing_applied_file_is_refused() -> None:
    with pytest.raises(MigrationError, match="file is missing"):
        check_applied([], {1: "abc"})


def test_shipped_migrations_are_well_formed() -> None:
    migrations = discover_migrations()
    assert migrations[0].version == 1
    assert [m.version for m in migrations] == sorted({m.version for m in migrations})
