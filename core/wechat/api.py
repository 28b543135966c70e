"""WeChat's outbound API (customer-service messages, menus...) through wechatpy, with two
changes that a deployment of several processes needs:

- every call, the access-token fetch included, goes to ``BANZHUREN_WECHAT_API_BASE``
  (wechatpy hard-codes ``https://api.weixin.qq.com/``; tests point this at a local fake);
- the access token is shared by all processes: in Redis when configured (a Redis lock makes one
  process the refresher), else in the ``wechat_access_tokens`` table (under a database lock).
  A fresh token invalidates the previous one, so a process that refreshed on its own would
  break the others (errcode 40001).

A call answered with 40001 / 40014 / 42001 (token invalid or expired) refreshes the token once —
unless another process already did — and is retried once.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Callable
from typing import Protocol

from requests import RequestException
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

import core.db
from core.locks import LOCK_ACCESS_TOKEN, advisory_lock
from core.redis_client import redis_client, rkey
from core.settings import Settings
from models.base import utcnow
from models.messaging import WeChatAccessToken

log = logging.getLogger(__name__)

WECHAT_HOST = "https://api.weixin.qq.com/"
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# Refresh this long before WeChat's expiry, so a token is never used in its last minutes.
EXPIRY_MARGIN = 300
HTTP_TIMEOUT = 10

Fetch = Callable[[], tuple[str, int]]

_CREDENTIALS = re.compile(r"((?:secret|access_token)=)[^&\s'\")]+")


def scrub(text: str) -> str:
    """``text`` (an error message, which may quote a request URL) without the AppSecret or an
    access token, for logs and ``last_error``."""
    return _CREDENTIALS.sub(r"\1***", text)


class TokenStore(Protocol):
    def get(self) -> str | None: ...

    def refresh(self, fetch: Fetch, stale: str | None) -> str: ...


class RedisTokenStore:
    """The token under ``<prefix>:wechat:token:<appid>`` with a TTL; refreshing holds
    ``<prefix>:wechat:token-lock:<appid>``."""

    def __init__(self, settings: Settings, appid: str) -> None:
        self._redis = redis_client(settings)
        self._key = rkey(settings, "wechat", "token", appid)
        self._lock = rkey(settings, "wechat", "token-lock", appid)

    def get(self) -> str | None:
        value = self._redis.get(self._key)
        return value.decode() if value is not None else None

    def refresh(self, fetch: Fetch, stale: str | None) -> str:
        with self._redis.lock(
            self._lock, timeout=HTTP_TIMEOUT + 5, blocking_timeout=HTTP_TIMEOUT + 5
        ):
            current = self.get()
            if current is not None and current != stale:
                return current  # another process refreshed while we waited
            token, expires_in = fetch()
            self._redis.set(self._key, token, ex=max(60, expires_in - EXPIRY_MARGIN))
            return token


class DbTokenStore:
    """The token in ``wechat_access_tokens``, in sessions of its own (committed at once)."""

    def __init__(self, appid: str) -> None:
        self._appid = appid

    def get(self) -> str | None:
        with core.db.session_scope() as s:
            row = s.get(WeChatAccessToken, self._appid)
            if row is None or row.expires_at <= utcnow():
                return None
            return row.token

    def refresh(self, fetch: Fetch, stale: str | None) -> str:
        # One write transaction holding the token lock: the first process to find the token
        # stale fetches a new one, the others wait for it and read it.
        with core.db.session_scope(write=True) as s:
            advisory_lock(s, LOCK_ACCESS_TOKEN, self._appid, HTTP_TIMEOUT + 5)
            row = s.get(WeChatAccessToken, self._appid)
            if row is not None and row.expires_at > utcnow() and row.token != stale:
                return row.token  # another process refreshed while we waited
            token, expires_in = fetch()
            expires_at = utcnow() + dt.timedelta(seconds=max(60, expires_in - EXPIRY_MARGIN))
            if row is None:
                s.add(WeChatAccessToken(appid=self._appid, token=token, expires_at=expires_at))
            else:
                row.token, row.expires_at = token, expires_at
            return token


def token_store_for(settings: Settings) -> TokenStore:
    appid = settings.wechat_appid or ""
    if settings.redis_url:
        return RedisTokenStore(settings, appid)
    return DbTokenStore(appid)


class WeChatApi(WeChatClient):
    """wechatpy's ``WeChatClient`` with the API base and token sharing described above.
    Use it like wechatpy's: ``WeChatApi(settings).message.send_text(openid, text)``."""

    def __init__(self, settings: Settings, tokens: TokenStore | None = None) -> None:
        if not (settings.wechat_appid and settings.wechat_secret):
            raise RuntimeError(
                "BANZHUREN_WECHAT_APPID and BANZHUREN_WECHAT_SECRET are needed to send messages"
            )
        super().__init__(
            settings.wechat_appid, settings.wechat_secret, timeout=HTTP_TIMEOUT, auto_retry=False
        )
        self.api_base = settings.wechat_api_base
        self.tokens = tokens if tokens is not None else token_store_for(settings)
        # requests reads the environment's proxies and CA bundle again on every call (~a
        # third of a send's CPU in a round's fan-out, issue 26): read once, here, instead.
        import requests.utils

        self._http.proxies = requests.utils.get_environ_proxies(self.api_base)
        self._http.verify = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        self._http.trust_env = False

    def rebase(self, url: str) -> str:
        """``url`` on the configured API base instead of WeChat's host."""
        if url.startswith(WECHAT_HOST):
            return self.api_base + url[len(WECHAT_HOST) :]
        return url

    def _fetch_token(self) -> tuple[str, int]:
        """Ask WeChat for a new token (only ever called under the store's lock)."""
        log.info("fetching a WeChat access token for %s", self.appid)
        try:
            res = self._http.get(
                self.api_base + "cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self.appid,
                    "secret": self.secret,
                },
                timeout=self.timeout,
            )
            res.raise_for_status()
            result = res.json()
        except (RequestException, ValueError) as exc:
            raise WeChatClientException(
                None, scrub(f"token request failed: {exc}"), client=self
            ) from None
        if result.get("errcode"):
            raise WeChatClientException(
                int(result["errcode"]), result.get("errmsg", ""), client=self
            )
        return result["access_token"], int(result.get("expires_in", 7200))

    @property
    def access_token(self) -> str:
        return self.tokens.get() or self.tokens.refresh(self._fetch_token, stale=None)

    def fetch_access_token(self) -> dict:
        token = self.tokens.refresh(self._fetch_token, stale=self.tokens.get())
        return {"access_token": token}

    def _request(self, method, url_or_endpoint, **kwargs):
        if url_or_endpoint.startswith(("http://", "https://")):
            url = url_or_endpoint
            kwargs.pop("api_base_url", None)
        else:
            url = kwargs.pop("api_base_url", self.API_BASE_URL) + url_or_endpoint
        url = self.rebase(url)
        params = dict(kwargs.pop("params", None) or {})
        given = params.get("access_token")
        for attempt in (1, 2):
            token = given or self.access_token
            try:
                return super()._request(
                    method, url, params={**params, "access_token": token}, **kwargs
                )
            except WeChatClientException as exc:
                if given or attempt == 2 or exc.errcode not in TOKEN_ERRCODES:
                    raise
                log.info("WeChat said errcode %s: refreshing the access token", exc.errcode)
                self.tokens.refresh(self._fetch_token, stale=token)
        raise AssertionError("unreachable")
