import stat

import pytest

from core.errors import Invalid
from core.settings import load_settings


def test_environment_overrides_defaults_and_builds_sqlite_url(tmp_path):
    s = load_settings(
        env={
            "SMARTLIB_DATA_DIR": str(tmp_path),
            "SMARTLIB_PORT": "9090",
            "SMARTLIB_LANGUAGES": "vi, en, fr",
        }
    )
    assert s.port == 9090
    assert s.languages == ("vi", "en", "fr")
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/smartlib.db"
    assert s.blob_dir == tmp_path.resolve() / "blobs"


def test_secret_key_is_generated_once_private_and_stable(tmp_path):
    first = load_settings(env={"SMARTLIB_DATA_DIR": str(tmp_path)})
    second = load_settings(env={"SMARTLIB_DATA_DIR": str(tmp_path)})
    key_file = tmp_path / "secret_key"
    assert len(first.secret_key) >= 40
    assert first.secret_key == second.secret_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_configured_secret_is_not_written_to_disk(tmp_path):
    s = load_settings(env={"SMARTLIB_DATA_DIR": str(tmp_path), "SMARTLIB_SECRET_KEY": "k" * 50})
    assert s.secret_key == "k" * 50
    assert not (tmp_path / "secret_key").exists()


def test_toml_file_is_read_and_environment_wins(tmp_path):
    config = tmp_path / "smartlib.toml"
    config.write_text('port = 7000\nfallback_lang = "vi"\nhost = "0.0.0.0"\n')
    s = load_settings(
        env={
            "SMARTLIB_CONFIG": str(config),
            "SMARTLIB_DATA_DIR": str(tmp_path),
            "SMARTLIB_PORT": "7001",
        }
    )
    assert (s.port, s.fallback_lang, s.host) == (7001, "vi", "0.0.0.0")


def test_bad_number_names_the_variable(tmp_path):
    with pytest.raises(Invalid, match="SMARTLIB_PORT"):
        load_settings(env={"SMARTLIB_DATA_DIR": str(tmp_path), "SMARTLIB_PORT": "eighty"})
