"""The Attributes tab's box for the picked vector: "keep these attributes" (InterFaceGAN's conditional
edit: the checked vectors' directions are projected out of it, and the cosine removed is shown) and "Score"
(hit rate of a target, how much the other attributes changed, the off-data share), scored on a worker;
only the newest request's answer is shown."""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
)

from latent_atlas.editor.core import conditional_edit as cond
from latent_atlas.editor.core import vector_score as vs
from latent_atlas.editor.core.messages import ModelCopyRequest
from latent_atlas.editor.widgets.plain_text import PlainLabel, capped, tooltip


class NoteLabel(PlainLabel):
    """A grey note that takes no room while it has nothing to say."""

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setVisible(bool(text))
        self._fit_height()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def _fit_height(self) -> None:
        # the tab's page lays out by minimum heights (attribute_panel.FixedHeightsLayout), so a wrapped note
        # asks for the height its lines need at its width
        h = self.heightForWidth(max(self.width(), 50))
        if h > 0 and h != self.minimumHeight():
            self.setMinimumHeight(h)


class PickedVectorBox(QGroupBox):
    scored = Signal(object)             # the newest request's VectorScore

    def __init__(self, state, controller, parent=None):
        super().__init__("Picked vector (the one chosen on the left of its row)", parent)
        self._state, self._controller = state, controller
        self._copies = controller.channel("score model copy")   # the score job's own copy of the module
        self._copies.result.connect(lambda model, job: self._jobs.submit(replace(job, model=model)))
        self._jobs = controller.job_channel("score vector")     # only the newest score's answer comes back
        self._jobs.result.connect(lambda result, _context: self._scored(result))
        self._jobs.failed.connect(lambda message, _context: self.score_label.setText(message))
        self._picked: str | None = None
        self.walked = vs.WALKED
        self.last_score: vs.VectorScore | None = None
        self.keep_list = QListWidget()          # one check box per other vector, wrapping left to right
        self.keep_list.setFlow(QListView.Flow.LeftToRight)
        self.keep_list.setWrapping(True)
        self.keep_list.setResizeMode(QListView.ResizeMode.Adjust)
        self.keep_list.setMaximumHeight(46)
        self.keep_button = QPushButton("Keep checked")
        self.keep_button.setToolTip("project the checked vectors' directions out of the picked one, so moving "
                                    "along it leaves them as they are (InterFaceGAN's conditional edit)")
        self.keep_button.clicked.connect(self.keep_checked)
        self.keep_label = self._note()
        self.target = QComboBox()
        self.target.setMinimumWidth(120)
        self.score_button = QPushButton("Score")
        self.score_button.clicked.connect(self.score)
        self.score_label = self._note()
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 2, 4, 2)
        grid.setVerticalSpacing(2)
        grid.addWidget(PlainLabel("Keep"), 0, 0)
        grid.addWidget(self.keep_list, 0, 1, 1, 2)
        grid.addWidget(self.keep_button, 0, 3)
        grid.addWidget(self.keep_label, 1, 1, 1, 3)
        grid.addWidget(PlainLabel("Score for"), 2, 0)
        grid.addWidget(self.target, 2, 1)
        grid.addWidget(self.score_button, 2, 3)
        grid.addWidget(self.score_label, 3, 1, 1, 3)
        grid.setColumnStretch(2, 1)

    @staticmethod
    def _note() -> PlainLabel:
        label = NoteLabel("")
        label.setWordWrap(True)
        label.setStyleSheet("color: #aaaaaa; font-size: 9pt;")
        return label

    # -- following the panel ------------------------------------------------------------------------
    def model_changed(self, loaded) -> None:
        self.last_score = None
        self.target.clear()
        self.target.addItems(vs.targets(loaded))
        reason = vs.reader_reason(loaded)
        self.score_button.setEnabled(not reason)
        self.target.setEnabled(not reason)
        self.score_button.setToolTip(tooltip(reason or "walk map images without the target along the picked "
                                             "vector, decode and read them"))
        self.score_label.setText(f"Score is off: {reason}" if reason else "")
        self.keep_label.setText("")

    def set_picked(self, picked: str | None, edits) -> None:
        """The picked vector and the others it can keep, from the state's edits (called on every sync)."""
        others = [e.name for e in edits if e.name != picked]
        shown = [self.keep_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.keep_list.count())]
        if picked != self._picked:
            self.keep_label.setText("")
            if picked is not None and self.target.count() and not vs.reader_reason(self._state.loaded):
                guess = vs.guess_target(picked, [self.target.itemText(i) for i in range(self.target.count())])
                if guess is not None:
                    self.target.setCurrentText(guess)
        if shown != others or picked != self._picked:
            checked = {n for n in self.checked()} if picked == self._picked else set()
            self.keep_list.clear()
            for name in others:
                item = QListWidgetItem(capped(name, 40))
                item.setData(Qt.ItemDataRole.UserRole, name)
                item.setToolTip(tooltip(name))
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if name in checked else Qt.CheckState.Unchecked)
                self.keep_list.addItem(item)
            self._align_keep_columns()
        self._picked = picked
        self.keep_button.setEnabled(bool(others))
        self.setEnabled(picked is not None)

    def _align_keep_columns(self) -> None:
        """One grid cell per check box, as wide as the widest: wrapped left to right, items of their own
        widths stood in ragged columns ("Coat (mean difference) ☐ Dress (…)" under "Ankle boot (…) ☐ Bag")."""
        items = [self.keep_list.item(i) for i in range(self.keep_list.count())]
        if not items:
            self.keep_list.setGridSize(QSize())
            return
        metrics = self.keep_list.fontMetrics()
        style = self.keep_list.style()
        box = style.pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth) + 2 * style.pixelMetric(
            QStyle.PixelMetric.PM_FocusFrameHMargin) + 8
        widest = max(metrics.horizontalAdvance(it.text()) for it in items) + box
        self.keep_list.setGridSize(QSize(min(widest, 360), metrics.height() + 2))

    def checked(self) -> list[str]:
        items = (self.keep_list.item(i) for i in range(self.keep_list.count()))
        return [it.data(Qt.ItemDataRole.UserRole) for it in items if it.checkState() == Qt.CheckState.Checked]

    def set_checked(self, names) -> None:
        for i in range(self.keep_list.count()):
            item = self.keep_list.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in names
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    # -- keep these attributes --------------------------------------------------------------------------
    def keep_checked(self) -> cond.ConditionalEdit | None:
        edits = {e.name: e for e in self._state.edits}
        kept = [(n, edits[n].vector) for n in self.checked() if n in edits]
        if self._picked not in edits or not kept:
            self.keep_label.setText("check the vectors to keep first")
            return None
        edit = edits[self._picked]
        result = cond.keep_attributes(edit.vector, kept)
        text = result.text(self._picked)
        self._state.replace_edit_vector(self._picked, result.vector,
                                        f"{edit.description} (keeping {', '.join(n for n, _ in kept)}: "
                                        f"removed cos {result.removed:.2f})")
        self.keep_label.setText(text)
        return result

    # -- score --------------------------------------------------------------------------------------------
    def score(self) -> None:
        loaded, target = self._state.loaded, self.target.currentText()
        edit = next((e for e in self._state.edits if e.name == self._picked), None)
        if loaded is None or edit is None or not target or vs.reader_reason(loaded):
            return
        job = vs.ScoreJob(loaded, edit.name, edit.vector.copy(), target, self.walked)
        self.score_label.setText(f"scoring {job.name} for {target} on {job.walked} map images…")
        self._copies.forget()             # a copy or a score still under way was asked before this one
        self._jobs.forget()
        self._copies.submit(ModelCopyRequest(), job)

    def _scored(self, result: vs.VectorScore) -> None:
        self.last_score = result
        self.score_label.setText(result.text())
        self.score_label.setToolTip(tooltip(f"read by {result.reader}; each vector walked as a unit direction by "
                                            f"the distance between the means of {result.target} and the rest"))
        self.scored.emit(result)
