"""One simulated student: Streamlit's browser protocol, spoken from Python.

A real browser spends most of a core on rendering, so thirty of them would measure the
machine's rendering rather than the server. This client does only what the server sees:
the same websocket frames a browser sends, and a reading of what comes back.

The protocol, as the Streamlit 1.67 server and frontend speak it
(`streamlit/web/server/starlette/starlette_websocket.py`, `streamlit/runtime/app_session.py`,
`streamlit/commands/navigation.py`, and `sendRerunBackMsg` in the frontend bundle):

1. `GET /_stcore/health`. With `server.enableXsrfProtection` on, the reply sets the
   `_streamlit_xsrf` cookie.
2. A websocket to `/_stcore/stream` with `Sec-WebSocket-Protocol: streamlit, <xsrf cookie>`
   (entry 1 is the subprotocol the server selects, entry 2 the XSRF token that it compares
   with the cookie, only needed for auth cookies; an optional entry 3 is a session id to
   resume), the cookie itself, and the server's own Origin. Every frame, both ways, is one
   binary protobuf: `BackMsg` up, `ForwardMsg` down.
3. Nothing runs until the client asks. `BackMsg.rerun_script` carries a `ClientState`:
   `query_string` (without "?"), `widget_states`, `page_script_hash` (empty on the first run of
   a session), `page_name` (the page's URL path, e.g. "attention"; "" is the default page; only
   sent on that first run), `fragment_id` (set when the widget lives in an `st.fragment`),
   `is_auto_rerun`, `cached_message_hashes` (none here, so every element arrives in full) and
   `context_info` (timezone, locale, url, colour scheme).
4. The server answers with `ForwardMsg`s: `new_session` (a run started; sent for every run),
   `navigation` (every page's `page_script_hash`, `url_pathname`, title), `page_info_changed`
   (the new query string after `st.query_params` is written), `delta` (`new_element`: one
   element, a widget's proto carries an `id` of the form `$$ID-<hash>-<key>`; `add_block`: a
   container; `Delta.fragment_id` names the fragment it belongs to), `page_not_found`,
   `session_status_changed`, and at the end `script_finished`: FINISHED_SUCCESSFULLY,
   FINISHED_FRAGMENT_RUN_SUCCESSFULLY, FINISHED_WITH_COMPILE_ERROR, or
   FINISHED_EARLY_FOR_RERUN (the run was replaced, e.g. by `st.rerun`; another run follows).
5. A widget change is another `rerun_script` with the widgets' states (`string_value` for a
   text box, `trigger_value` for a button; a form's fields travel with its submit button's
   trigger) and the current page's `page_script_hash`. Changing page sends the target's hash.

An uncaught exception reaches the client as an `Element.exception` (its details redacted when
`client.showErrorDetails` is "none"); `st.error` as an `Element.alert` of format ERROR.

    async with Session("http://127.0.0.1:8501") as tab:
        home = await tab.open("")               # the default page; tab.pages is now the navigation
        page = await tab.goto(tab.pages[3])     # a click on the fourth page in the sidebar
        edit = await tab.type_text(page.text_box(), "a sentence of my own")
        assert edit.ok and not edit.exceptions and not edit.errors
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import json
import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.Delta_pb2 import Delta
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
XSRF_COOKIE = "_streamlit_xsrf"
MAX_FRAME_BYTES = 64 * 2**20  # above server.maxMessageSize (50 MB)
MAX_TEXTS = 200
TEXT_BOXES = ("text_area", "text_input")
FINAL = {
    ForwardMsg.FINISHED_SUCCESSFULLY: "ok",
    ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY: "ok",
    ForwardMsg.FINISHED_WITH_COMPILE_ERROR: "compile_error",
}


@dataclass(frozen=True)
class Page:
    """One entry of the app's navigation."""

    title: str
    url_path: str  # "" for the default page
    script_hash: str


@dataclass(frozen=True)
class Widget:
    """A widget as the server described it in a run."""

    kind: str  # the Element field: "text_area", "button", ...
    id: str
    label: str
    value: Any  # a text box's current text; None for other widgets
    form_id: str
    fragment_id: str
    in_sidebar: bool
    disabled: bool
    is_form_submitter: bool = False

    @property
    def key(self) -> str:
        """The user key embedded in a generated id ("$$ID-<hash>-<key>"), or the id itself."""
        parts = self.id.split("-", 2)
        return parts[2] if self.id.startswith("$$ID-") and len(parts) == 3 else self.id


@dataclass
class RunResult:
    """What one script run sent back, and how long it took from request to `script_finished`."""

    status: str = "pending"  # ok, compile_error, timeout, disconnected
    seconds: float = 0.0
    page_script_hash: str = ""
    elements: Counter[str] = field(default_factory=Counter)
    widgets: list[Widget] = field(default_factory=list)
    alerts: list[tuple[str, str]] = field(default_factory=list)  # (ERROR/WARNING/INFO/SUCCESS, body)
    exceptions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # exception boxes drawn as warnings
    texts: list[str] = field(default_factory=list)  # titles and markdown, shortened
    figures: list[str] = field(default_factory=list)  # each plotly figure's JSON, if the session keeps them
    page_not_found: bool = False
    auto_reruns: list[tuple[float, str]] = field(default_factory=list)  # (interval s, fragment id)
    bytes_received: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def errors(self) -> list[str]:
        return [body for kind, body in self.alerts if kind == "ERROR"]

    def text_box(self) -> Widget | None:
        """The page's first editable text box in the main area (the sidebar's come last)."""
        boxes = [w for w in self.widgets if w.kind in TEXT_BOXES and not w.disabled]
        boxes.sort(key=lambda w: w.in_sidebar)
        return boxes[0] if boxes else None

    def form_submitter(self, form_id: str) -> Widget | None:
        return next((w for w in self.widgets if w.is_form_submitter and w.form_id == form_id), None)

    def _reset(self) -> None:
        """A new run began (after st.rerun): only its own elements count."""
        self.elements.clear()
        self.widgets.clear()
        self.alerts.clear()
        self.exceptions.clear()
        self.warnings.clear()
        self.texts.clear()
        self.figures.clear()
        self.auto_reruns.clear()

    def _add(self, delta: Delta, in_sidebar: bool, keep_figures: bool) -> None:
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind is None:
            return
        self.elements[kind] += 1
        if kind == "alert":
            self.alerts.append((Alert.Format.Name(element.alert.format), element.alert.body[:400]))
        elif kind == "exception":
            text = f"{element.exception.type}: {element.exception.message}"[:400]
            (self.warnings if element.exception.is_warning else self.exceptions).append(text)
        elif kind in ("markdown", "heading", "text") and len(self.texts) < MAX_TEXTS:
            self.texts.append(getattr(element, kind).body[:200])
        elif kind == "plotly_chart" and keep_figures:
            self.figures.append(element.plotly_chart.spec)
        proto = getattr(element, kind)
        widget_id = getattr(proto, "id", "") if "id" in proto.DESCRIPTOR.fields_by_name else ""
        if widget_id and kind not in ("plotly_chart", "vega_lite_chart", "dataframe", "deck_gl_json_chart"):
            value = None
            if kind in TEXT_BOXES:
                value = proto.value if proto.set_value else proto.default
            self.widgets.append(Widget(
                kind=kind, id=widget_id, label=getattr(proto, "label", ""), value=value,
                form_id=getattr(proto, "form_id", ""), fragment_id=delta.fragment_id, in_sidebar=in_sidebar,
                disabled=bool(getattr(proto, "disabled", False)),
                is_form_submitter=bool(getattr(proto, "is_form_submitter", False)),
            ))


def check_loopback(base_url: str) -> tuple[str, int]:
    """Host and port of `base_url`, refusing anything but this machine."""
    parts = urlsplit(base_url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS or parts.port is None:
        raise ValueError(f"only http://127.0.0.1:<port> (loopback) is allowed, not {base_url!r}")
    return parts.hostname, parts.port


def fetch_xsrf_cookie(base_url: str, timeout_s: float = 10.0) -> str | None:
    """What the browser's first request gets: the XSRF cookie (None when protection is off)."""
    host, port = check_loopback(base_url)
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", "/_stcore/health")
        reply = conn.getresponse()
        reply.read()
        cookies = SimpleCookie()
        for header in reply.headers.get_all("Set-Cookie") or []:
            cookies.load(header)
    finally:
        conn.close()
    morsel = cookies.get(XSRF_COOKIE)
    return morsel.value if morsel else None


class Session:
    """One browser tab's conversation with the server: connect, run pages, change widgets, close.

    Every wait is bounded by `timeout_s`; a run that does not finish in time is reported with
    status "timeout", and the session should then be closed.
    """

    def __init__(self, base_url: str, *, timeout_s: float = 120.0, keep_figures: bool = False) -> None:
        check_loopback(base_url)
        self.keep_figures = keep_figures  # keep each plotly figure's JSON in RunResult.figures
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.pages: list[Page] = []
        self.page_script_hash = ""
        self.query_string = ""
        self._ws: ClientConnection | None = None
        self._states: dict[str, WidgetState] = {}  # the non-trigger widget values this tab has set

    async def __aenter__(self) -> Session:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        cookie = await asyncio.to_thread(fetch_xsrf_cookie, self.base_url, self.timeout_s)
        protocols = ["streamlit", cookie] if cookie else ["streamlit"]
        headers = {"Cookie": f"{XSRF_COOKIE}={cookie}"} if cookie else {}
        ws_url = "ws" + self.base_url[len("http"):] + "/_stcore/stream"
        self._ws = await connect(
            ws_url, subprotocols=protocols, additional_headers=headers, origin=self.base_url,
            max_size=MAX_FRAME_BYTES, open_timeout=self.timeout_s, close_timeout=5,
            ping_interval=None, proxy=None,  # a browser sends no pings; loopback needs no proxy
        )

    async def close(self) -> None:
        if self._ws is not None:
            ws, self._ws = self._ws, None
            with contextlib.suppress(TimeoutError, ConnectionClosed, OSError):
                await asyncio.wait_for(ws.close(), 10)

    # ---- what a student does ----

    async def open(self, url_path: str = "", query_string: str = "") -> RunResult:
        """Load a page by its URL, as typing the address (the session's first run)."""
        self.query_string = query_string
        return await self._rerun(page_name=url_path)

    async def goto(self, page: Page) -> RunResult:
        """Click a page in the sidebar: the target's hash, the query string cleared."""
        self.query_string = ""
        self._states.clear()
        return await self._rerun(page_script_hash=page.script_hash)

    async def type_text(self, box: Widget, text: str, submit: Widget | None = None) -> RunResult:
        """Type `text` into a text box and commit it (with its form's submit button, if any)."""
        state = WidgetState(id=box.id, string_value=text)
        self._states[box.id] = state
        triggers = [WidgetState(id=submit.id, trigger_value=True)] if submit else []
        return await self._rerun(page_script_hash=self.page_script_hash, triggers=triggers,
                                 fragment_id=box.fragment_id)

    async def click(self, button: Widget, timeout_s: float | None = None) -> RunResult:
        """Press a button (a one-shot trigger, inside its fragment if it has one)."""
        return await self._rerun(page_script_hash=self.page_script_hash,
                                 triggers=[WidgetState(id=button.id, trigger_value=True)],
                                 fragment_id=button.fragment_id, timeout_s=timeout_s)

    # ---- the protocol ----

    def _client_state(self, page_script_hash: str, page_name: str, triggers: list[WidgetState],
                      fragment_id: str) -> ClientState:
        state = ClientState(query_string=self.query_string, page_script_hash=page_script_hash,
                            page_name=page_name, fragment_id=fragment_id)
        state.widget_states.widgets.extend([*self._states.values(), *triggers])
        info = state.context_info
        info.timezone, info.timezone_offset, info.locale = "UTC", 0, "en-US"
        info.url = f"{self.base_url}/{page_name}" + (f"?{self.query_string}" if self.query_string else "")
        info.is_embedded, info.color_scheme = False, "light"
        return state

    async def _rerun(self, *, page_script_hash: str = "", page_name: str = "",
                     triggers: list[WidgetState] | None = None, fragment_id: str = "",
                     timeout_s: float | None = None) -> RunResult:
        if self._ws is None:
            raise RuntimeError("connect() first")
        result = RunResult()
        message = BackMsg()
        message.rerun_script.CopyFrom(self._client_state(page_script_hash, page_name, triggers or [], fragment_id))
        start = time.perf_counter()
        deadline = start + (timeout_s or self.timeout_s)
        started = False  # messages before this run's new_session belong to an earlier run
        try:
            await self._ws.send(message.SerializeToString())
            while result.status == "pending":
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    result.status = "timeout"
                    break
                frame = await asyncio.wait_for(self._ws.recv(), remaining)
                result.bytes_received += len(frame)
                msg = ForwardMsg()
                msg.ParseFromString(frame)
                kind = msg.WhichOneof("type")
                if kind == "new_session":
                    started = True
                    result._reset()
                    result.page_script_hash = msg.new_session.page_script_hash
                elif kind == "navigation":
                    self.pages = [Page(p.page_name, p.url_pathname, p.page_script_hash)
                                  for p in msg.navigation.app_pages]
                    result.page_script_hash = msg.navigation.page_script_hash
                elif kind == "page_info_changed":
                    self.query_string = msg.page_info_changed.query_string
                elif not started:
                    continue
                elif kind == "delta":
                    path = msg.metadata.delta_path  # its first index: 0 main area, 1 sidebar
                    result._add(msg.delta, in_sidebar=len(path) > 0 and path[0] == 1, keep_figures=self.keep_figures)
                elif kind == "page_not_found":
                    result.page_not_found = True
                elif kind == "auto_rerun":
                    result.auto_reruns.append((msg.auto_rerun.interval, msg.auto_rerun.fragment_id))
                elif kind == "session_event" and msg.session_event.HasField("script_compilation_exception"):
                    exc = msg.session_event.script_compilation_exception
                    result.exceptions.append(f"{exc.type}: {exc.message}"[:400])
                elif kind == "script_finished":
                    if msg.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                        started = False  # st.rerun: the next run's new_session follows
                    else:
                        result.status = FINAL.get(msg.script_finished, "unknown")
        except TimeoutError:
            result.status = "timeout"
        except (ConnectionClosed, InvalidHandshake, OSError):
            result.status = "disconnected"
        result.seconds = time.perf_counter() - start
        if result.page_script_hash:
            self.page_script_hash = result.page_script_hash
        # As the frontend does, forget the values of widgets that this run did not draw.
        drawn = {w.id for w in result.widgets}
        if result.ok and not fragment_id:
            self._states = {k: v for k, v in self._states.items() if k in drawn}
        return result


def figure_differences(first: list[str], second: list[str], rel: float = 1e-3, abs_: float = 1e-5) -> list[str]:
    """Where two runs' plotly figures differ: one line per differing figure, empty when they agree.

    Text must be equal and numbers equal within `rel`/`abs_` (numbers printed in text, such as
    hover labels, within one unit of their last decimal): the same computation may round
    differently from one run to the next (a fused kernel, another thread count), and that is
    not a difference a student could see. Arrays that plotly sends as base64 (`bdata`) are
    decoded and compared as numbers.
    """
    lines = [f"{len(first)} figures vs {len(second)}"] if len(first) != len(second) else []
    for index, (a, b) in enumerate(zip(first, second, strict=False)):
        where = _first_difference(json.loads(a), json.loads(b), "", rel, abs_)
        if where is not None:
            lines.append(f"figure {index + 1}: {where}")
    return lines


# A number with a decimal point, as a label prints it ("0.25", "−1.036", "1,234.5").
_DECIMAL = re.compile(r"[−-]?\d[\d,]*\.(\d+)")


def _first_difference(a: Any, b: Any, path: str, rel: float, abs_: float) -> str | None:
    here = path or "."
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return None if math.isclose(a, b, rel_tol=rel, abs_tol=abs_) else f"{here}: {a!r} vs {b!r}"
    if type(a) is not type(b):
        return f"{here}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return f"{here}: keys {sorted(a.keys() ^ b.keys())[:5]}"
        if "bdata" in a and "dtype" in a:
            x, y = _decode(a), _decode(b)
            if x.shape != y.shape or not np.allclose(x, y, rtol=rel, atol=abs_, equal_nan=True):
                return f"{here}: arrays of {x.size} numbers differ"
            return None
        for key in a:
            if (found := _first_difference(a[key], b[key], f"{path}.{key}", rel, abs_)) is not None:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{here}: {len(a)} items vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if (found := _first_difference(x, y, f"{path}[{i}]", rel, abs_)) is not None:
                return found
        return None
    if isinstance(a, str) and a != b:
        same_words = _DECIMAL.sub("#", a) == _DECIMAL.sub("#", b)
        if same_words and all(
            math.isclose(_number(x.group()), _number(y.group()), rel_tol=rel,
                         abs_tol=max(abs_, 1.01 * 10 ** -len(x.group(1))))
            for x, y in zip(_DECIMAL.finditer(a), _DECIMAL.finditer(b), strict=True)
        ):
            return None
        return f"{here}: {a[:60]!r} vs {b[:60]!r}"
    return None if a == b else f"{here}: {str(a)[:60]!r} vs {str(b)[:60]!r}"


def _number(text: str) -> float:
    return float(text.replace("−", "-").replace(",", ""))


def _decode(typed_array: dict) -> np.ndarray:
    """Plotly's base64 array ({"dtype": "f8", "bdata": ..., "shape": "3, 4"}) as numbers."""
    values = np.frombuffer(base64.b64decode(typed_array["bdata"]), dtype=np.dtype(typed_array["dtype"]))
    shape = typed_array.get("shape")
    if shape:
        values = values.reshape([int(n) for n in str(shape).split(",")])
    return values.astype(float)
