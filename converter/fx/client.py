"""FX cloud API client (httpx): slips/import and the master endpoints.

The one rule that matters: a POST is retried only when it certainly did not take effect —
the connection was never made, or the server said 429/503. A read timeout or a connection
lost after the body went out is *ambiguous*: the slips may be stored, and the API has no
read-back, so the caller records ``unknown`` (要確認) and never re-sends on its own.

Waiting is bounded twice: each request by its timeouts (connect :data:`CONNECT_TIMEOUT`, read
:data:`READ_TIMEOUT`), and the client as a whole by its *patience*: once FX has answered nothing
for that long (:data:`PATIENCE`, counted over consecutive requests and their retries), the client
stops asking — a GET raises, a POST comes back ``not_sent`` at once (``gave_up``) without being
sent — so a command against a server that accepts connections and never answers ends within
about two minutes. Any answer (even an error) resets it: occasional slow answers past the read
timeout only make their own request ambiguous.

The token comes from the environment and is only ever placed in the Authorization header;
it is never logged, stored or put into an exception message.
"""

from __future__ import annotations

import email.utils
import ipaddress
import os
import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from converter.errors import ConfigError, FXAPIError, FXAuthError, FXFormatError, FXResponseError

Outcome = Literal["stored", "rejected", "ambiguous", "not_sent"]
DEFAULT_TOKEN_ENV = "FX_API_TOKEN"
#: Seconds to wait for a connection, and for an answer once the request is sent (``--timeout``).
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
#: Seconds without any answer from FX after which the client gives up (at least twice the read
#: timeout, so one slow answer never uses it all up). The FX reference gives no timeouts: ours.
PATIENCE = 120.0

#: Certainly not sent: no connection was established, so the server never saw the body.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: The body may have reached the server: never retried automatically.
_AMBIGUOUS = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError, httpx.ReadError,
              httpx.WriteError, httpx.NetworkError)


@dataclass(frozen=True)
class ImportResult:
    """What became of one slips/import POST."""

    outcome: Outcome
    status: int | None = None
    informations: tuple[dict[str, Any], ...] = ()
    errors: tuple[dict[str, Any], ...] = ()
    message: str = ""
    attempts: int = 1
    gave_up: bool = False  # not sent because FX had not answered for the client's patience


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter; Retry-After wins when the server sends it."""

    attempts: int = 6
    base: float = 0.5
    cap: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap)
        return self.rng.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))


def token_from_env(name: str = DEFAULT_TOKEN_ENV) -> str:
    token = os.environ.get(name, "").strip()
    if not token:
        raise FXAuthError(f"環境変数 {name} に FX クラウドの API トークンを設定してください (YAML には書きません)")
    return token


def check_base_url(url: str) -> str:
    """TLS for anything but this machine: a token must never cross a network in clear text."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("base_url", [f"URL が不正です: {url}"])
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError("base_url", [f"http:// はこのマシン (127.0.0.1 / localhost) の宛先にだけ使えます: {url}。"
                                       "FX クラウドには https:// を指定してください"])
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _raise_for_certificate(err: Exception) -> None:
    """A certificate FX's name cannot be verified against: retrying will not help, and the usual
    cause is a company proxy whose CA the machine does not know."""
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(cause):
            raise FXAPIError("FX のサーバー証明書を検証できません。接続先 (base_url) を確認してください。"
                             "社内プロキシ等の証明書を使う環境では、その CA 証明書のパスを環境変数 "
                             "SSL_CERT_FILE に設定してください (検証を無効にはしません)") from None
        cause = cause.__cause__ or cause.__context__
    return


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time()) if when else None


def timeouts(read: float | None = None) -> tuple[httpx.Timeout, float]:
    """The request timeouts and the patience for a read timeout of ``read`` seconds (default 60)."""
    read = read or READ_TIMEOUT
    return httpx.Timeout(read, connect=min(read, CONNECT_TIMEOUT)), max(PATIENCE, 2 * read)


def no_answer(seconds: float) -> str:
    """What the accountant reads when FX did not answer (not FX に接続できません: it did connect)."""
    return (f"FX から応答がありません ({seconds:.0f} 秒以上)。FX が混み合っているか停止している可能性があります。"
            "時間をおいてやり直してください (待ち時間は --timeout で延ばせます)")


def _fx_message(response: httpx.Response) -> str:
    """The first ``errors[].message`` of an FX error body, or "" when there is none."""
    try:
        errors = response.json().get("errors")
        return str(errors[0]["message"]) if errors and isinstance(errors[0], dict) else ""
    except (ValueError, AttributeError, KeyError, IndexError, TypeError):
        return ""


class FXClient:
    """A thin client over one company (``ocode``/``locale``) of the FX cloud API."""

    def __init__(
        self,
        base_url: str,
        ocode: str,
        token: str,
        *,
        locale: str = "tfa",
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        token_env: str = DEFAULT_TOKEN_ENV,
        patience: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = f"/fx/{ocode}/{locale}/api"
        self.ocode, self.locale = ocode, locale  # named in the 404 message
        self.token_env = token_env  # named in the 401 message, so the user knows what to fix
        self.retry = retry or RetryPolicy()
        default_timeout, default_patience = timeouts(timeout.read if timeout else None)
        self.timeout = timeout or default_timeout
        self.patience = patience if patience is not None else default_patience
        self._clock = clock
        self._silent_since: float | None = None  # when FX last left a request unanswered (None: it answers)
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Requested-With": "XMLHttpRequest",
        }
        self._http = httpx.Client(
            base_url=check_base_url(base_url),
            headers=headers,
            timeout=self.timeout,
            transport=transport,
            verify=True,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FXClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ slips

    def import_slips(self, body: bytes) -> ImportResult:
        """POST one request body. Raises FXAuthError/FXFormatError on 401/403/406."""
        url = f"{self.prefix}/v2/slips/import"
        attempt = 0
        while True:
            attempt += 1
            wait = self._wait()
            if wait is None:
                return ImportResult("not_sent", message=no_answer(self._silence()), attempts=attempt - 1,
                                    gave_up=True)
            started = self._clock()
            try:
                response = self._http.post(url, content=body, timeout=wait)
            except _NOT_SENT as err:
                _raise_for_certificate(err)
                self._unanswered(started)
                if attempt >= self.retry.attempts:
                    return ImportResult("not_sent", message=f"FX に接続できません ({type(err).__name__})",
                                        attempts=attempt)
                self.retry.sleep(self.retry.delay(attempt, None))
                continue
            except _AMBIGUOUS as err:
                self._unanswered(started)
                return ImportResult("ambiguous", message=f"送信後に応答がありません ({type(err).__name__})。"
                                    "FX に登録されたかどうか確認が必要です", attempts=attempt)
            self._silent_since = None
            status = response.status_code
            if status in (429, 503):
                if attempt >= self.retry.attempts:
                    return ImportResult("not_sent", status, message=f"FX が混雑しています (HTTP {status})",
                                        attempts=attempt)
                self.retry.sleep(self.retry.delay(attempt, _retry_after(response)))
                continue
            self._raise_for_stop(response)
            if status == 201:
                payload = self._json(response)
                return ImportResult("stored", 201, tuple(payload.get("informations") or ()), attempts=attempt)
            if status == 400:
                payload = self._json(response)
                return ImportResult("rejected", 400, errors=tuple(payload.get("errors") or ()), attempts=attempt)
            # 5xx other than 503, or anything undocumented: the server may have stored the slips.
            return ImportResult("ambiguous", status, message=f"FX から想定外の応答 (HTTP {status})。"
                                "登録されたかどうか確認が必要です", attempts=attempt)

    # ------------------------------------------------------------------ masters

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET a master endpoint (idempotent, so every transient failure may be retried)."""
        attempt = 0
        while True:
            attempt += 1
            wait = self._wait()
            if wait is None:
                raise FXAPIError(f"{no_answer(self._silence())}: {path}")
            started = self._clock()
            try:
                response = self._http.get(f"{self.prefix}/{path.lstrip('/')}", params=params, timeout=wait)
            except httpx.TransportError as err:
                _raise_for_certificate(err)
                self._unanswered(started)
                if attempt >= self.retry.attempts:
                    if isinstance(err, httpx.ReadTimeout):
                        raise FXAPIError(f"{no_answer(self._silence())}: {path}") from None
                    raise FXAPIError(f"FX に接続できません ({type(err).__name__}): {path}") from None
                self.retry.sleep(self.retry.delay(attempt, None))
                continue
            self._silent_since = None
            if response.status_code in (429, 502, 503, 504) and attempt < self.retry.attempts:
                self.retry.sleep(self.retry.delay(attempt, _retry_after(response)))
                continue
            self._raise_for_stop(response)
            if response.status_code != 200:
                raise FXAPIError(f"FX の応答が不正です (HTTP {response.status_code}): {path}",
                                 status=response.status_code)
            return self._json(response)

    def auto_numbering(self) -> bool:
        """Does FX number 伝票番号 itself (then ``journo`` is left out of every slip)?"""
        config = self.get("v1/inpjourconfig").get("inpjourconfig")
        if not isinstance(config, dict) or not isinstance(config.get("is_auto_numbering_journo"), bool):
            raise FXResponseError("仕訳の入力設定 (inpjourconfig) の応答が想定と違います")
        return bool(config["is_auto_numbering_journo"])

    # ------------------------------------------------------------------ waiting

    def _wait(self) -> httpx.Timeout | None:
        """The next request's timeouts: the client's, cut to what is left of its patience (None:
        none left — FX has not answered for that long)."""
        if self._silent_since is None:
            return self.timeout
        left = self.patience - (self._clock() - self._silent_since)
        if left <= 0:
            return None
        read = min(self.timeout.read or READ_TIMEOUT, left)
        return httpx.Timeout(read, connect=min(self.timeout.connect or CONNECT_TIMEOUT, read))

    def _silence(self) -> float:
        """Seconds since FX last left a request unanswered (0 when it answers)."""
        return 0.0 if self._silent_since is None else self._clock() - self._silent_since

    def _unanswered(self, started: float) -> None:
        """A request started at ``started`` got no answer (timed out, refused, dropped): the
        patience runs from the first of such requests in a row."""
        if self._silent_since is None:
            self._silent_since = started

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            raise FXResponseError(f"FX の応答が JSON ではありません (HTTP {response.status_code})") from None
        if not isinstance(payload, dict):
            raise FXResponseError(f"FX の応答の形が想定と違います (HTTP {response.status_code})")
        return payload

    def _raise_for_stop(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 401:
            raise FXAuthError(f"FX のトークンが存在しないか無効です (HTTP 401)。"
                              f"環境変数 {self.token_env} を確認してください", status=status)
        if status == 403:
            # FX says which right is missing (仕訳, or 部門/取引先/口座 when is_add_*master would add one).
            reason = _fx_message(response) or "仕訳・マスターの更新権限がありません"
            raise FXAuthError(f"FX: {reason} (HTTP 403)。この利用者の権限を FX で確認してください"
                              "(マスターへの自動追加が原因なら settings.yaml の is_add_*master を 0 にして"
                              "コードを対応表に登録する方法もあります)", status=status)
        if status == 404:
            # Every path the client calls is a list or slips/import, so 404 means FX does not know
            # the company (ocode) or the system (locale) in the URL; FX's own text comes first.
            raise FXAPIError(f"FX: {_fx_message(response) or '該当するデータがありません'} (HTTP 404)。"
                             f"企業コード・システム識別子を FX が認識しません。settings.yaml の "
                             f"ocode ({self.ocode}) と locale ({self.locale}) を確認してください。"
                             "処理を中止しました (FX には何も登録されていません)", status=status)
        if status == 406:
            raise FXFormatError("FX が形式を受け付けませんでした (HTTP 406)。"
                                "JSON 以外のヘッダーが付いていないか確認してください", status=status)
