"""The main window builds every part and hands each what it needs (issue 15): nothing patches the window
from outside (`window.close_hooks = ...`, `window.session = ...`), probes it (`hasattr(window, ...)`) or
puts itself into the window's layout; the window owns its close guards and its menus."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

EDITOR = Path(__file__).resolve().parents[1] / "editor"
PATCHING = re.compile(r"\b(?:has|get|set)attr\(\s*window\b"          # probing or patching by name
                      r"|\bwindow\.\w+\s*(?:,\s*window\.\w+\s*)*[+-]?=(?!=)"   # window.x = / window.x, window.y =
                      r"|\bdef for_window\b"                          # a panel that wires itself to a window
                      r"|\bwindow\.\w+\.(?:layout\(\)|parentWidget\(\))")   # reaching into its layout


def patching_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if PATCHING.search(line)]


def test_nothing_outside_the_main_window_patches_or_probes_it():
    files = [p for p in EDITOR.rglob("*.py") if p.name != "main_window.py"]
    assert len(files) > 50                                             # the scan sees the editor
    found = {str(p.relative_to(EDITOR)): patching_lines(p.read_text()) for p in files}
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize("line", [
    'window.close_hooks = getattr(window, "close_hooks", []) + [panel.confirm_close]',
    "    window.history, window.session = actions.history, actions",
    'if hasattr(window, "session"):',
    "    window.density_label = label",
    "layout = window.info.parentWidget().layout()",
    "    def for_window(cls, window) -> AttributePanel:",
])
def test_negative_control_what_the_old_code_did_is_flagged(line):
    assert patching_lines(line) == [line.strip()]


@pytest.mark.parametrize("line", ["window.show_error(title, message)", "if window.state.loaded is None:",
                                  "self._window == window", "x = window.map",
                                  "window.controller.use_map_cache = True"])     # an option of the controller
def test_reading_the_window_is_not_flagged(line):
    assert patching_lines(line) == []


# a part that keeps or takes the whole window, or reaches it through Qt's window(), instead of being handed
# what it needs (the state, the controller, a few callables, editor/files/window_feedback.py)
HOLDING = re.compile(r"\bself\._?window\b(?!\()"                      # keeping it: self.window = window
                     r"|\bdef __init__\(self\b[^)]*\bwindow\b"          # taking it
                     r"|\.window\(\)\.(?:\w*_\w*|statusBar|menuBar)\b")   # the project's own names on window()
WINDOW_FILES = {"main_window.py", "window_feedback.py"}   # the window, and what it hands out


def holding_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if HOLDING.search(line)]


def test_no_part_holds_the_whole_window():
    files = [p for p in EDITOR.rglob("*.py") if p.name not in WINDOW_FILES]
    found = {str(p.relative_to(EDITOR)): holding_lines(p.read_text()) for p in files}
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize("line", [                      # what editor/files and the strip's export did before
    "    def __init__(self, window):",
    "    def __init__(self, state, controller, original_view, window):",
    "        self.window = window",
    "        loaded = self.window.state.loaded",
    "        self._window.statusBar().showMessage(message, 5000)",
    'self.window().show_error("Export failed", str(e))',
    "self.window().statusBar().showMessage(text)",
])
def test_negative_control_holding_the_window_is_flagged(line):
    assert holding_lines(line) == [line.strip()]


@pytest.mark.parametrize("line", ["and box.window() is self._top_level:", "self._feedback.show_error(title, msg)",
                                  "self.window().activateWindow()", "def window_title(self) -> str:"])
def test_qt_own_window_calls_are_not_flagged(line):
    assert holding_lines(line) == []


def test_the_window_owns_its_close_guards_and_menus(qtbot, window):
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles[:3] == ["File", "Edit", "View"]
    file_menu = window.menuBar().actions()[0].menu()
    texts = [a.text().replace("&", "") for a in file_menu.actions()]
    opened = texts.index("Open Session…")
    assert texts[opened - 1] == "" and texts[opened + 1] == "Save Session…" and texts[opened + 2] == ""
    assert texts.index("Open image…") < opened < texts.index("Export image…")
    asked = []
    window.close_guards.append(lambda: asked.append(1) or False)       # e.g. a training run that must stop
    window.close()
    assert asked == [1] and window.isVisible() and window.controller.decoder.isRunning()
    window.close_guards.pop()
