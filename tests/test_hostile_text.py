"""A static check over editor/: no widget shows text with rich text on. Qt guesses rich text from the
string (a vector name "<img src='/dev/zero'>" in a QLabel made Qt read /dev/zero until the process died),
so labels are PlainLabel, dialogs come from plain_text.message_box, tooltips and pyqtgraph titles built from
data go through tooltip() / html_text(). A negative control shows the check finds each forbidden form."""
from __future__ import annotations

import ast
from pathlib import Path

EDITOR = Path(__file__).resolve().parents[1] / "editor"
ALLOWED_FILE = EDITOR / "widgets" / "plain_text.py"
QMESSAGEBOX_STATICS = {"information", "question", "warning", "critical", "about"}


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        func = node.func
        return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return ""


def _safe_text(node: ast.AST, wrappers: set[str], strict: bool = False) -> bool:
    """A literal, a call of one of the wrappers, or an if/else of such. Unless strict, a bare variable is
    allowed too: no text is built here, and the wrapper is where it is built (checked there)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.IfExp):
        return _safe_text(node.body, wrappers, strict) and _safe_text(node.orelse, wrappers, strict)
    if _call_name(node) in wrappers:
        return True
    return not strict and isinstance(node, (ast.Name, ast.Attribute))


def _sets_plain_text(function: ast.AST) -> bool:
    return any(_call_name(n) == "setTextFormat" and "PlainText" in ast.unparse(n) for n in ast.walk(function))


def problems_in(source: str, name: str) -> list[str]:
    found = []
    tree = ast.parse(source)
    plain = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             and _sets_plain_text(f) for n in ast.walk(f)}       # a box made there and set to plain text
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        call, func, line = _call_name(node), node.func, f"{name}:{node.lineno}"
        if call == "QMessageBox" and id(node) in plain:
            continue
        if call in ("QLabel", "QMessageBox") and isinstance(func, ast.Name):
            found.append(f"{line}: {call}(...) guesses rich text; use PlainLabel / message_box")
        if isinstance(func, ast.Attribute) and getattr(func.value, "id", "") == "QMessageBox" \
                and call in QMESSAGEBOX_STATICS:
            found.append(f"{line}: QMessageBox.{call} shows rich text; use plain_text.ask / inform")
        if call in ("setHtml", "setRichText"):
            found.append(f"{line}: {call}")
        if call == "setTextFormat" and "RichText" in ast.unparse(node):
            found.append(f"{line}: rich text turned on")
        if call == "setToolTip" and node.args and not _safe_text(node.args[0], {"tooltip"}):
            found.append(f"{line}: a tooltip built here must go through tooltip()")
        if call == "setTitle" and node.args and not _safe_text(node.args[0], {"html_text"}):
            found.append(f"{line}: a plot title built here must go through html_text()")
        if call == "addItem" and getattr(func.value, "attr", "") == "legend" and len(node.args) > 1 \
                and not _safe_text(node.args[1], {"html_text"}, strict=True):
            found.append(f"{line}: a legend entry must go through html_text()")
        if call == "TextItem" and any(k.arg == "html" for k in node.keywords):
            found.append(f"{line}: TextItem(html=...)")
    return found


def test_no_widget_in_the_editor_shows_text_as_rich_text():
    found = []
    for path in sorted(EDITOR.rglob("*.py")):
        if path != ALLOWED_FILE:
            found += problems_in(path.read_text(encoding="utf-8"), str(path.relative_to(EDITOR)))
    assert not found, "\n".join(found)


def test_the_check_finds_each_forbidden_form():
    # negative control: each line below is one way rich text got (or could get) into the editor
    bad = '''
label = QLabel(name)
box = QMessageBox(QMessageBox.Icon.Warning, "t", message)
QMessageBox.question(self, "t", f"rewrite {path}?")
row.setToolTip(f"remove {name}")
row.setToolTip(description + name)
plot.setTitle(f"PCA of {note}")
self.legend.addItem(item, names[i])
label.setTextFormat(Qt.TextFormat.RichText)
view.setHtml(text)
'''
    assert len(problems_in(bad, "bad.py")) == 9, problems_in(bad, "bad.py")
    good = '''
def ask():
    box = QMessageBox(QMessageBox.Icon.Question, "t", text)
    box.setTextFormat(Qt.TextFormat.PlainText)
row.setToolTip(tooltip(f"remove {name}"))
row.setToolTip("a literal")
plot.setTitle(html_text(f"PCA of {note}"), size="9pt")
self.legend.addItem(item, html_text(names[i], 60))
label = PlainLabel(name)
'''
    assert problems_in(good, "good.py") == []
