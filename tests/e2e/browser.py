"""Headless Chromium for the end-to-end tests: dump a page's DOM, take a screenshot, read elements by id.

Only loopback URLs are opened; every run has a timeout and a throwaway profile folder.
"""
import html.parser
import os
import shutil
import subprocess
import tempfile
import urllib.parse

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def find_chromium():
    """Path of the Chromium binary, or None when it is not installed (tests then skip)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _check_loopback(url):
    host = urllib.parse.urlsplit(url).hostname
    if host not in _LOOPBACK_HOSTS:
        raise ValueError("browser.py opens loopback URLs only, not %r" % url)


def _tmp_root():
    build = os.environ.get("OB_BUILD_DIR")
    root = os.path.join(build, "e2e-tmp") if build else None
    if root:
        os.makedirs(root, exist_ok=True)
    return root


def _run(args, url, timeout):
    _check_loopback(url)
    chromium = find_chromium()
    if not chromium:
        raise FileNotFoundError("chromium is not installed (scripts/install-deps.sh browser)")
    profile = tempfile.mkdtemp(prefix="chromium-", dir=_tmp_root())
    try:
        cmd = [chromium] + _FLAGS + ["--user-data-dir=" + profile] + args + [url]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, check=False)
        if proc.returncode != 0:
            raise RuntimeError("chromium exited %d: %s" % (proc.returncode, proc.stderr.decode(errors="replace")[-2000:]))
        return proc.stdout.decode("utf-8", errors="replace")
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def dump_dom(url, timeout=90):
    """The DOM of the page at url after it loaded, serialised as HTML."""
    return _run(["--dump-dom"], url, timeout)


def screenshot(url, path, width=1200, height=1600, timeout=90):
    """Saves a PNG of the page at url to path and returns path."""
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.remove(path)
    _run(["--window-size=%d,%d" % (width, height), "--screenshot=" + path], url, timeout)
    if not os.path.exists(path):
        raise RuntimeError("chromium wrote no screenshot to " + path)
    return path


class _ById(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements = {}  # id -> {"tag", "attrs", "text"}
        self._open = []  # stack of (tag, id or None)

    _VOID = {"meta", "link", "br", "img", "input", "hr", "line", "rect", "polyline", "path", "circle"}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        element_id = attrs.get("id")
        if element_id is not None and element_id not in self.elements:
            self.elements[element_id] = {"tag": tag, "attrs": attrs, "text": ""}
        if tag not in self._VOID:
            self._open.append((tag, element_id))

    def handle_startendtag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id") is not None and attrs["id"] not in self.elements:
            self.elements[attrs["id"]] = {"tag": tag, "attrs": attrs, "text": ""}

    def handle_endtag(self, tag):
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                del self._open[i:]
                break

    def handle_data(self, data):
        for _, element_id in self._open:
            if element_id is not None:
                self.elements[element_id]["text"] += data


def elements_by_id(dom):
    """{id: {"tag": ..., "attrs": {...}, "text": "all text inside"}} for every element with an id."""
    parser = _ById()
    parser.feed(dom)
    parser.close()
    return parser.elements


def element_attr(dom, element_id, attr):
    """The attribute of the element with that id, or None."""
    element = elements_by_id(dom).get(element_id)
    return None if element is None else element["attrs"].get(attr)


def element_text(dom, element_id):
    """The text inside the element with that id (whitespace collapsed), or None."""
    element = elements_by_id(dom).get(element_id)
    return None if element is None else " ".join(element["text"].split())
