from pathlib import Path

import pytest

from yuqing.settings import Settings, load_settings, settings_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_every_setting_has_a_description() -> None:
    undocumented = [
        name for name, field in Settings.model_fields.items() if not (field.description or "").strip()
    ]
    assert undocumented == []


def test_configuration_reference_is_up_to_date() -> None:
    # Regenerate with: yuqing settings --markdown > docs/configuration.md
    assert DOC.read_text(encoding="utf-8") == settings_markdown()
    for name in Settings.model_fields:
        assert f"`YUQING_{name.upper()}`" in DOC.read_text(encoding="utf-8")


def test_environment_wins_over_file_which_wins_over_default(monkeypatch: pytest.MonkeyPatch) -> None:
    Path("yuqing.toml").write_text('port = 9001\nhost = "0.0.0.0"\n', encoding="utf-8")
    monkeypatch.setenv("YUQING_PORT", "9002")
    settings = load_settings()
    assert settings.port == 9002
    assert settings.host == "0.0.0.0"
    assert settings.fetch_max_bytes == 10 * 1024 * 1024


def test_default_database_is_sqlite_in_working_directory() -> None:
    assert load_settings().database_url == "sqlite:///yuqing.db"


def test_bad_value_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YUQING_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValueError, match="timezone"):
        load_settings()


def test_yuqing_settings_never_prints_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from yuqing.cli.main import app

    monkeypatch.setenv("YUQING_SMTP_PASSWORD", "smtp-secret-1")
    monkeypatch.setenv("YUQING_ADMIN_PASSWORD", "admin-secret-2")
    monkeypatch.setenv("YUQING_DATABASE_URL", "postgresql+psycopg://yuqing:db-secret-3@127.0.0.1:5432/test")
    monkeypatch.setenv("YUQING_NATS_URL", "nats://yuqing:nats-secret-4@nats:4222")
    shown = CliRunner().invoke(app, ["settings"])
    assert shown.exit_code == 0, shown.output
    for secret in ("smtp-secret-1", "admin-secret-2", "db-secret-3", "nats-secret-4"):
        assert secret not in shown.output
    assert '"smtp_password": "***"' in shown.output and "yuqing:***@127.0.0.1" in shown.output
    assert '"nats_url": "nats://***@nats:4222"' in shown.output


def test_the_settings_page_masks_credentials_in_urls() -> None:
    from yuqing.web.pages.settings import shown_value

    assert shown_value("nats_url", "nats://s3cret-token@127.0.0.1:4222") == "nats://***@127.0.0.1:4222"
    assert shown_value("nats_url", "nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"
    assert shown_value("database_url", "postgresql://u:pw@db/x") == "postgresql://u:***@db/x"
