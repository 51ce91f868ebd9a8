"""Local emulator of the TKC FX cloud API (slips/import and the master endpoints).

One core (:meth:`Emulator.handle`), two ways to reach it::

    emu = Emulator()                                    # packaged seed, token "emulator-token"
    client = httpx.Client(transport=emu.transport(), base_url="http://fx.test")   # in-process
    with emu.serve(port=0) as server:                   # real HTTP on loopback: server.url
        httpx.post(server.url + emu.api_prefix() + "/v2/slips/import", ...)
    run_server(8765, store_path="slips.jsonl")          # blocking; `converter emulator` calls it

Public API: ``Emulator`` (``.handle``, ``.transport``, ``.serve``, ``.stored_slips``,
``.count_by_journo_read``, ``.stats``, ``.masters``, ``.set_faults``, ``.api_prefix``),
``EmulatorServer`` (``.url``, ``.host``, ``.port``, ``.shutdown()``, context manager),
``run_server`` (prints one stderr line ``FX エミュレーター: http://HOST:PORT で待ち受けています (...)``, then
serves until Ctrl-C/SIGTERM), ``Faults``, ``load_seed``, ``load_store`` and
``EmulatorStartError`` (a store file that is not the emulator's: path, line, reason). Seed data
and the GET endpoints live in :mod:`converter.emulator.masters`; the slips/import rules in
:mod:`converter.emulator.slips` (detail lines: :mod:`converter.emulator.details`; labels and
texts: :mod:`converter.emulator.fields`).

Behaviour: Bearer token or 401; ``Accept`` must list application/json, and ``Content-Type``
(required on POST, checked on GET when sent) must be application/json, else 406; unknown
ocode/locale 404 (the reference's 404 body, 該当するデータがありません; ``ocodes``/``locale``
say which companies exist, ``--ocode``/``--locale`` on the command line); the read-only token
gets 403 on slips/import, and so does an import that would add a 部門/取引先/口座 the company's
``company`` settings do not let the user update (seed key ``company``, see
:class:`~converter.emulator.masters.Company`: 部門別管理, 資金管理, 消費税申告書, 税抜経理,
主たる事業区分, 証憑番号数字のみ, update rights). slips/import answers 400 listing every error
of every slip (nothing stored), or 201 with ``informations`` for みなし処理 — the key is omitted
when there is nothing to say. Texts the reference documents are used verbatim; the others are
in ``OWN_MESSAGES`` (here and in :mod:`converter.emulator.fields`). Bad query parameters on master endpoints get
``400 {"status":400,"errors":[{"message"}]}`` (not in the reference). Customers ``offset`` is
0-based, ``limit`` 1..1000.

Faults hit slips/import only, after the auth/format checks, one per request: the next
``fault_plan`` entry ("ok", "503", "429", "slow", "drop") if any, else seeded random draws.
503/429: ``Retry-After: retry_after``, nothing stored. slow (``slow_rate`` of requests when
``slow_seconds`` > 0): processed and stored, then the answer waits ``slow_seconds``; the mock
transport raises ``httpx.ReadTimeout`` at once instead when the request's read timeout is
shorter, else it sleeps. drop (``drop_after_store_rate``): processed and stored, then the
connection is closed unanswered (mock: ``httpx.RemoteProtocolError``).

Inspection, no auth, loopback clients only: ``GET /_emulator/slips[?ocode=]``,
``GET /_emulator/stats``, ``GET /_emulator/masters[?ocode=]``, ``POST /_emulator/faults`` (JSON
object of fault fields). With ``store_path`` each stored slip is appended as one JSON line;
records already in the file are loaded at start.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import json
import os
import random
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from converter.emulator.fields import MSG_PARSE
from converter.emulator.masters import (
    GET_ENDPOINTS,
    MSG_404,
    SEED_PATH,
    BadParam,
    Masters,
    load_seed,
    parse_ymd,
    synthetic_customers,
)
from converter.emulator.slips import check_request, parse_body

__all__ = ["DEFAULT_PORT", "DEFAULT_TOKEN", "SEED_PATH", "Emulator", "EmulatorResponse",
           "EmulatorServer", "Faults", "load_seed", "run_server", "synthetic_customers"]

DEFAULT_TOKEN = "emulator-token"
DEFAULT_PORT = 8765
FAULT_KINDS = ("ok", "503", "429", "slow", "drop")

# Bodies the reference documents, verbatim (401, 403, 406; 404 in emulator_masters.MSG_404).
MSG_401 = "トークンが存在しないか無効です"
MSG_403 = "仕訳の更新権限がありません"
MSG_406 = "許可されていないフォーマットです"
# Not in the reference: the emulator's own wording (FX's real texts are unknown).
OWN_MESSAGES = {
    "405": "許可されていないメソッドです",
    "429": "リクエストが多すぎます。しばらくしてから再度お試しください",
    "503": "サービスが一時的に利用できません。しばらくしてから再度お試しください",
    "param": "パラメータ {} の値が正しくありません",
    "loopback": "loopback only",
}
MSG_429 = OWN_MESSAGES["429"]
MSG_503 = OWN_MESSAGES["503"]
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
Json = dict[str, Any]


@dataclass
class Faults:
    """Switchable faults of slips/import (see the module docstring)."""

    fail_503_rate: float = 0.0
    retry_after: int = 1
    rate_429: float = 0.0
    slow_seconds: float = 0.0
    slow_rate: float = 1.0
    drop_after_store_rate: float = 0.0
    fault_plan: list[str] = field(default_factory=list)

    def check(self) -> None:
        for name in ("fail_503_rate", "rate_429", "slow_rate", "drop_after_store_rate"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if int(self.retry_after) < 0 or float(self.slow_seconds) < 0:
            raise ValueError("retry_after and slow_seconds must not be negative")
        bad = [k for k in self.fault_plan if k not in FAULT_KINDS]
        if bad:
            raise ValueError(f"unknown fault_plan entries {bad}; use {FAULT_KINDS}")


@dataclass(frozen=True)
class EmulatorResponse:
    """What the core answers; ``delay`` and ``drop`` are carried out by the transport/server."""

    status: int
    headers: dict[str, str]
    body: bytes
    delay: float = 0.0
    drop: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


def _answer(status: int, obj: Any, **headers: str) -> EmulatorResponse:
    body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    return EmulatorResponse(status, {"Content-Type": "application/json", **headers}, body)


def _fail(status: int, message: str, **headers: str) -> EmulatorResponse:
    return _answer(status, {"status": status, "errors": [{"message": message}]}, **headers)


class Emulator:
    """The FX API core: masters per company, validation, stored slips, faults. Thread-safe."""

    def __init__(
        self,
        seed: str | os.PathLike[str] | Mapping[str, Any] | None = None,
        *,
        token: str = DEFAULT_TOKEN,
        readonly_token: str | None = None,
        ocodes: Sequence[str] | None = None,
        locale: str | None = None,
        company: Mapping[str, Any] | None = None,
        extra_customers: int = 0,
        store_path: str | os.PathLike[str] | None = None,
        fail_503_rate: float = 0.0,
        retry_after: int = 1,
        rate_429: float = 0.0,
        slow_seconds: float = 0.0,
        slow_rate: float = 1.0,
        drop_after_store_rate: float = 0.0,
        fault_plan: Sequence[str] = (),
        random_seed: int | None = 0,
    ) -> None:
        data = load_seed(seed)
        self.token = token
        self.readonly_token = readonly_token
        self.locale = str(locale or data.get("locale", "tfa"))
        self.ocodes = list(dict.fromkeys(ocodes or [str(data.get("ocode", "tc09999001"))]))
        self.faults = Faults(fail_503_rate, retry_after, rate_429, slow_seconds, slow_rate,
                             drop_after_store_rate, list(fault_plan))
        self.faults.check()
        self._rng = random.Random(random_seed)
        self._lock = threading.RLock()
        extra = synthetic_customers(extra_customers)
        self._masters: dict[str, Masters] = {}
        for ocode in self.ocodes:
            self._masters[ocode] = Masters.from_seed(data, company)
            self._masters[ocode].add_customers(copy.deepcopy(extra))
        self._journo: collections.Counter[str] = collections.Counter()
        self._slips: list[Json] = []
        self._stats: Json = {"requests": 0, "import_requests": 0, "import_by_status": {},
                             "faults": dict.fromkeys(FAULT_KINDS[1:], 0),
                             "without_x_requested_with": 0}
        self.store_path = Path(store_path) if store_path else None
        if self.store_path and self.store_path.exists():
            for record in load_store(self.store_path):
                self._remember(record)

    # -- accessors --------------------------------------------------------------------------
    def api_prefix(self, ocode: str | None = None) -> str:
        """``/fx/{ocode}/{locale}/api``; append e.g. ``/v2/slips/import``."""
        return f"/fx/{ocode or self.ocodes[0]}/{self.locale}/api"

    def stored_slips(self, ocode: str | None = None) -> list[Json]:
        """Stored slips, oldest first: seq, ocode, request_no, groupno, journo, journo_read,
        ymd_tr (ISO), slip (as stored, after みなし処理), informations."""
        with self._lock:
            return [copy.deepcopy(s) for s in self._slips if ocode in (None, s["ocode"])]

    def count_by_journo_read(self, ocode: str | None = None) -> collections.Counter[str]:
        """How often each journo_read was stored ("" when the slip carried none)."""
        return collections.Counter(s["journo_read"] for s in self.stored_slips(ocode))

    def stats(self) -> Json:
        with self._lock:
            out = copy.deepcopy(self._stats)
            out["slips_stored"] = len(self._slips)
            out["details_stored"] = sum(len(s["slip"]["detail"]) for s in self._slips)
            out["faults_config"] = dataclasses.asdict(self.faults)
            return out

    def masters(self, ocode: str | None = None) -> Json:
        """Current master data of a company, including records auto-added by imports."""
        with self._lock:
            return self._masters[ocode or self.ocodes[0]].snapshot()

    def set_faults(self, **changes: Any) -> Faults:
        """Change fault settings at runtime (same names as the constructor options)."""
        with self._lock:
            if "random_seed" in changes:
                self._rng.seed(changes.pop("random_seed"))
            unknown = set(changes) - {f.name for f in dataclasses.fields(Faults)}
            if unknown:
                raise ValueError(f"unknown fault options: {sorted(unknown)}")
            new = dataclasses.replace(self.faults, **changes)
            new.fault_plan = list(new.fault_plan)
            new.check()
            self.faults = new
            return dataclasses.replace(new)

    # -- the core ---------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str | Mapping[str, str] = "",
               headers: Mapping[str, str] | None = None, body: bytes = b"", *,
               client_host: str | None = None) -> EmulatorResponse:
        """Answer one HTTP request. ``client_host`` None means in-process (treated as loopback)."""
        hdrs = {k.lower(): v for k, v in (headers or {}).items()}
        if isinstance(query, str):
            query = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        with self._lock:
            self._stats["requests"] += 1
            if path.startswith("/_emulator/"):
                if client_host not in (None, *_LOOPBACK):
                    return _fail(403, OWN_MESSAGES["loopback"])
                return self._inspect(method, path, query, body)
            return self._api(method.upper(), path, query, hdrs, body)

    def _api(self, method: str, path: str, query: Mapping[str, str], hdrs: Mapping[str, str],
             body: bytes) -> EmulatorResponse:
        parts = path.split("/")
        # "", "fx", ocode, locale, "api", version, resource[, key]
        if len(parts) not in (7, 8) or parts[1] != "fx" or parts[4] != "api":
            return _fail(404, MSG_404)
        ocode, locale, version, resource = parts[2], parts[3], parts[5], parts[6]
        key = parts[7] if len(parts) == 8 else None
        endpoint = GET_ENDPOINTS.get((version, resource))
        is_import = (version, resource, key) == ("v2", "slips", "import")
        if not (is_import or endpoint) or key == "":
            return _fail(404, MSG_404)
        want = "POST" if is_import else "GET"
        if method != want:
            return _fail(405, OWN_MESSAGES["405"], Allow=want)
        auth = hdrs.get("authorization", "")
        bearer = auth[7:] if auth[:7].lower() == "bearer " else None
        if bearer not in {self.token, self.readonly_token} - {None}:
            return _fail(401, MSG_401)
        accept = [m.split(";")[0].strip().lower() for m in hdrs.get("accept", "").split(",")]
        ctype = hdrs.get("content-type", "").split(";")[0].strip().lower()
        if "application/json" not in accept or (
                (ctype or method == "POST") and ctype != "application/json"):
            return _fail(406, MSG_406)
        if "x-requested-with" not in hdrs:
            self._stats["without_x_requested_with"] += 1
        if ocode not in self._masters or locale != self.locale:
            return _fail(404, MSG_404)
        if endpoint is None:
            return self._import(ocode, bearer == self.token, body)
        try:
            return _answer(*endpoint(self._masters[ocode], key, query))
        except BadParam as exc:
            return _fail(400, OWN_MESSAGES["param"].format(exc.args[0]))

    def _count(self, status: int) -> None:
        by = self._stats["import_by_status"]
        by[str(status)] = by.get(str(status), 0) + 1

    def _import(self, ocode: str, may_write: bool, body: bytes) -> EmulatorResponse:
        self._stats["import_requests"] += 1
        request_no = self._stats["import_requests"]
        if not may_write:
            self._count(403)
            return _fail(403, MSG_403)
        fault = self._draw_fault()
        if fault in ("503", "429"):
            self._count(int(fault))
            message = MSG_503 if fault == "503" else MSG_429
            return _fail(int(fault), message, **{"Retry-After": str(self.faults.retry_after)})
        resp = self._store(ocode, request_no, body)
        self._count(resp.status)
        delay = self.faults.slow_seconds if fault == "slow" else 0.0
        return dataclasses.replace(resp, delay=delay, drop=fault == "drop")

    def _draw_fault(self) -> str | None:
        f = self.faults
        if f.fault_plan:
            kind: str | None = f.fault_plan.pop(0)
        elif f.fail_503_rate and self._rng.random() < f.fail_503_rate:
            kind = "503"
        elif f.rate_429 and self._rng.random() < f.rate_429:
            kind = "429"
        elif f.drop_after_store_rate and self._rng.random() < f.drop_after_store_rate:
            kind = "drop"
        elif f.slow_seconds and f.slow_rate and self._rng.random() < f.slow_rate:
            kind = "slow"
        else:
            kind = None
        if kind in self._stats["faults"]:
            self._stats["faults"][kind] += 1
        return None if kind == "ok" else kind

    def _store(self, ocode: str, request_no: int, body: bytes) -> EmulatorResponse:
        try:
            doc = parse_body(body)
        except ValueError:
            err = {"groupno": None, "is_ocr_dc": None, "lineno": None, "content": MSG_PARSE}
            return _answer(400, {"status": 400, "errors": [err]})
        masters = self._masters[ocode]
        outcome = check_request(doc, masters)
        if outcome.forbidden:
            return _fail(403, outcome.forbidden)
        if outcome.errors:
            return _answer(400, {"status": 400, "errors": outcome.errors})
        masters.apply(outcome.additions)
        records: list[Json] = []
        for g, (slip, infos) in enumerate(zip(outcome.slips, outcome.informations, strict=True),
                                          start=1):
            if masters.auto_numbering:
                self._journo[ocode] += 1
                slip["journo"] = str(self._journo[ocode])
            day = parse_ymd(slip["ymd_tr"])
            records.append({
                "seq": len(self._slips) + len(records) + 1, "ocode": ocode,
                "request_no": request_no, "groupno": g, "journo": slip.get("journo", ""),
                "journo_read": slip.get("journo_read", ""),
                "ymd_tr": day.isoformat() if day else slip["ymd_tr"],
                "slip": slip, "informations": infos})
        if self.store_path:
            # The store holds the company's slips (rehearsals use real exports): user-only.
            fd = os.open(self.store_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with open(fd, "a", encoding="utf-8") as fh:
                fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        for r in records:
            self._remember(r)
        informations = [i for infos in outcome.informations for i in infos]
        return _answer(201, {"status": 201, **({"informations": informations}
                                               if informations else {})})

    def _remember(self, record: Json) -> None:
        self._slips.append(record)
        if record["journo"].isdigit():  # keep auto-numbering going after a reload
            ocode = record["ocode"]
            self._journo[ocode] = max(self._journo[ocode], int(record["journo"]))

    # -- inspection -------------------------------------------------------------------------
    def _inspect(self, method: str, path: str, query: Mapping[str, str],
                 body: bytes) -> EmulatorResponse:
        what = (method.upper(), path.rstrip("/"))
        ocode = query.get("ocode") or None
        if what == ("GET", "/_emulator/slips"):
            slips = self.stored_slips(ocode)
            return _answer(200, {"count": len(slips), "slips": slips})
        if what == ("GET", "/_emulator/stats"):
            return _answer(200, self.stats())
        if what == ("GET", "/_emulator/masters"):
            if ocode is not None and ocode not in self._masters:
                return _fail(404, MSG_404)
            return _answer(200, self.masters(ocode))
        if what == ("POST", "/_emulator/faults"):
            try:
                changes = json.loads(body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("a JSON object is required")
                return _answer(200, dataclasses.asdict(self.set_faults(**changes)))
            except (ValueError, TypeError) as exc:
                return _fail(400, str(exc))
        return _fail(404, MSG_404)

    # -- transports -------------------------------------------------------------------------
    def transport(self) -> httpx.MockTransport:
        """An in-process transport for ``httpx.Client(transport=...)``."""

        def handler(request: httpx.Request) -> httpx.Response:
            resp = self.handle(request.method, request.url.path,
                               request.url.query.decode("ascii"), dict(request.headers.items()),
                               request.read())
            if resp.delay:
                read = (request.extensions.get("timeout") or {}).get("read")
                if read is not None and resp.delay > read:
                    raise httpx.ReadTimeout("emulated slow answer", request=request)
                time.sleep(resp.delay)
            if resp.drop:
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request)
            return httpx.Response(resp.status, headers=resp.headers, content=resp.body)

        return httpx.MockTransport(handler)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
        """Start a threaded HTTP server (port 0: any free port) and return at once."""
        return EmulatorServer(self, host, port)


class EmulatorStartError(Exception):
    """The store file cannot be loaded: ``path``, the 1-based ``line`` (0: the file as a whole)
    and ``reason`` (Japanese). The command line says it in one line; the emulator never starts
    on a file it would append to without understanding."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        self.path, self.line, self.reason = path, line, reason
        super().__init__(f"{path}:{line}: {reason}" if line else f"{path}: {reason}")


#: What a stored record must have, and of which type (see ``_store``).
_RECORD_FIELDS: dict[str, type | tuple[type, ...]] = {"ocode": str, "journo": str, "journo_read": str,
                                                      "slip": dict}


def load_store(path: Path) -> list[Json]:
    """The records of a store file (one JSON object a line, as ``_store`` appends them); anything
    else is an :class:`EmulatorStartError` naming the first line that is not one."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise EmulatorStartError(path, 0, err.strerror or str(err)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        bad_line = data[: err.start].count(b"\n") + 1
        raise EmulatorStartError(path, bad_line, "UTF-8 の文字ではありません") from None
    records: list[Json] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise EmulatorStartError(path, number, "JSON として読めません") from None
        if not isinstance(record, dict) or any(not isinstance(record.get(k), t) for k, t in _RECORD_FIELDS.items()):
            raise EmulatorStartError(path, number, "登録した仕訳の記録の形ではありません") from None
        records.append(record)
    return records


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    emulator: Emulator  # set on a per-server subclass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus delayed ACK
        # adds ~40 ms to every answer on loopback.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        resp = self.emulator.handle(self.command, unquote(url.path), url.query,
                                    dict(self.headers.items()), body,
                                    client_host=self.client_address[0])
        if resp.delay:
            time.sleep(resp.delay)
        if resp.drop:
            self.close_connection = True  # closing without a status line is the fault
            return
        try:
            self.send_response(resp.status)
            for name, value in resp.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            self.wfile.write(resp.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. timeout)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # library code stays quiet; stats() tells what happened


class EmulatorServer:
    """A running loopback server; ``shutdown()`` (or leaving the ``with`` block) stops it."""

    def __init__(self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("BoundHandler", (_Handler,), {"emulator": emulator})
        self.emulator = emulator
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_server(
    port: int = DEFAULT_PORT,
    *,
    host: str = "127.0.0.1",
    token: str = DEFAULT_TOKEN,
    readonly_token: str | None = None,
    store_path: str | os.PathLike[str] | None = None,
    seed: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    extra_customers: int = 0,
    ocodes: Sequence[str] | None = None,
    locale: str | None = None,
    company: Mapping[str, Any] | None = None,
    fail_503_rate: float = 0.0,
    retry_after: int = 1,
    rate_429: float = 0.0,
    slow_seconds: float = 0.0,
    slow_rate: float = 1.0,
    drop_after_store_rate: float = 0.0,
    fault_plan: Sequence[str] = (),
    random_seed: int | None = 0,
) -> None:
    """Serve until Ctrl-C or SIGTERM. The stderr banner's URL carries the real port (port 0)."""
    emu = Emulator(seed, token=token, readonly_token=readonly_token, ocodes=ocodes,
                   locale=locale, company=company, extra_customers=extra_customers, store_path=store_path,
                   fail_503_rate=fail_503_rate, retry_after=retry_after, rate_429=rate_429,
                   slow_seconds=slow_seconds, slow_rate=slow_rate,
                   drop_after_store_rate=drop_after_store_rate, fault_plan=fault_plan,
                   random_seed=random_seed)
    server = emu.serve(host, port)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # terminate() shuts down like Ctrl-C
    print(f"FX エミュレーター: {server.url} で待ち受けています (ocode {','.join(emu.ocodes)}, "
          f"locale {emu.locale}, 保存先 {store_path or '-'})。Ctrl-C で終了します", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
