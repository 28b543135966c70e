from bot import create_app
from bot.app import settings_of


def test_factory_uses_given_settings(settings):
    app = create_app(settings)
    assert settings_of(app) is settings
    assert app.config["SECRET_KEY"] == "test-secret" * 3
    assert app.config["SESSION_COOKIE_HTTPONLY"]


def test_factory_reads_environment_overrides(monkeypatch, db_url):
    monkeypatch.setenv("BANZHUREN_SECRET_KEY", "from-env" * 4)
    monkeypatch.setenv("BANZHUREN_DATABASE_URL", db_url)
    app = create_app({"min_respondents": 9})
    assert settings_of(app).min_respondents == 9
    assert app.config["SECRET_KEY"] == "from-env" * 4
