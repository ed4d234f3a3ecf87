"""Opening a PyTorch file (.pt, .pth, .ckpt): the editor never unpickles it, but offers the convert step.

The question, then a save dialog for the .safetensors file, then `convert_checkpoint` on a job thread
(the same step as `latent-atlas convert`: torch.load(weights_only=True), the layout recognised from the
tensor names and shapes), then the converted file opens like any other checkpoint. A file that does not
convert is one error dialog; the model already open stays open.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from latent_atlas.editor.files.window_feedback import WindowFeedback
from latent_atlas.models.checkpoints.header import sniff_format
from latent_atlas.models.errors import LatentAtlasError

SAVE_FILTER = "Latent Atlas checkpoints (*.safetensors)"
PYTORCH_FORMATS = ("pytorch-zip", "pickle")     # what sniff_format calls torch.save's two formats


def _convert(src: str, out: str, progress, should_stop) -> str:
    """On the job thread; importing torch and the converter happens here, not on the GUI thread."""
    from latent_atlas.models.checkpoints.convert import convert_checkpoint

    progress(0.0, f"converting {Path(src).name}")
    return str(convert_checkpoint(src, None, out))


class ConvertOffer(QObject):
    def __init__(self, controller, open_path: Callable[[str], None], feedback: WindowFeedback):
        """`open_path` opens the converted file as the window opens any file."""
        super().__init__(feedback.parent)
        self._open_path, self._feedback = open_path, feedback
        # a conversion outlives a model opened meanwhile: the file it writes is what the user asked for
        self._conversions = controller.job_channel("converting", follows_model=False)
        self._conversions.result.connect(lambda out, _context: self._on_converted(out))
        self._conversions.failed.connect(lambda message, _context: self._on_failed(message))

    @property
    def job(self):
        """The running conversion's JobWorker, if any (tests wait on it)."""
        return self._conversions.job

    def offer(self, path: str) -> bool:
        """True when `path` is a PyTorch file, handled here (converting, or the user said no); False for
        anything else, which opens (or is refused) as before."""
        try:
            if sniff_format(path) not in PYTORCH_FORMATS:
                return False
        except LatentAtlasError:
            return False                    # missing, empty, a folder: opening it says so
        name = Path(path).name
        if not self._ask(name):
            return True
        out, _ = QFileDialog.getSaveFileName(self._feedback.parent, "Save the converted checkpoint",
                                             str(Path(path).with_suffix(".safetensors")), SAVE_FILTER)
        if not out:
            return True
        if not Path(out).suffix:
            out += ".safetensors"
        self._feedback.status.showMessage(f"Converting {name}…")
        self._conversions.submit(partial(_convert, path, out), name=f"converting {name}")
        return True

    def _ask(self, name: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Convert a PyTorch file?",
                          f"{name} is a PyTorch file; convert it to a Latent Atlas checkpoint?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self._feedback.parent)
        box.setTextFormat(Qt.TextFormat.PlainText)      # a file name is never markup
        box.setInformativeText("It is read as tensors only (torch.load with weights_only=True), so no code in "
                               "it runs. Recognised: the PyTorch-VAE zoo's VanillaVAE, BetaVAE and "
                               "ConditionalVAE, the PyTorch examples' VAE and DCGAN generator.")
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        box.exec()
        return box.clickedButton() is box.button(QMessageBox.StandardButton.Yes)

    def _on_converted(self, out: str) -> None:
        self._feedback.status.showMessage(f"Converted to {Path(out).name}", 5000)
        self._open_path(out)

    def _on_failed(self, message: str) -> None:
        self._feedback.status.clearMessage()
        self._feedback.show_error("Could not convert the file", message)
