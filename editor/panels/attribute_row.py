"""One attribute vector in the Attributes panel: pick it (for the strip), its weight as a slider and a
number in [-3, 3] (step 0.05), and a remove button. Setting the weight from outside emits nothing."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QRadioButton,
    QSizePolicy,
    QSlider,
    QStyle,
    QToolButton,
    QWidget,
)

from latent_atlas.editor.widgets.plain_text import capped, tooltip

MAX_WEIGHT = 3.0
STEPS_PER_UNIT = 20          # slider ticks per unit of weight: steps of 0.05
SHOWN_ROWS = 100             # rows built at once: 1,000 rows held the GUI thread ~2 s (busy 2-core machine)


def names_to_show(names: list[str], selected: str | None, show_all: bool) -> list[str]:
    """The vectors that get a row: the first SHOWN_ROWS (all when asked), and the picked one wherever it is."""
    if show_all or len(names) <= SHOWN_ROWS:
        return list(names)
    shown = names[:SHOWN_ROWS]
    return shown + [selected] if selected in names[SHOWN_ROWS:] else shown


def more_rows_text(shown: int, total: int) -> str:
    return f"Show all {total:,} vectors… ({shown:,} shown)"


class ElidedRadio(QRadioButton):
    """A radio button whose text is elided to its width ("Ankle boot (mean diff…"), the whole text in
    `full_text` and its size hint: at 1100x700 a vector's name was cut mid-letter at the slider."""

    def __init__(self, text: str, parent=None):
        super().__init__(text, parent)
        self.full_text = text

    def _text_room(self) -> int:
        style = self.style()
        return self.width() - style.pixelMetric(QStyle.PixelMetric.PM_ExclusiveIndicatorWidth) - \
            style.pixelMetric(QStyle.PixelMetric.PM_RadioButtonLabelSpacing) - 4

    def sizeHint(self) -> QSize:        # the whole name's room, whatever is drawn now
        hint = super().sizeHint()
        drawn = self.fontMetrics().horizontalAdvance(self.text())
        return QSize(hint.width() - drawn + self.fontMetrics().horizontalAdvance(self.full_text), hint.height())

    def minimumSizeHint(self) -> QSize:
        return QSize(self.minimumWidth(), super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        shown = self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideRight, max(0, self._text_room()))
        if shown != self.text():
            self.setText(shown)


class AttributeRow(QWidget):
    weight_changed = Signal(str, float)
    remove_requested = Signal(str)
    picked = Signal(str)
    drag_finished = Signal()     # the slider was let go: the next move is a new undo step

    def __init__(self, name: str, description: str = "", weight: float = 0.0, parent=None):
        super().__init__(parent)
        self.name = name
        self.pick = ElidedRadio(capped(name, 60))     # elided to its room; the whole name is in the tooltip
        self.pick.setToolTip(tooltip(description or name))
        self.pick.setMinimumWidth(110)
        self.pick.toggled.connect(lambda on: on and self.picked.emit(self.name))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        ticks = int(MAX_WEIGHT * STEPS_PER_UNIT)
        self.slider.setRange(-ticks, ticks)
        self.slider.setPageStep(STEPS_PER_UNIT // 2)
        self.slider.setMinimumWidth(140)
        self.slider.setToolTip(tooltip(f"weight of {name}: -3 subtracts the vector three times, +3 adds it three "
                                       "times"))
        self.spin = QDoubleSpinBox()
        self.spin.setRange(-MAX_WEIGHT, MAX_WEIGHT)
        self.spin.setSingleStep(1 / STEPS_PER_UNIT)
        self.spin.setDecimals(2)
        self.spin.setFixedWidth(70)
        self.spin.setKeyboardTracking(False)      # a typed weight applies on Enter: one edit, one undo step
        self.spin.setProperty("undo_edits", True)  # Ctrl+Z here undoes the edit (history_actions.NumberBoxUndo)
        self.remove = QToolButton()
        self.remove.setText("✕")
        self.remove.setToolTip(tooltip(f"remove {name}"))
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self.name))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 0, 2, 0)
        # the name and the slider share the row 1:1 whatever the name's length, so every row's slider starts
        # at the same x (each row sized its name to its text: the sliders' left ends zigzagged)
        policy = self.pick.sizePolicy()
        policy.setHorizontalPolicy(QSizePolicy.Policy.Ignored)
        self.pick.setSizePolicy(policy)
        layout.addWidget(self.pick, 1)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        layout.addWidget(self.remove)
        self.set_weight(weight)
        self.slider.valueChanged.connect(self._on_slider_changed)
        self.slider.sliderReleased.connect(self.drag_finished)
        self.spin.valueChanged.connect(self._on_spin_changed)

    def set_weight(self, weight: float) -> None:
        """Shows a weight without emitting weight_changed (the state already has it)."""
        for widget in (self.slider, self.spin):
            widget.blockSignals(True)
        self.slider.setValue(round(weight * STEPS_PER_UNIT))
        self.spin.setValue(weight)
        for widget in (self.slider, self.spin):
            widget.blockSignals(False)

    def set_description(self, description: str) -> None:
        self.pick.setToolTip(tooltip(description or self.name))

    def _on_slider_changed(self, ticks: int) -> None:
        weight = ticks / STEPS_PER_UNIT
        self.spin.blockSignals(True)
        self.spin.setValue(weight)
        self.spin.blockSignals(False)
        self.weight_changed.emit(self.name, weight)

    def _on_spin_changed(self, weight: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(weight * STEPS_PER_UNIT))
        self.slider.blockSignals(False)
        self.weight_changed.emit(self.name, float(weight))
