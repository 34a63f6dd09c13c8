"""Every config mistake gives one clear message naming the file and key path, and exit 1."""

from __future__ import annotations

import pytest

from tests.conftest import write_config

VALID_SOURCE = '[[sources]]\ntype = "rss"\nname = "blog"\nurl = "https://example.org/feed/"\n'

CASES = [
    pytest.param(
        VALID_SOURCE + 'colour = "blue"\n', "sources[0].colour", "unknown key", id="unknown-key"
    ),
    pytest.param(
        '[hub]\ndatabse_url = "sqlite:///x.db"\n', "hub.databse_url", "unknown key",
        id="unknown-key-in-hub",
    ),
    pytest.param(
        VALID_SOURCE + VALID_SOURCE.replace('"blog"', '"web"').replace(
            'url = "https://example.org/feed/"', 'url = "x"\ntimeout = "soon"'),
        "sources[1].timeout", "valid number", id="wrong-type",
    ),
    pytest.param(
        '[[sources]]\ntype = "rss"\nname = "blog"\n', "sources[0].url", "missing (required)",
        id="missing-option",
    ),
    pytest.param(
        VALID_SOURCE + '[[sources]]\ntype = "mastodon"\nname = "m"\n', "sources[1].type",
        "unknown source type 'mastodon' (expected one of: gsheets, rss, webpage, wordpress",
        id="unknown-type",
    ),
    pytest.param(
        '[sinks.console]\ntoken = "EAAG-very-secret"\n', "sinks.console.token",
        "looks like a secret written in the file (expected the name of an environment variable",
        id="secret-in-file",
    ),
    pytest.param(
        VALID_SOURCE + 'every = "often"\n', "sources[0].every", "not an interval",
        id="bad-interval",
    ),
    pytest.param('[hub]\ntimezone = "Mars/Olympus"\n', "hub.timezone", "unknown time zone",
                 id="bad-timezone"),
    pytest.param('[hub]\nlanguage = "fr"\n', "hub.language", "'es' or 'en'", id="bad-language"),
    pytest.param(VALID_SOURCE + VALID_SOURCE, "sources[1].name", "already used by sources[0]",
                 id="duplicate-name"),
]


@pytest.mark.parametrize(("toml", "path", "expected"), CASES)
def test_config_mistake_is_reported_by_key_path(hub_cli, toml, path, expected) -> None:
    write_config(hub_cli.config, toml)
    result = hub_cli("check")
    assert result.exit_code == 1, result.output
    assert str(hub_cli.config) in result.output
    assert f"{path}: " in result.output
    assert expected in result.output
    assert "Traceback" not in result.output


def test_secret_value_never_echoed(hub_cli) -> None:
    write_config(hub_cli.config, '[sinks.console]\napp_secret = "s3cr3t-value"\n')
    result = hub_cli("check")
    assert result.exit_code == 1
    assert "s3cr3t-value" not in result.output


def test_not_toml_names_the_line(hub_cli) -> None:
    write_config(hub_cli.config, "[hub\n")
    result = hub_cli("check")
    assert result.exit_code == 1
    assert "not valid TOML" in result.output and "line 1" in result.output


def test_missing_file_says_how_to_start(hub_cli) -> None:
    result = hub_cli("check")
    assert result.exit_code == 1
    assert "no such file" in result.output and "hub init" in result.output


def test_several_mistakes_are_all_listed(hub_cli) -> None:
    write_config(hub_cli.config, '[[sources]]\ntype = "rss"\nname = "a"\nbogus = 1\n')
    result = hub_cli("check")
    assert "2 problems" in result.output
    assert "sources[0].url" in result.output and "sources[0].bogus" in result.output


def test_bad_config_changes_no_stored_state(hub_cli, project) -> None:
    write_config(hub_cli.config, VALID_SOURCE + "oops = 1\n")
    hub_cli("poll", "--once")
    assert not (project / "hub.db").exists()


def test_a_password_in_the_database_url_is_refused_and_never_echoed(hub_cli) -> None:
    write_config(hub_cli.config, '[hub]\ndatabase_url = "postgresql://hub:pa55word@db.example/hub"\n')
    result = hub_cli("check")
    assert result.exit_code == 1
    assert "hub.database_url: holds a password" in result.output and "HUB_DATABASE_URL" in result.output
    assert "pa55word" not in result.output and "Traceback" not in result.output


def test_an_unsupported_database_scheme_is_one_line_naming_the_supported_ones(
        hub_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    # The PostgreSQL pass sets HUB_DATABASE_URL; the URL under test is the one in hub.toml.
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    write_config(hub_cli.config, '[hub]\ndatabase_url = "mysql://hub@db.example/hub"\n')
    result = hub_cli("status")
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0, result.output
    assert "sqlite:///" in result.output and "postgresql://" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_key_in_a_source_is_reported_with_top_level_mistakes(hub_cli) -> None:
    write_config(hub_cli.config, '[hub]\ntimezone = "Mars/Olympus"\nbogus = 1\n' + VALID_SOURCE
                 + 'colour = "blue"\n[sinks.console]\nshape = "round"\n')
    result = hub_cli("check")
    assert result.exit_code == 1
    for where in ("hub.timezone", "hub.bogus", "sources[0].colour", "sinks.console.shape"):
        assert where in result.output, result.output
    assert "4 problems" in result.output
