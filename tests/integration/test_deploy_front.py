"""The deployment's real front (issue 22.2): Debian's nginx running ``deploy/nginx.conf``
(adapted only where a test must: ports on 127.0.0.1, a self-signed certificate, the upstream
address), gunicorn with ``deploy/gunicorn.conf.py``, and a Celery worker and beat started with
the command lines of ``deploy/systemd/`` (``ExecStartPre`` ``banzhuren init`` first). Over TLS
through nginx: a signed, encrypted WeChat message; a dashboard login with Secure cookies; the
client's address reaching the login lockout through X-Forwarded-For; an oversize body
refused by nginx itself. One set of processes per backend (module scope)."""

from __future__ import annotations

import configparser
import datetime as dt
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from bot.demo.fake_wechat import FakeWeChatApi
from bot.demo.servers import free_port
from core.wechat import crypto
from core.wechat.simulate import WeChatSimulator
from models import AuditLog, LoginLock
from tests.support.dashboard import csrf_from

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
BIN = Path(sys.executable).parent  # this venv stands in for /opt/banzhuren/venv
PASSWORD = "front-door-password-1"
SERVER_NAME = "banzhuren.example.edu.cn"
CLIENT = "127.0.0.5"  # the browser's address, as nginx sees it (not nginx's own 127.0.0.1)


def unit_command(name: str, key: str, workdir: Path) -> list[str]:
    """``ExecStart``/``ExecStartPre`` of a systemd unit, with the unit's install paths mapped
    onto this checkout (code, venv) and the test's working directory."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(DEPLOY / "systemd" / name, encoding="utf-8")
    argv = shlex.split(parser["Service"][key])
    mapped = []
    for arg in argv:
        arg = arg.replace("/opt/banzhuren/venv/bin/", f"{BIN}/")
        arg = arg.replace("/opt/banzhuren/deploy/", f"{DEPLOY}/")
        arg = arg.replace("/var/lib/banzhuren", str(workdir))
        mapped.append(arg)
    return mapped


def adapt_nginx_conf(conf: str, *, http: int, https: int, upstream: int, tmp: Path) -> str:
    """deploy/nginx.conf, changed only where this machine differs from the deployment. Each
    change must find its line: a config that moved on fails here, loudly."""

    def sub(pattern: str, replacement: str, text_: str) -> str:
        new, n = re.subn(pattern, replacement, text_, flags=re.M)
        assert n >= 1, f"deploy/nginx.conf no longer has {pattern!r}"
        return new

    conf = sub(r"^worker_processes .*;$", "worker_processes 1;", conf)
    conf = (
        f"pid {tmp}/nginx.pid;\nerror_log {tmp}/nginx-error.log warn;\n" + conf
    )  # not the system's
    # Docker's DNS and re-resolving upstreams (nginx >= 1.27.3) exist only under compose.
    conf = sub(r"^\s*resolver 127\.0\.0\.11.*;$", "", conf)
    conf = sub(r"server web:8000 resolve;", f"server 127.0.0.1:{upstream};", conf)
    # `http2 on;` needs nginx >= 1.25.1; the test speaks HTTP/1.1 either way.
    conf = sub(r"^\s*http2 on;$", "", conf)
    conf = sub(r"listen 80;", f"listen 127.0.0.1:{http};", conf)
    conf = sub(r"listen 443 ssl;", f"listen 127.0.0.1:{https} ssl;", conf)
    conf = sub(r"/etc/nginx/certs/", f"{tmp}/certs/", conf)
    conf = sub(r"access_log /dev/stdout;", f"access_log {tmp}/nginx-access.log;", conf)
    conf = sub(r"error_log /dev/stderr warn;", f"error_log {tmp}/nginx-error.log warn;", conf)
    temp = "".join(
        f"    {kind}_temp_path {tmp}/nginx-{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return sub(r"^http \{$", "http {\n" + temp, conf)


def self_signed(certs: Path) -> Path:
    """A certificate for banzhuren.example.edu.cn and 127.0.0.1, and its key."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "banzhuren.example.edu.cn")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("banzhuren.example.edu.cn"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    certs.mkdir()
    (certs / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (certs / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certs / "fullchain.pem"


class FromAddress(HTTPAdapter):
    """Connections from a chosen local address (so nginx sees a client other than itself)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        return super().init_poolmanager(*args, **kwargs)


def browser(front: Front, address: str = CLIENT) -> requests.Session:
    s = requests.Session()
    # This machine's REQUESTS_CA_BUNDLE (and any proxy) would override the session's own.
    s.trust_env = False
    s.mount("https://", FromAddress(address))
    s.mount("http://", FromAddress(address))
    s.verify = str(front.cert)
    # The name a browser would use on port 443 (nginx passes $host, without the test's port,
    # and Flask-WTF compares the Referer with it).
    s.headers["Host"] = SERVER_NAME
    return s


@dataclass
class Front:
    url: str  # https://127.0.0.1:PORT
    http_url: str
    cert: Path
    env: dict[str, str]
    database_url: str
    workdir: Path
    sim: WeChatSimulator
    processes: dict[str, subprocess.Popen]

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def _start(name: str, argv: list[str], env: dict[str, str], workdir: Path) -> subprocess.Popen:
    with (workdir / f"{name}.log").open("ab") as log:
        return subprocess.Popen(
            argv,
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def _wait(front: Front, ready, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in front.processes.items():
            if process.poll() is not None:
                pytest.fail(f"{name} exited ({process.returncode}):\n{front.log(name)}")
        try:
            if ready():
                return
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.25)
    logs = "\n".join(f"--- {n}\n{front.log(n)}" for n in front.processes)
    pytest.fail(f"{what} not ready within {timeout:.0f} s\n{logs}")


@pytest.fixture(scope="module")
def front(backend: str, redis_url: str, tmp_path_factory) -> Iterator[Front]:
    from tests.conftest import create_pg_database, pg_database_url

    workdir = tmp_path_factory.mktemp("front")
    admin = None
    if backend == "sqlite":
        database_url = f"sqlite:///{workdir / 'banzhuren.db'}"
    else:
        name = f"banzhuren_front_{uuid.uuid4().hex[:10]}"
        admin = create_pg_database(name)
        database_url = pg_database_url(name)
    wechat_api = FakeWeChatApi(appid="wx" + uuid.uuid4().hex[:16], secret=uuid.uuid4().hex)
    wechat_api.start()
    prefix = f"bzrfront-{uuid.uuid4().hex[:8]}"
    aes_key = crypto.random_aes_key()
    web_port, http_port, https_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BANZHUREN_", "GUNICORN"))}
    env |= {
        "BANZHUREN_DATABASE_URL": database_url,
        "BANZHUREN_REDIS_URL": redis_url,
        "BANZHUREN_REDIS_PREFIX": prefix,
        "BANZHUREN_CELERY_QUEUE": prefix,
        "BANZHUREN_SECRET_KEY": uuid.uuid4().hex * 2,
        "BANZHUREN_WECHAT_TOKEN": "fronttoken",
        "BANZHUREN_WECHAT_APPID": wechat_api.appid,
        "BANZHUREN_WECHAT_SECRET": wechat_api.secret,
        "BANZHUREN_WECHAT_AES_KEY": aes_key,
        "BANZHUREN_WECHAT_API_BASE": wechat_api.url,
        # deploy/.env.example's values for these two.
        "BANZHUREN_SECURE_COOKIES": "true",
        "BANZHUREN_TRUSTED_PROXIES": "1",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    web_env = env | {"GUNICORN_BIND": f"127.0.0.1:{web_port}"}
    processes: dict[str, subprocess.Popen] = {}
    front = Front(
        url=f"https://127.0.0.1:{https_port}",
        http_url=f"http://127.0.0.1:{http_port}",
        cert=self_signed(workdir / "certs"),
        env=env,
        database_url=database_url,
        workdir=workdir,
        sim=WeChatSimulator("fronttoken", aes_key=aes_key, appid=wechat_api.appid, mode="safe"),
        processes=processes,
    )
    try:
        # The web unit's ExecStartPre, then the user Student Affairs logs in with.
        init = unit_command("banzhuren-web.service", "ExecStartPre", workdir)
        done = subprocess.run(init, cwd=workdir, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert (workdir / "banzhuren-seal.key").exists()  # shared by web, worker and beat
        add = [str(BIN / "banzhuren"), "user", "add", "xsc", "--role", "affairs"]
        done = subprocess.run(
            [*add, "--password-stdin"],
            cwd=workdir,
            env=env,
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        processes["web"] = _start(
            "web", unit_command("banzhuren-web.service", "ExecStart", workdir), web_env, workdir
        )
        processes["worker"] = _start(
            "worker", unit_command("banzhuren-worker.service", "ExecStart", workdir), env, workdir
        )
        processes["beat"] = _start(
            "beat", unit_command("banzhuren-beat.service", "ExecStart", workdir), env, workdir
        )
        conf = adapt_nginx_conf(
            (DEPLOY / "nginx.conf").read_text(encoding="utf-8"),
            http=http_port,
            https=https_port,
            upstream=web_port,
            tmp=workdir,
        )
        (workdir / "nginx.conf").write_text(conf, encoding="utf-8")
        check = subprocess.run(
            [NGINX, "-t", "-p", str(workdir), "-c", str(workdir / "nginx.conf")],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stderr
        processes["nginx"] = _start(
            "nginx",
            [NGINX, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"],
            env,
            workdir,
        )
        s = browser(front)
        _wait(front, lambda: s.get(front.url + "/dashboard/login", timeout=5).ok, "nginx → web")
        yield front
    finally:
        for process in processes.values():
            _stop(process)
        wechat_api.stop()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def rows(front: Front, query):
    engine = create_engine(front.database_url)
    try:
        with Session(engine) as session:
            return list(session.scalars(query))
    finally:
        engine.dispose()


def post_wechat(front: Front, query: dict, body: bytes) -> requests.Response:
    return browser(front).post(front.url + "/wechat", params=query, data=body, timeout=10)


def test_an_encrypted_wechat_message_goes_through_nginx_over_tls(front: Front):
    query, body = front.sim.text("o-front-1", "帮助")
    response = post_wechat(front, query, body)
    assert response.status_code == 200, response.text
    assert "<Encrypt>" in response.text  # the reply is encrypted, as the message was
    reply = front.sim.read_reply(response.content)
    assert reply["ToUserName"] == "o-front-1" and reply["MsgType"] == "text"
    assert "绑定" in reply["Content"]
    # A forged signature is refused by the app behind nginx.
    query["msg_signature"] = "0" * 40
    assert post_wechat(front, query, body).status_code == 403
    # Plain HTTP is sent to HTTPS.
    plain = browser(front).get(front.http_url + "/dashboard/", allow_redirects=False, timeout=5)
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")


def login(s: requests.Session, front: Front, password: str, forged: str | None = None):
    page = s.get(front.url + "/dashboard/login", timeout=10)
    # Over HTTPS Flask-WTF wants the same-origin Referer a browser sends (it sees HTTPS
    # through nginx's X-Forwarded-Proto).
    headers = {"Referer": f"https://{SERVER_NAME}/dashboard/login"}
    if forged:
        headers["X-Forwarded-For"] = forged
    return s.post(
        front.url + "/dashboard/login",
        data={"username": "xsc", "password": password, "csrf_token": csrf_from(page.text)},
        headers=headers,
        allow_redirects=False,
        timeout=10,
    )


def test_a_dashboard_login_through_nginx_with_secure_cookies(front: Front):
    s = browser(front, "127.0.0.9")
    done = login(s, front, PASSWORD)
    assert done.status_code == 302, done.text
    assert done.headers["Location"].endswith("/dashboard/")
    cookie = next(c for c in s.cookies if c.name == "session")
    assert cookie.secure
    assert "max-age=31536000" in done.headers["Strict-Transport-Security"]
    page = s.get(front.url + "/dashboard/", timeout=10)
    assert page.status_code == 200 and "学期概览" in page.text
    # The login is audited with the browser's address, not nginx's.
    logins = rows(front, select(AuditLog).where(AuditLog.action == "login"))
    assert [a.detail["address"] for a in logins][-1] == "127.0.0.9"


def test_the_client_address_reaches_the_lockout(front: Front):
    """Five wrong passwords from one address lock the name for that address only, whatever
    X-Forwarded-For the client forges (nginx appends the address it saw; the app trusts one
    proxy, so it takes that one)."""
    s = browser(front, CLIENT)
    for i in range(5):
        wrong = login(s, front, "wrong-password-xx", forged=f"10.9.9.{i}")
        assert wrong.status_code == 401
    locked = login(s, front, PASSWORD, forged="10.9.9.99")
    assert locked.status_code == 401, "the right password from a locked address"
    [lock] = rows(front, select(LoginLock).where(LoginLock.username == "xsc"))
    assert lock.address == CLIENT
    failed = rows(front, select(AuditLog).where(AuditLog.action.like("login.%")))
    assert {a.detail["address"] for a in failed} == {CLIENT}
    # Another address is not locked out.
    elsewhere = login(browser(front, "127.0.0.6"), front, PASSWORD)
    assert elsewhere.status_code == 302


def test_an_oversize_body_is_refused_by_nginx(front: Front):
    query, body = front.sim.text("o-front-2", "帮助")
    assert post_wechat(front, query, body).status_code == 200
    query, _body = front.sim.text("o-front-2", "x")
    big = b"<xml>" + b"a" * (1024 * 1024 + 10) + b"</xml>"
    response = post_wechat(front, query, big)
    assert response.status_code == 413
    assert "nginx" in response.text  # nginx's own page: the app never saw it
    # gunicorn logged no request answered 413 (the app's own cap would have).
    web_log = (front.workdir / "web.log").read_text(errors="replace")
    assert '"POST /wechat" 200' in web_log  # it does log the webhook's requests
    assert '"POST /wechat" 413' not in web_log


def test_nginx_passes_the_arrival_time(front: Front):
    conf = (front.workdir / "nginx.conf").read_text(encoding="utf-8")
    assert 'proxy_set_header X-Request-Start "t=${msec}";' in conf


def test_worker_and_beat_of_the_units_are_live(front: Front):
    """The worker answers and beat beats: ``banzhuren doctor`` on the deployment."""

    def doctor() -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "banzhuren"), "doctor", "--online"],
            cwd=front.workdir,
            env=front.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    result = doctor()
    deadline = time.monotonic() + 60
    while result.returncode != 0 and time.monotonic() < deadline:
        time.sleep(1)
        result = doctor()
    assert result.returncode == 0, result.stdout + front.log("worker") + front.log("beat")
    assert "✓ Celery worker：1 个在运行" in result.stdout
    assert "✓ Celery beat：在运行" in result.stdout
    assert "✓ 微信接口" in result.stdout
