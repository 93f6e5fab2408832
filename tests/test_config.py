"""Settings precedence through the real CLI: defaults < slotctl.toml < SLOTCTL_* < options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

CONTRACT_SETTINGS = {
    "database_url",
    "default_timezone",
    "slot_minutes",
    "slot_capacity",
    "pending_expiry_minutes",
    "generate_days",
    "actor",
}


def show(cli: Any, *global_args: str) -> dict[str, tuple[Any, str]]:
    """``config show --format json`` as {setting: (value, source)}; must succeed."""
    run = cli(*global_args, "config", "show", "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""
    rows = run.json()
    assert isinstance(rows, list)
    for row in rows:
        assert set(row) == {"setting", "value", "source"}
    result = {row["setting"]: (row["value"], row["source"]) for row in rows}
    assert len(result) == len(rows)  # each setting once
    return result


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def assert_one_error_line(run: Any, code: int, *fragments: str) -> str:
    assert run.exit_code == code, (run.stdout, run.stderr)
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert run.stderr.endswith("\n")
    line = lines[0]
    assert line.startswith("Error:"), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


# Defaults --------------------------------------------------------------------------


def test_defaults(cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOGNAME", "alice")
    monkeypatch.setenv("USER", "alice")
    settings = show(cli)
    assert set(settings) >= CONTRACT_SETTINGS
    assert all(source == "default" for _, source in settings.values()), settings
    data_home = tmp_path / "home" / "data"
    assert settings["database_url"][0] == f"sqlite:///{data_home}/slotctl/slotctl.db"
    assert settings["default_timezone"][0] == "UTC"
    assert settings["slot_minutes"][0] == 30
    assert settings["slot_capacity"][0] == 1
    assert settings["pending_expiry_minutes"][0] == 30
    assert settings["generate_days"][0] == 30
    assert settings["actor"][0] == "alice"


def test_default_database_without_xdg_data_home(
    cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("XDG_DATA_HOME")
    settings = show(cli)
    home = tmp_path / "home"
    assert settings["database_url"] == (
        f"sqlite:///{home}/.local/share/slotctl/slotctl.db",
        "default",
    )


def test_config_show_does_not_create_the_database(cli: Any, tmp_path: Path) -> None:
    show(cli)
    assert not (tmp_path / "home" / "data" / "slotctl" / "slotctl.db").exists()


def test_table_output(cli: Any) -> None:
    run = cli("config", "show")
    assert run.exit_code == 0, run.stderr
    for name in CONTRACT_SETTINGS:
        assert name in run.stdout
    assert "default" in run.stdout
    assert not run.stdout.lstrip().startswith("[")


def test_csv_output(cli: Any, tmp_path: Path) -> None:
    run = cli("config", "show", "--format", "csv")
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "setting,value,source"
    assert "slot_minutes,30,default" in lines
    assert f"database_url,sqlite:///{tmp_path}/home/data/slotctl/slotctl.db,default" in lines


def test_format_from_env(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOTCTL_FORMAT", "json")
    run = cli("config", "show")
    assert run.exit_code == 0, run.stderr
    rows = json.loads(run.stdout)
    assert {"setting": "slot_minutes", "value": 30, "source": "default"} in rows


# The config file -------------------------------------------------------------------


def test_local_file_overrides_defaults(cli: Any, tmp_path: Path) -> None:
    write(
        tmp_path / "slotctl.toml",
        'slot_minutes = 15\ndefault_timezone = "Europe/Berlin"\nslot_capacity = 4\n',
    )
    settings = show(cli)
    assert settings["slot_minutes"][0] == 15
    assert settings["default_timezone"][0] == "Europe/Berlin"
    assert settings["slot_capacity"][0] == 4
    for name in ("slot_minutes", "default_timezone", "slot_capacity"):
        assert settings[name][1] == f"file {Path.cwd() / 'slotctl.toml'}"
    assert settings["generate_days"] == (30, "default")
    assert settings["pending_expiry_minutes"] == (30, "default")


def test_xdg_config_file_used_when_no_local_file(cli: Any, tmp_path: Path) -> None:
    user_file = write(
        tmp_path / "home" / "config" / "slotctl" / "slotctl.toml", "generate_days = 7\n"
    )
    settings = show(cli)
    assert settings["generate_days"] == (7, f"file {user_file}")


def test_local_file_beats_xdg_config_file(cli: Any, tmp_path: Path) -> None:
    write(tmp_path / "home" / "config" / "slotctl" / "slotctl.toml", "generate_days = 7\n")
    write(tmp_path / "slotctl.toml", "generate_days = 14\n")
    settings = show(cli)
    assert settings["generate_days"] == (14, f"file {Path.cwd() / 'slotctl.toml'}")


def test_config_option(cli: Any, tmp_path: Path) -> None:
    write(tmp_path / "slotctl.toml", "slot_minutes = 15\ngenerate_days = 14\n")
    explicit = write(tmp_path / "etc" / "custom.toml", "slot_minutes = 20\n")
    settings = show(cli, "--config", str(explicit))
    assert settings["slot_minutes"] == (20, f"file {explicit}")
    # the explicit file replaces ./slotctl.toml, it is not merged with it
    assert settings["generate_days"] == (30, "default")


def test_slotctl_config_env(cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write(tmp_path / "slotctl.toml", "slot_minutes = 15\n")
    from_env = write(tmp_path / "etc" / "env.toml", "slot_minutes = 25\n")
    monkeypatch.setenv("SLOTCTL_CONFIG", str(from_env))
    settings = show(cli)
    assert settings["slot_minutes"] == (25, f"file {from_env}")


def test_config_option_beats_slotctl_config_env(
    cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from_env = write(tmp_path / "etc" / "env.toml", "slot_minutes = 25\n")
    explicit = write(tmp_path / "etc" / "option.toml", "slot_minutes = 35\n")
    monkeypatch.setenv("SLOTCTL_CONFIG", str(from_env))
    settings = show(cli, "--config", str(explicit))
    assert settings["slot_minutes"] == (35, f"file {explicit}")


# Environment and options -----------------------------------------------------------


def test_env_overrides_file(cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write(tmp_path / "slotctl.toml", "slot_minutes = 15\nslot_capacity = 3\n")
    monkeypatch.setenv("SLOTCTL_SLOT_MINUTES", "45")
    settings = show(cli)
    assert settings["slot_minutes"] == (45, "env SLOTCTL_SLOT_MINUTES")
    assert settings["slot_capacity"][0] == 3
    assert settings["slot_capacity"][1].startswith("file ")


def test_env_overrides_defaults(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOTCTL_DEFAULT_TIMEZONE", "America/New_York")
    monkeypatch.setenv("SLOTCTL_ACTOR", "cron")
    settings = show(cli)
    assert settings["default_timezone"] == ("America/New_York", "env SLOTCTL_DEFAULT_TIMEZONE")
    assert settings["actor"] == ("cron", "env SLOTCTL_ACTOR")
    assert settings["slot_minutes"] == (30, "default")


def test_options_override_env_and_file(
    cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write(tmp_path / "slotctl.toml", 'actor = "from-file"\ndatabase_url = "sqlite:///file.db"\n')
    monkeypatch.setenv("SLOTCTL_DATABASE_URL", "sqlite:///env.db")
    monkeypatch.setenv("SLOTCTL_ACTOR", "from-env")
    settings = show(cli, "--database-url", "sqlite:///option.db", "--actor", "from-option")
    assert settings["database_url"] == ("sqlite:///option.db", "option --database-url")
    assert settings["actor"] == ("from-option", "option --actor")


def test_env_used_when_option_absent(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOTCTL_DATABASE_URL", "sqlite:///env.db")
    settings = show(cli, "--actor", "bob")
    assert settings["database_url"] == ("sqlite:///env.db", "env SLOTCTL_DATABASE_URL")
    assert settings["actor"] == ("bob", "option --actor")


def test_empty_actor_option_is_a_usage_error(cli: Any) -> None:
    run = cli("--actor", "", "config", "show")
    assert_one_error_line(run, 2, "actor")


# URLs ------------------------------------------------------------------------------

SECRET = "s3cr3t-pa55"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://user@db.example.com/slots", "postgresql+psycopg://user@db.example.com/slots"),
        (
            "postgresql://user@db.example.com/slots",
            "postgresql+psycopg://user@db.example.com/slots",
        ),
        (
            "postgresql+psycopg://user@db.example.com/slots",
            "postgresql+psycopg://user@db.example.com/slots",
        ),
        ("sqlite:///some/where.db", "sqlite:///some/where.db"),
    ],
)
def test_postgres_urls_normalised(cli: Any, given: str, expected: str) -> None:
    settings = show(cli, "--database-url", given)
    assert settings["database_url"] == (expected, "option --database-url")


def test_postgres_url_normalised_from_file(cli: Any, tmp_path: Path) -> None:
    write(tmp_path / "slotctl.toml", 'database_url = "postgres://u@h:5433/d"\n')
    settings = show(cli)
    assert settings["database_url"][0] == "postgresql+psycopg://u@h:5433/d"


def test_password_masked_in_json(cli: Any) -> None:
    url = f"postgres://user:{SECRET}@db.example.com:5432/slots"
    run = cli("--database-url", url, "config", "show", "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert SECRET not in run.stdout
    rows = {row["setting"]: row for row in run.json()}
    assert (
        rows["database_url"]["value"] == "postgresql+psycopg://user:***@db.example.com:5432/slots"
    )


def test_password_masked_in_table(cli: Any) -> None:
    url = f"postgresql+psycopg://user:{SECRET}@db.example.com:5432/slots"
    run = cli("--database-url", url, "config", "show")
    assert run.exit_code == 0, run.stderr
    assert SECRET not in run.stdout
    assert "postgresql+psycopg://user:***@db.example.com:5432/slots" in run.stdout


def test_password_masked_in_csv(cli: Any) -> None:
    url = f"postgresql+psycopg://user:{SECRET}@db.example.com/slots"
    run = cli("--database-url", url, "config", "show", "--format", "csv")
    assert run.exit_code == 0, run.stderr
    assert SECRET not in run.stdout
    assert "postgresql+psycopg://user:***@db.example.com/slots" in run.stdout


def test_password_masked_from_env_and_file(
    cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write(tmp_path / "slotctl.toml", f'database_url = "postgres://f:{SECRET}@h/d"\n')
    settings = show(cli)
    assert settings["database_url"][0] == "postgresql+psycopg://f:***@h/d"
    monkeypatch.setenv("SLOTCTL_DATABASE_URL", f"postgresql://e:{SECRET}@h/d")
    settings = show(cli)
    assert settings["database_url"] == (
        "postgresql+psycopg://e:***@h/d",
        "env SLOTCTL_DATABASE_URL",
    )


def test_password_in_query_string_masked(cli: Any) -> None:
    url = f"postgresql+psycopg://user@db.example.com/slots?password={SECRET}"
    run = cli("--database-url", url, "config", "show", "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert SECRET not in run.stdout


# Bad configuration -----------------------------------------------------------------


def test_toml_syntax_error(cli: Any, tmp_path: Path) -> None:
    path = write(tmp_path / "etc" / "broken.toml", "slot_minutes = \n")
    run = cli("--config", str(path), "config", "show")
    assert_one_error_line(run, 6, str(path))


def test_toml_syntax_error_in_local_file(cli: Any, tmp_path: Path) -> None:
    write(tmp_path / "slotctl.toml", "[unclosed\n")
    run = cli("config", "show")
    assert_one_error_line(run, 6, "slotctl.toml")


def test_toml_syntax_error_as_json(cli: Any, tmp_path: Path) -> None:
    path = write(tmp_path / "etc" / "broken.toml", "= 1\n")
    run = cli("--config", str(path), "config", "show", "--format", "json")
    assert run.exit_code == 6
    assert run.stdout == ""
    assert len(run.stderr.splitlines()) == 1
    error = json.loads(run.stderr)["error"]
    assert error["code"] == "unavailable"
    assert str(path) in error["message"]


def test_unknown_key(cli: Any, tmp_path: Path) -> None:
    path = write(tmp_path / "etc" / "unknown.toml", "slot_minutes = 15\nslot_minuts = 20\n")
    run = cli("--config", str(path), "config", "show")
    assert_one_error_line(run, 6, "slot_minuts", str(path))


def test_unknown_table(cli: Any, tmp_path: Path) -> None:
    write(tmp_path / "slotctl.toml", "[database]\nurl = 'sqlite:///x.db'\n")
    run = cli("config", "show")
    assert_one_error_line(run, 6, "database")


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('slot_minutes = "abc"', "slot_minutes"),
        ("slot_minutes = 0", "slot_minutes"),
        ("slot_minutes = 1441", "slot_minutes"),
        ("slot_capacity = 0", "slot_capacity"),
        ("generate_days = -1", "generate_days"),
        ("pending_expiry_minutes = 0", "pending_expiry_minutes"),
        ('actor = ""', "actor"),
        ("database_url = 5", "database_url"),
    ],
)
def test_bad_value_in_file(cli: Any, tmp_path: Path, line: str, key: str) -> None:
    path = write(tmp_path / "etc" / "bad.toml", line + "\n")
    run = cli("--config", str(path), "config", "show")
    assert_one_error_line(run, 6, key, str(path))


def test_unknown_timezone_in_file(cli: Any, tmp_path: Path) -> None:
    path = write(tmp_path / "etc" / "tz.toml", 'default_timezone = "Mars/Base"\n')
    run = cli("--config", str(path), "config", "show")
    assert_one_error_line(run, 6, "default_timezone", "Mars/Base")


def test_bad_value_in_env(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOTCTL_SLOT_MINUTES", "abc")
    run = cli("config", "show")
    assert_one_error_line(run, 6, "slot_minutes", "SLOTCTL_SLOT_MINUTES")


def test_unknown_timezone_in_env(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOTCTL_DEFAULT_TIMEZONE", "../etc/passwd")
    run = cli("config", "show")
    assert_one_error_line(run, 6, "default_timezone")


def test_env_value_fixes_bad_file_value(
    cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Only the merged value is validated: a higher layer may replace a bad one."""
    write(tmp_path / "slotctl.toml", 'slot_minutes = "abc"\n')
    monkeypatch.setenv("SLOTCTL_SLOT_MINUTES", "10")
    settings = show(cli)
    assert settings["slot_minutes"] == (10, "env SLOTCTL_SLOT_MINUTES")


def test_missing_config_option_file(cli: Any, tmp_path: Path) -> None:
    missing = tmp_path / "etc" / "nope.toml"
    run = cli("--config", str(missing), "config", "show")
    assert_one_error_line(run, 6, str(missing))


def test_missing_slotctl_config_env_file(
    cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "etc" / "nope.toml"
    monkeypatch.setenv("SLOTCTL_CONFIG", str(missing))
    run = cli("config", "show")
    assert_one_error_line(run, 6, str(missing))


def test_config_option_pointing_at_a_directory(cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    run = cli("--config", str(folder), "config", "show")
    assert_one_error_line(run, 6, str(folder))


def test_config_file_not_utf8(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "etc" / "latin1.toml"
    path.parent.mkdir()
    path.write_bytes(b'actor = "Jos\xe9"\n')
    run = cli("--config", str(path), "config", "show")
    assert_one_error_line(run, 6, str(path))
