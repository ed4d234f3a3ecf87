"""Your own image: File > Open image… or drop an image file on the window.

The file is fitted to the model (centre crop, LANCZOS, channels), then encoded to its posterior mean
(VAE/CVAE, on the decode worker) or, for a GAN, inverted by optimisation in a job with progress and Cancel.
The inversion runs on a private copy of the model made on the decode worker, so no module is shared
between threads. The result becomes the current image and is marked on the map with an orange star.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QProgressDialog

from latent_atlas.editor.core.image_convert import chw_to_hwc
from latent_atlas.editor.core.messages import EncodeRequest, ModelCopyRequest
from latent_atlas.editor.files.window_feedback import WindowFeedback

if TYPE_CHECKING:            # editor.core.inversion needs torch: imported when an image is opened
    from latent_atlas.editor.core.inversion import InversionResult

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)"
MARKER_COLOUR = "#ff9900"


class OwnImage(QObject):
    def __init__(self, state, controller, original_view, feedback: WindowFeedback):
        """`original_view` shows your image; `feedback` parents the dialogs and shows errors and status."""
        super().__init__(feedback.parent)
        self._feedback, self._original_view = feedback, original_view
        self._state, self._controller = state, controller
        self._channel = self._controller.channel("own image")     # answers carry (loaded, path, image)
        self._inversions = self._controller.job_channel("inverting")   # a GAN's; answers carry (loaded, path, image)
        self._inversions.progressed.connect(lambda f, text: self._on_job_progress(f, f"{self._inverting}: {text}"))
        self._inversions.result.connect(lambda result, asked: self._on_inverted(*asked, result))
        self._inversions.failed.connect(
            lambda message, asked: self._on_job_ended(f"Inverting {asked[1].name} failed", message))
        self._inversions.cancelled.connect(lambda asked: self._on_job_ended(None, f"Inverting {asked[1].name} cancelled"))
        self._inverting = ""                     # the name of the file being inverted, for the progress text
        self.progress: QProgressDialog | None = None
        self.latent: np.ndarray | None = None    # the latent of the last image opened, (D,)
        self.result: InversionResult | None = None
        self._fit_note = ""                      # how the last image was fitted to the model, for the status
        self.action = QAction("Open &image…", feedback.parent, triggered=self.open_dialog)
        self.action.setStatusTip("Encode (VAE) or invert (GAN) an image file of your own")
        self.marker = pg.ScatterPlotItem(size=20, symbol="star", pen=pg.mkPen("#202020", width=1),
                                         brush=pg.mkBrush(MARKER_COLOUR))
        self.marker.setZValue(25)
        self.marker.setEnabled(False)     # clicks go through to the map's view box (the window puts it there)
        self._state.events.model_changed.connect(self._on_state_model_changed)
        self._state.events.projection_changed.connect(lambda _emb: self._place_marker())
        self._channel.result.connect(self._on_encoded_or_copied)

    @property
    def job(self):
        """The running inversion's JobWorker, None once it has ended."""
        return self._inversions.job

    # -- opening ----------------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._feedback.parent, "Open image", "", IMAGE_FILTER)
        if path:
            self.open(path)

    def open_if_image(self, path: str) -> bool:
        """For drops: opens the file as your image when PIL reads it as one (by its bytes)."""
        from latent_atlas.editor.core.inversion import is_image_file

        if not is_image_file(path):
            return False
        self.open(path)
        return True

    def open(self, path: str) -> None:
        from latent_atlas.editor.core.inversion import ImageFileError, read_image_noted

        loaded = self._state.loaded
        if loaded is None:
            self._feedback.show_error("No model", f"Open a checkpoint before the image {Path(path).name}.")
            return
        try:
            image, self._fit_note = read_image_noted(path, loaded.info.image_shape)   # (C, H, W) uint8
        except ImageFileError as e:
            self._feedback.show_error("Could not open the image", str(e))
            return
        self._inversions.cancel()            # an inversion still running says it was cancelled
        if loaded.info.can_encode:
            condition = None if self._state.condition is None else self._state.condition.copy()
            request = EncodeRequest(image, condition)
        else:
            request = ModelCopyRequest()
        self._channel.forget()               # a newer image replaces one the worker may still have
        self._channel.submit(request, (loaded, Path(path), image))
        self._feedback.status.showMessage(f"Encoding {Path(path).name}…" if loaded.info.can_encode
                                          else f"Preparing to invert {Path(path).name}…", 5000)

    def _on_encoded_or_copied(self, result, asked: tuple) -> None:
        loaded, path, image = asked         # the channel was forgotten if another model opened meanwhile
        if loaded.info.can_encode:
            self._show(loaded, path, image, np.asarray(result, np.float32), "encoded: posterior mean")
        else:
            self._start_inversion(loaded, path, image, result)

    # -- GAN inversion ----------------------------------------------------------------------------------
    def _start_inversion(self, loaded, path: Path, image: np.ndarray, model_copy) -> None:
        from latent_atlas.editor.core.inversion import InvertJob

        self._close_progress()               # the dialog of an inversion this one replaces
        self._inverting = path.name
        self._inversions.submit(InvertJob(model_copy, image), (loaded, path, image), name=f"inverting {path.name}")
        dialog = QProgressDialog(f"Inverting {path.name}: searching for z whose image matches it…", "Cancel",
                                 0, 1000, self._feedback.parent)
        dialog.setWindowTitle("Open image")
        dialog.setWindowModality(Qt.WindowModality.NonModal)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setMinimumDuration(0)
        dialog.canceled.connect(self._inversions.cancel)
        dialog.show()
        self.progress = dialog

    def cancel(self) -> None:
        self._inversions.cancel()

    def _on_job_progress(self, fraction: float, text: str) -> None:
        if self.progress is not None:
            self.progress.setValue(int(fraction * 1000))
            self.progress.setLabelText(text)

    def _close_progress(self) -> None:
        if self.progress is not None:
            self.progress.canceled.disconnect()
            self.progress.close()
            self.progress.deleteLater()
            self.progress = None

    def _on_job_ended(self, title: str | None, message: str) -> None:
        self._close_progress()
        if title:
            self._feedback.show_error(title, message)
        else:
            self._feedback.status.showMessage(message, 5000)

    def _on_inverted(self, loaded, path: Path, image: np.ndarray, result: InversionResult) -> None:
        self._close_progress()
        self.result = result
        self._show(loaded, path, image, result.z,
                   f"inverted: error {result.error:.4f} (MSE), from {result.initial_error:.4f} at the best random start")

    # -- showing ----------------------------------------------------------------------------------------
    def _show(self, loaded, path: Path, image: np.ndarray, z: np.ndarray, how: str) -> None:
        self.latent = z
        self._controller.set_latent(z, "image")
        self._original_view.setVisible(True)
        self._original_view.set_image(chw_to_hwc(image[None])[0], f"your image: {path.name}")
        self._place_marker()
        fitted = f" ({self._fit_note})" if self._fit_note else ""      # e.g. 8x8 enlarged 3.5x to 28x28
        self._feedback.status.showMessage(f"{path.name}{fitted} {how}", 10_000)

    def _place_marker(self) -> None:
        loaded = self._state.loaded
        if self.latent is None or loaded is None or loaded.projection is None:
            self.marker.setData([], [])
            return
        x, y = loaded.projection.transform(self.latent[None])[0]
        self.marker.setData([float(x)], [float(y)])

    def _on_state_model_changed(self, loaded) -> None:
        self._inversions.forget()            # the controller has forgotten it already; a state alone may not
        self._close_progress()
        self.latent = None
        self.marker.setData([], [])

