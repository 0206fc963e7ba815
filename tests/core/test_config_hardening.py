"""The server settings and the source rules that keep a shared classroom server safe.

Read from the files themselves (`.streamlit/config.toml` and the app's Python source), so a
setting that drifts or a new page that breaks a rule fails here, before anyone runs the app:
- the config sets what a shared server needs, with option names and values that this
  Streamlit version knows (a misspelt option is silently ignored by Streamlit);
- nothing unpickles (only safetensors and JSON are loaded), and no HTML is built from data;
- every `st.cache_data` is bounded, and every text bound comes from `pages/common/limits.py`.
"""

from __future__ import annotations

import ast
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit import config as st_config

from pages.common import limits

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".streamlit" / "config.toml"


def sources(*folders: str) -> list[Path]:
    """app.py and the Python files of `folders` that git tracks (not caches or local scratch files)."""
    files = sorted([ROOT / "app.py", *(p for folder in folders for p in (ROOT / folder).rglob("*.py"))])
    try:
        listing = subprocess.run(["git", "ls-files", "app.py", *folders], cwd=ROOT, capture_output=True, text=True,
                                 check=True)
    except (OSError, subprocess.CalledProcessError):
        return files  # not a git checkout: every file counts
    tracked = {ROOT / name for name in listing.stdout.split()}
    return [f for f in files if f in tracked]


APP_SOURCES = sources("pages", "llm_core")
PAGE_SOURCES = sources("pages")


@pytest.fixture(scope="module")
def settings() -> dict:
    return tomllib.loads(CONFIG.read_text())


def test_every_option_in_the_config_exists_in_this_streamlit(settings: dict) -> None:
    known = set(st_config._config_options_template)
    given = {f"{section}.{name}" for section, options in settings.items() for name in options}
    assert given, "the config file is empty"
    assert not given - known, f"options this Streamlit does not know (ignored silently): {sorted(given - known)}"


def test_the_server_is_hardened_for_a_class(settings: dict) -> None:
    server, client, browser = settings["server"], settings["client"], settings["browser"]
    # Errors: a short message for students, never a traceback with paths and code.
    assert client["showErrorDetails"] == st_config.ShowErrorDetailsConfigOptions.NONE.value
    assert client["toolbarMode"] == "minimal"  # no rerun / clear-cache / deploy menu for students
    # Requests: small uploads and messages, forged cross-site requests refused.
    assert 1 <= server["maxUploadSize"] <= 2  # megabytes
    assert server["maxMessageSize"] <= 10  # megabytes; the largest element a page sends is about 0.2 MB
    assert server["enableXsrfProtection"] is True
    assert server["enableCORS"] is True  # Streamlit needs CORS protection on for XSRF protection
    # Nothing served or watched beyond the app itself, nothing sent out.
    assert server["enableStaticServing"] is False
    assert server["fileWatcherType"] == "none"
    assert server["runOnSave"] is False
    assert server["headless"] is True
    assert browser["gatherUsageStats"] is False
    assert not (ROOT / "static").exists()
    # Every element sent whole, never as a reference to the browser's cache, which quick reruns could miss.
    assert settings["global"]["minCachedMessageSize"] > server["maxMessageSize"] * 1e6


def test_the_upload_bound_fires_before_streamlits_own() -> None:
    """A file just over the app's bound reaches the page and gets its message naming the bound."""
    upload_mb = tomllib.loads(CONFIG.read_text())["server"]["maxUploadSize"]
    assert limits.UPLOAD_BYTES.maximum <= upload_mb * 1024 * 1024


def test_streamlit_reads_the_config_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parse the file with Streamlit's own loader: the values it will run with are the hardened ones."""
    monkeypatch.chdir(ROOT)
    options = st_config.get_config_options(force_reparse=True)
    try:
        assert options["client.showErrorDetails"].value == "none"
        assert options["server.enableXsrfProtection"].value is True
        assert options["server.enableStaticServing"].value is False
        assert options["server.fileWatcherType"].value == "none"
        assert options["server.maxUploadSize"].value <= 2
        assert options["browser.gatherUsageStats"].value is False
        assert options["global.minCachedMessageSize"].value >= 1e8
    finally:
        st_config.get_config_options(force_reparse=True)


# --- rules read from the source ---------------------------------------------------------------


def calls(path: Path) -> Iterator[ast.Call]:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call):
            yield node


def dotted(node: ast.AST) -> str:
    """`torch.load` for the expression torch.load, `st.cache_data` for st.cache_data(...)."""
    if isinstance(node, ast.Call):
        return dotted(node.func)
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Name):
        return node.id
    return ""


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}"


def test_nothing_is_unpickled() -> None:
    """Only safetensors and JSON are read: a pickle (torch.load, np.load with pickles) can run code."""
    unpicklers = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
    found = []
    for path in APP_SOURCES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                found += [f"{where(path, node)} imports {n}" for n in names if n.split(".")[0] in unpicklers]
            elif isinstance(node, ast.Call):
                name = dotted(node)
                if name.endswith(("torch.load", "jit.load", "read_pickle", "from_pretrained")):
                    found.append(f"{where(path, node)} calls {name}")
                allow = keyword(node, "allow_pickle")
                if allow is not None and not (isinstance(allow, ast.Constant) and allow.value is False):
                    found.append(f"{where(path, node)} allows pickles")
                weights_only = keyword(node, "weights_only")
                if isinstance(weights_only, ast.Constant) and weights_only.value is False:
                    found.append(f"{where(path, node)} sets weights_only=False")
    assert not found, found
    checkpoints = (ROOT / "llm_core" / "checkpoints.py").read_text()
    assert "from safetensors.torch import load_file" in checkpoints


def test_no_html_is_built_from_data() -> None:
    """unsafe_allow_html, st.html and components.html would render user text as markup: none in the app.

    Only a constant string (markup written in the source, not data) would be allowed.
    """
    found = []
    for path in PAGE_SOURCES:
        for call in calls(path):
            name = dotted(call)
            unsafe = keyword(call, "unsafe_allow_html")
            raw_html = name in ("st.html", "html") or name.endswith(("components.html", "v1.html", "components.iframe"))
            if (unsafe is not None and not (isinstance(unsafe, ast.Constant) and unsafe.value is False)) or raw_html:
                body = call.args[0] if call.args else None
                if not (isinstance(body, ast.Constant) and isinstance(body.value, str)):
                    found.append(f"{where(path, call)}: {name} renders non-constant HTML")
    assert not found, found


def test_every_cache_data_is_bounded() -> None:
    """st.cache_data keyed by what students type grows with every new input unless bounded."""
    found, seen = [], 0
    for path in PAGE_SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                if not dotted(decorator).endswith("cache_data"):
                    continue
                seen += 1
                bounded = isinstance(decorator, ast.Call) and any(
                    keyword(decorator, k) is not None for k in ("max_entries", "ttl")
                )
                if not bounded:
                    found.append(f"{where(path, node)} {node.name}: st.cache_data without max_entries or ttl")
    assert seen >= 5  # the pages do use it: this test is not looking at nothing
    assert not found, found


def is_literal_number(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool)


def test_text_bounds_come_from_limits() -> None:
    """A page's max_chars (widget, URL binding, text check) names a bound in limits.py, not a number of its own."""
    found = []
    for path in PAGE_SOURCES:
        if path.name == "limits.py":
            continue
        for call in calls(path):
            name = dotted(call)
            if is_literal_number(keyword(call, "max_chars")):
                found.append(f"{where(path, call)}: {name}(max_chars=<number>)")
            if name.endswith(("check_text", "read_upload")) and any(map(is_literal_number, call.args[1:])):
                found.append(f"{where(path, call)}: {name}(..., <number>)")
    assert not found, "bounds written into pages instead of pages/common/limits.py:\n" + "\n".join(found)


def test_uploads_go_through_the_upload_check() -> None:
    """A page that takes files reads them only with limits.read_upload (size, decoding, binary refused)."""
    for path in PAGE_SOURCES:
        source = path.read_text()
        if "file_uploader(" in source and path.name != "limits.py":
            assert "limits.read_upload(" in source, f"{path.relative_to(ROOT)} takes uploads without read_upload"
            assert ".read()" not in source and ".getbuffer()" not in source, path


def test_only_the_training_helper_starts_threads() -> None:
    """Trainings run in threads only through pages/common/training.py, which holds a server slot for each."""
    allowed = {"training.py", "limits.py"}
    for path in PAGE_SOURCES:
        if path.name in allowed:
            continue
        names = {dotted(c) for c in calls(path)}
        assert not {n for n in names if n.endswith(("Thread", "ThreadPoolExecutor", "Process"))}, path
