"""The deployment files in ``deploy/`` hold together: Docker cannot run here, so each file is
read the way its program would read it and checked against the package it starts."""

from __future__ import annotations

import configparser
import importlib
import re
import runpy
import shlex
from pathlib import Path

import pytest
import yaml

from bot.cli import main as cli_main
from core.settings import ConfigError, load_settings
from core.surveys.seal_key import generate_key

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SYSTEMD_UNITS = ("banzhuren-web.service", "banzhuren-worker.service", "banzhuren-beat.service")

# The variables of DESIGN.md's configuration table: the public contract.
CONTRACT_VARIABLES = {
    "BANZHUREN_DATABASE_URL",
    "BANZHUREN_REDIS_URL",
    "BANZHUREN_SECRET_KEY",
    "BANZHUREN_WECHAT_TOKEN",
    "BANZHUREN_WECHAT_APPID",
    "BANZHUREN_WECHAT_SECRET",
    "BANZHUREN_WECHAT_AES_KEY",
    "BANZHUREN_WECHAT_API_BASE",
    "BANZHUREN_MIN_RESPONDENTS",
    "BANZHUREN_TIMEZONE",
}
VARIABLE = re.compile(r"\bBANZHUREN_[A-Z0-9_]+\b")


def read_by_settings() -> set[str]:
    """Every variable ``core/settings.py`` reads (the contract plus its documented extras)."""
    source = Path(importlib.import_module("core.settings").__file__).read_text(encoding="utf-8")
    return set(VARIABLE.findall(source))


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def env_example() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def resolve_wsgi(spec: str):
    """Load a gunicorn app spec ``module:callable()`` or ``module:name`` the way gunicorn does."""
    module_name, _, target = spec.partition(":")
    module = importlib.import_module(module_name)
    name = target.removesuffix("()")
    obj = getattr(module, name)
    assert callable(obj), spec
    return obj


def check_command(argv: list[str]) -> None:
    """``argv`` starts a real ``banzhuren`` subcommand, or gunicorn on a real app factory."""
    program = Path(argv[0]).name
    if program == "banzhuren":
        assert argv[1] in cli_main.commands, f"banzhuren has no command {argv[1]!r}"
    elif program == "gunicorn":
        conf = argv[argv.index("-c") + 1]
        assert Path(conf).name == "gunicorn.conf.py"
        specs = [a for a in argv[1:] if ":" in a]
        for spec in specs or [runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))["wsgi_app"]]:
            resolve_wsgi(spec)
    elif program == "celery":
        target = argv[argv.index("-A") + 1]
        assert importlib.util.find_spec(target.split(":")[0]) is not None, target
    else:
        pytest.fail(f"unexpected program {argv[0]!r}")


def test_compose_has_every_role_and_one_image() -> None:
    services = compose()["services"]
    assert {"web", "worker", "beat", "init", "redis", "postgres", "nginx"} <= set(services)
    app_services = ["web", "worker", "beat", "init"]
    assert {services[s]["image"] for s in app_services} == {"banzhuren:latest"}
    build = services["init"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert services["init"]["restart"] == "no"
    assert services["init"]["command"] == ["banzhuren", "init"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["init"]["condition"] == (
            "service_completed_successfully"
        )


def test_compose_web_and_worker_scale() -> None:
    services = compose()["services"]
    for name in ("web", "worker"):
        assert "container_name" not in services[name], name
        assert "ports" not in services[name], f"{name} must not bind a host port"
    assert services["nginx"]["ports"], "nginx is the only way in"


def test_compose_commands_are_real() -> None:
    services = compose()["services"]
    checked = 0
    for name in ("web", "worker", "beat", "init"):
        check_command(services[name]["command"])
        checked += 1
    assert checked == 4


def test_compose_variables_are_in_the_contract() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    named = set(VARIABLE.findall(text))
    assert {"BANZHUREN_DATABASE_URL", "BANZHUREN_REDIS_URL"} <= named
    assert named <= read_by_settings()
    env = compose()["services"]["web"]["environment"]
    assert env["BANZHUREN_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in env["BANZHUREN_DATABASE_URL"]
    assert env["BANZHUREN_REDIS_URL"].startswith("redis://redis:")


def test_env_example_lists_the_contract_and_loads() -> None:
    values = env_example()
    names = {n for n in values if n.startswith("BANZHUREN_")}
    assert names >= CONTRACT_VARIABLES, CONTRACT_VARIABLES - names
    assert names <= read_by_settings(), names - read_by_settings()
    # As shipped, its placeholders fail validation; once replaced, it is a valid configuration.
    with pytest.raises(ConfigError, match="CHANGE-ME"):
        load_settings(values)
    filled = {k: v.replace("CHANGE-ME", "s3cret") for k, v in values.items()}
    filled["BANZHUREN_SECRET_KEY"] = "x" * 64
    filled["BANZHUREN_WECHAT_TOKEN"] = "schooltoken1"
    filled["BANZHUREN_SEAL_KEY"] = generate_key()
    settings = load_settings(filled)
    assert settings.database_url == values["BANZHUREN_DATABASE_URL"].replace("CHANGE-ME", "s3cret")
    assert settings.secret_key_configured and settings.secure_cookies
    assert settings.trusted_proxies == 1
    assert settings.wechat_aes_key is None
    assert settings.timezone == "Asia/Shanghai"


def test_env_example_explains_every_variable() -> None:
    # Each group of variables (lines up to a blank line) opens with a comment.
    groups = (DEPLOY / ".env.example").read_text(encoding="utf-8").split("\n\n")
    for group in groups:
        lines = group.strip().splitlines()
        if any(line.startswith("BANZHUREN_") for line in lines):
            assert lines[0].startswith("#"), f"no comment above {lines[0]}"


def test_gunicorn_conf_executes_and_is_valid() -> None:
    from gunicorn.config import Config

    namespace = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    cfg = Config()
    applied = 0
    for key, value in namespace.items():
        if key in cfg.settings:
            cfg.set(key, value)  # gunicorn's own validators
            applied += 1
    assert applied >= 8
    from gunicorn.workers.gthread import ThreadWorker

    assert cfg.worker_class_str == "bot.gunicorn_worker.StampingThreadWorker"
    assert issubclass(cfg.worker_class, ThreadWorker)
    assert cfg.workers >= 1 and cfg.threads >= 1
    assert cfg.timeout >= 10
    assert cfg.bind == ["0.0.0.0:8000"]
    assert resolve_wsgi(namespace["wsgi_app"]).__name__ == "create_app"
    assert callable(cfg.post_fork)


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(DEPLOY / "systemd" / name, encoding="utf-8")
    return parser


@pytest.mark.parametrize("name", SYSTEMD_UNITS)
def test_systemd_units_start_real_commands(name: str) -> None:
    service = unit(name)["Service"]
    assert service["User"] == "banzhuren"
    assert service["EnvironmentFile"] == "/etc/banzhuren/banzhuren.env"
    commands = [service["ExecStart"]]
    if "ExecStartPre" in service:
        commands.append(service["ExecStartPre"])
    for command in commands:
        argv = shlex.split(command)
        assert argv[0].startswith("/opt/banzhuren/venv/bin/"), argv[0]
        check_command(argv)
    assert unit(name)["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_web_binds_where_nginx_docs_say() -> None:
    service = unit("banzhuren-web.service")["Service"]
    assert "GUNICORN_BIND=127.0.0.1:8000" in service["Environment"]
    assert "init" in shlex.split(service["ExecStartPre"])


def nginx_locations(text: str) -> dict[str, str]:
    """``location`` path → the block's body (nginx.conf nests no deeper inside locations)."""
    text = re.sub(r"#[^\n]*", "", text)
    assert text.count("{") == text.count("}"), "unbalanced braces"
    return {
        m.group(1): m.group(2)
        for m in re.finditer(r"location\s+(?:=\s+)?(\S+)\s*\{([^{}]*)\}", text)
    }


def test_nginx_proxies_webhook_and_dashboard_to_the_web_service() -> None:
    text = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    upstream = re.search(r"upstream\s+(\w+)\s*\{([^}]*)\}", text)
    assert upstream, "no upstream block"
    name, body = upstream.groups()
    servers = re.findall(r"server\s+([\w.-]+):(\d+)", body)
    # By service name, on the port gunicorn binds, so `--scale web=N` needs no change.
    assert servers == [("web", "8000")]
    assert "web" in compose()["services"]
    locations = nginx_locations(text)
    for path in ("/wechat", "/wecom", "/dashboard", "/api/"):
        assert f"proxy_pass http://{name};" in locations[path], path
    assert "client_max_body_size 1m" in locations["/wechat"]
    assert "client_max_body_size 1m" in locations["/wecom"]
    # The campus login's pages, with codes and tickets in their queries, unlogged.
    assert f"proxy_pass http://{name};" in locations["/bind/"]
    assert "access_log off" in locations["/bind/"]
    # The chat links' pages (issue 25), with one-time tokens in their paths, unlogged.
    for path in ("/d/", "/apply/"):
        assert f"proxy_pass http://{name};" in locations[path], path
        assert "access_log off" in locations[path], path
    assert re.search(r"location ~ \^/MP_verify_.*root /var/www/mp-verify;", text, re.S)
    assert "ssl_certificate " in text and "ssl_certificate_key " in text
    mounts = compose()["services"]["nginx"]["volumes"]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in mounts


def test_the_app_serves_what_nginx_proxies(tmp_path: Path) -> None:
    from bot import create_app
    from core.settings import Settings

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", secret_key="k"))
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert "/wechat" in rules and "/wecom" in rules
    assert any(r.startswith("/dashboard") for r in rules)
    assert any(r.startswith("/api/") for r in rules)
    assert {"/bind/start", "/bind/wechat", "/bind/cas"} <= rules
    assert {"/d/<token>", "/apply/<token>", "/apply/wechat"} <= rules


def dockerfile_copies() -> list[tuple[list[str], str]]:
    """The Dockerfile's ``COPY src... dest`` lines (flags such as ``--chown`` dropped)."""
    copies = []
    for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if not line.startswith("COPY "):
            continue
        words = shlex.split(line, comments=True)
        if words:
            args = [w for w in words[1:] if not w.startswith("--")]
            copies.append((args[:-1], args[-1]))
    return copies


def pyproject_packages() -> set[str]:
    import tomllib

    data = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text(encoding="utf-8"))
    include = data["tool"]["setuptools"]["packages"]["find"]["include"]
    return {pattern.rstrip("*") for pattern in include}


def test_dockerfile_copies_every_package_and_a_cjk_font() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    copied = {dest.removeprefix("./").rstrip("/") for _, dest in dockerfile_copies()}
    assert pyproject_packages() <= copied, pyproject_packages() - copied
    assert "deploy/gunicorn.conf.py" in copied
    assert re.search(r"apt-get install [^\n]*fonts-(wqy-microhei|noto-cjk)", text)
    compose_conf = compose()["services"]["web"]["command"]
    assert "/app/deploy/gunicorn.conf.py" in compose_conf
    assert re.search(r"^USER banzhuren$", text, re.M)
    ignored = (DEPLOY.parent / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", "*.db", "*.key"} <= set(ignored)


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    """A virtualenv installed (``pip install``, not editable) from exactly the files the
    Dockerfile's COPY lines take, as the image's ``RUN pip install .`` does. Third-party
    packages come from this test run's environment (a .pth line: no download), never the
    repository's own packages."""
    import shutil
    import subprocess
    import sys
    import sysconfig

    root = tmp_path_factory.mktemp("image")
    app = root / "app"
    app.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for sources, dest in dockerfile_copies():
        for source in sources:
            origin = DEPLOY.parent / source
            target = app / dest
            if dest.endswith("/"):
                target = target / origin.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=skip)
            else:
                shutil.copy2(origin, target)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(app)],
        check=True,
        cwd=root,
        capture_output=True,
    )
    (root / "work").mkdir()
    return root


def in_image(image: Path, argv: list[str], env: dict[str, str] | None = None):
    import os
    import subprocess

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BANZHUREN_", "PYTHON"))}
    return subprocess.run(
        argv,
        cwd=image / "work",
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_image_holds_every_package_and_its_data(image: Path) -> None:
    probe = (
        "import importlib, json, pathlib;"
        "mods = {m: importlib.import_module(m).__file__ for m in "
        "('bot', 'core', 'models', 'surveys', 'worker', 'core.doctor', 'bot.cli.zh')};"
        "import core.documents, models.migrate, bot.dashboard;"
        "docs = pathlib.Path(core.documents.__file__).parent / 'templates';"
        "mods['docx'] = sorted(p.name for p in docs.glob('*.docx'));"
        "mods['migrations'] = len(list(models.migrate.MIGRATIONS.glob('versions/*.py')));"
        "mods['templates'] = len(list(pathlib.Path(bot.dashboard.__file__).parent.glob("
        "'templates/dashboard/*.html')));"
        "import bot.public;"
        "mods['public'] = sorted(p.name for p in pathlib.Path(bot.public.__file__).parent.glob("
        "'templates/public/*.html'));"
        "print(json.dumps(mods))"
    )
    done = in_image(image, [str(image / "venv/bin/python"), "-c", probe])
    assert done.returncode == 0, done.stderr
    import json

    found = json.loads(done.stdout)
    for name in ("bot", "core", "models", "surveys", "worker", "core.doctor", "bot.cli.zh"):
        # Installed into the venv, not read from the repository.
        assert found[name].startswith(str(image / "venv")), found[name]
    assert len(found["docx"]) == 5
    assert found["public"] == ["apply.html", "page.html"]
    assert found["migrations"] >= 6 and found["templates"] >= 10


def test_the_image_inits_serves_and_works(image: Path, backend: str, tmp_path: Path) -> None:
    """``banzhuren init``, gunicorn loading the app with the image's gunicorn.conf.py, and the
    worker's Celery app import, each run from the installed venv."""
    import uuid

    from sqlalchemy import text

    from tests.conftest import create_pg_database, pg_database_url

    admin = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'image.db'}"
    else:
        name = f"banzhuren_image_{uuid.uuid4().hex[:10]}"
        admin = create_pg_database(name)
        url = pg_database_url(name)
    env = {"BANZHUREN_DATABASE_URL": url, "BANZHUREN_SECRET_KEY": "k" * 40}
    bin_ = image / "venv" / "bin"
    try:
        init = in_image(image, [str(bin_ / "banzhuren"), "init"], env)
        assert init.returncode == 0, init.stderr
        assert "数据库已就绪" in init.stdout
        listed = in_image(image, [str(bin_ / "banzhuren"), "user", "list"], env)
        assert listed.returncode == 0, listed.stderr
        conf = str(image / "app" / "deploy" / "gunicorn.conf.py")
        check = in_image(
            image,
            [
                str(bin_ / "python"),
                "-m",
                "gunicorn",
                "--check-config",
                "-c",
                conf,
                "bot:create_app()",
            ],
            env,
        )
        assert check.returncode == 0, check.stderr + check.stdout
        app = in_image(
            image,
            [
                str(bin_ / "python"),
                "-c",
                "from gunicorn.util import import_app; app = import_app('bot:create_app()');"
                "print(sorted({r.rule for r in app.url_map.iter_rules()} & {'/wechat', '/dashboard/'}))",
            ],
            env,
        )
        assert app.returncode == 0, app.stderr
        assert app.stdout.strip() == "['/dashboard/', '/wechat']"
        worker = in_image(
            image,
            [
                str(bin_ / "python"),
                "-c",
                "import worker.main as m; print(sum(1 for t in m.celery.tasks "
                "if t.startswith('banzhuren.')))",
            ],
            env | {"BANZHUREN_REDIS_URL": "redis://127.0.0.1:6379/0"},
        )
        assert worker.returncode == 0, worker.stderr
        assert int(worker.stdout) >= 8
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def test_nginx_sends_hsts() -> None:
    text = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert re.search(r'add_header Strict-Transport-Security "max-age=\d{8,}[^"]*" always;', text)


def test_nginx_passes_the_arrival_time_and_the_client() -> None:
    text = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    server = text[text.index("listen 443") :]
    assert 'proxy_set_header X-Request-Start "t=${msec}";' in server
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in server
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in server


@pytest.mark.parametrize(
    ("secret", "refused"), [("", "BANZHUREN_SECRET_KEY"), ("CHANGE-ME", "CHANGE-ME")]
)
def test_gunicorn_refuses_to_start_without_a_secret_key(tmp_path: Path, secret, refused) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("BANZHUREN_")}
    env.update(
        BANZHUREN_SECRET_KEY=secret,
        BANZHUREN_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
        GUNICORN_BIND="127.0.0.1:0",
        WEB_CONCURRENCY="1",
    )
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert refused in done.stderr + done.stdout


def test_gunicorn_hook_accepts_a_set_key(monkeypatch) -> None:
    monkeypatch.setenv("BANZHUREN_SECRET_KEY", "x" * 64)
    for name in ("BANZHUREN_DATABASE_URL", "BANZHUREN_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    namespace = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert namespace["on_starting"](None) is None


def test_gunicorn_access_log_masks_chat_link_tokens() -> None:
    namespace = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    mask = namespace["mask_token_path"]
    token = "A" * 43
    assert mask(f"/d/{token}") == "/d/…"
    assert mask(f"/apply/{token}") == "/apply/…"
    assert mask("/apply/wechat") == "/apply/wechat"
    assert mask("/dashboard/teachers/3") == "/dashboard/teachers/3"
    logger = namespace["TokenMaskingLogger"]
    from gunicorn.glogging import Logger

    assert issubclass(logger, Logger) and namespace["logger_class"] is logger
