"""The training panel: pairs from the canvas or a folder, a base model, few settings, Train — and, while
it trains, the step, the loss and its curve, s/step, the time left and samples of the held-out pair.

Training runs on a job runner of its own (its own worker thread), so the window stays responsive
and edits with the classical backend or a ComfyUI server go on beside it; an edit with an
in-process model is refused while a LoRA trains (the model work is one at a time). The LoRA is
written into the LoRA folder; when it is done it goes into the edit panel's LoRA list, and
"Try it on the canvas" runs the edit with it.

The pairs belong to the document (``Document.training_pairs``): every change to them here is one undo step
of the document, so it is saved in its ``.ora``, kept by the recovery snapshot and asked about on closing,
and opening a document (or undoing) shows its pairs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from canvas.errors import CanvasError
from desktop.bridge import rewire
from desktop.jobs import JobRunner
from desktop.panels.training.pair_list import strip_pixmap
from inference.errors import InferenceError
from training.dataset import Dataset
from training.trainer import Settings

RESOLUTIONS = (512, 768, 1024)


@dataclass(frozen=True)
class RemoteBase:
    """A base model that is not on this machine (from the catalogue): a job can name it for a bigger machine,
    which downloads it (``akapen models download``) before training; it cannot train here."""

    repo_id: str
    family: str
    label: str
    catalogue_id: str
    path: None = None


def lora_name(text: str) -> str:
    """A file name from an instruction: "Turn it into a pencil sketch" → turn-it-into-a-pencil-sketch.safetensors."""
    words = re.findall(r"[A-Za-z0-9]+", text.lower())[:6]
    return ("-".join(words) or "my-edit") + ".safetensors"


class TrainingPanel(QWidget):
    errorRaised = Signal(str)
    statusMessage = Signal(str)
    loraReady = Signal(str, str, str)  # LoRA path, family, instruction
    tryRequested = Signal(str, str, str)  # LoRA path, family, instruction
    modelsRequested = Signal(str)  # Get model…: open the Models window on this family

    def __init__(self, bridge, parent: QWidget | None = None, *, lora_folder: str | Path | None = None,
                 runner: JobRunner | None = None) -> None:
        super().__init__(parent)
        from training.lora import lora_folder as default_folder

        self.bridge = bridge
        self.dataset = Dataset()
        self.lora_folder = Path(lora_folder) if lora_folder is not None else default_folder()
        self.runner = runner or JobRunner(self)
        self.job_id: str | None = None
        self.last_result = None
        self._job_output: Path | None = None
        self._job_family = ""
        self.runner.jobProgress.connect(self._on_progress)
        self.runner.jobFinished.connect(self._on_finished)
        self.runner.jobFailed.connect(self._on_failed)
        self.runner.jobCancelled.connect(self._on_cancelled)
        self._stored = None  # the document's pairs as this panel last wrote or read them
        self._build()
        self.refresh_models()
        rewire(None, bridge, self._bridge_slots())
        self._load_pairs()

    # --- widgets ------------------------------------------------------------------------------------
    def _build(self) -> None:
        from desktop.panels.training.parts import build_widgets

        build_widgets(self)

    @property
    def document(self):
        return self.bridge.document

    def set_bridge(self, bridge) -> None:
        rewire(self.bridge, bridge, self._bridge_slots())
        self.bridge = bridge
        self._load_pairs()

    def _bridge_slots(self):
        return (("trainingPairsChanged", self._pairs_changed),)

    # --- the pairs kept with the document -------------------------------------------------------------
    def _load_pairs(self) -> None:
        """Show the pairs the document keeps (a document opened, an undo or a redo)."""
        from desktop.headless.training_pairs import from_document

        self._stored = self.document.training_pairs
        self.dataset = from_document(self._stored)
        self.shared_instruction.setText(self.dataset.instruction)
        self._refresh()

    def _pairs_changed(self) -> None:
        if self.document.training_pairs is not self._stored:  # not the change this panel just made
            self._load_pairs()

    def _store(self, label: str, gesture: object | None = None) -> bool:
        """The pairs as the panel now has them into the document: one undo step (steps of one ``gesture``
        merge), and the document has unsaved changes. On failure the document's pairs are shown again."""
        from desktop.headless.training_pairs import to_document

        try:
            stored = to_document(self.dataset, self.document.training_pairs)
        except CanvasError as exc:
            self.errorRaised.emit(str(exc))
            self._load_pairs()
            return False
        self._stored = stored  # (first: the document's event is this panel's own change)
        self.document.set_training_pairs(stored, label, gesture)
        return True

    # --- pairs ----------------------------------------------------------------------------------------
    def _run(self, fn, *args):
        try:
            return fn(*args)
        except (CanvasError, InferenceError, OSError) as exc:
            self.errorRaised.emit(str(exc))
            return None

    def add_pair(self, before, after, instruction: str = "", name: str | None = None):
        if not self.dataset.instruction.strip() and instruction.strip():
            self.dataset.instruction = instruction.strip()  # the first pair's instruction is the shared one
            self.shared_instruction.setText(self.dataset.instruction)
        own = "" if instruction.strip() == self.dataset.instruction.strip() else instruction.strip()
        pair = self.dataset.add(before, after, own, name)
        if not self._store(f"Add training pair {pair.name}"):
            return None
        self._refresh(keep=pair.name)
        self.statusMessage.emit(f"added the pair “{pair.name}” ({len(self.dataset.pairs)} in the dataset)")
        return pair

    def add_result_pair(self, layer_id: str | None = None):
        """The active (or given) edit result and the picture it was made from."""
        from desktop.headless.training_pairs import pair_from_result

        layer = self.bridge.active_layer() if layer_id is None else self.document.layer(layer_id)
        if layer is None:
            self.errorRaised.emit("select an edit result in the Layers panel first")
            return None
        got = self._run(pair_from_result, self.document, layer.id)
        return None if got is None else self.add_pair(got[0], got[1], got[2], layer.name)

    def add_layers_pair(self, before_id: str | None = None, after_id: str | None = None):
        """The picture with the first layer, and with the second instead (asks which when not given)."""
        from desktop.headless.training_pairs import pair_from_layers

        if before_id is None or after_id is None:
            from desktop.panels.training.parts import ask_two_layers

            chosen = self._run(ask_two_layers, self, self.document, self.bridge.active_id)
            if chosen is None:
                return None
            before_id, after_id = chosen
        got = self._run(pair_from_layers, self.document, before_id, after_id)
        return None if got is None else self.add_pair(got[0], got[1], "", self.document.layer(after_id).name)

    def add_picture_and_file(self, path: str | None = None, picture_is_before: bool = True):
        """The picture as before and an image file as after (or the other way round)."""
        from canvas.imageio import IMAGE_SUFFIXES, load_image

        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "The other picture of the pair", "",
                                                  "Images (" + " ".join("*" + s for s in IMAGE_SUFFIXES) + ")")
            if not path:
                return None
        other = self._run(load_image, path)
        if other is None:
            return None
        pic = self.document.render()
        before, after = (pic, other) if picture_is_before else (other, pic)
        return self.add_pair(before, after, "", Path(path).stem)

    def open_folder(self, folder: str | None = None) -> bool:
        from canvas.imageio import load_image
        from training.dataset import read_folder

        folder = folder or QFileDialog.getExistingDirectory(self, "A dataset folder (before/ and after/)")
        if not folder:
            return False
        ds = self._run(read_folder, folder, load_image)
        if ds is None:
            return False
        self.dataset = ds
        if not self._store(f"Open training pairs from {Path(folder).name}"):
            return False
        self.shared_instruction.setText(ds.instruction)
        self._refresh()
        self.statusMessage.emit(f"opened {len(ds.pairs)} pairs from {folder}")
        return True

    def save_folder(self, folder: str | None = None) -> bool:
        from canvas.imageio import export_image
        from training.dataset import write_folder

        folder = folder or QFileDialog.getExistingDirectory(self, "Save the pairs into a folder")
        if not folder:
            return False
        done = self._run(write_folder, self.dataset, folder, export_image)
        if done is not None:
            self.statusMessage.emit(f"saved {len(self.dataset.pairs)} pairs in {folder} (before/, after/, .txt)")
        return done is not None

    def remove_pair(self) -> None:
        name = self.pair_list.current_name()
        if name is not None:
            self.dataset.remove(name)
            if self._store(f"Remove training pair {name}"):
                self._refresh()

    def toggle_held_out(self) -> None:
        name = self.pair_list.current_name()
        if name is not None:
            self.dataset.held_out = None if self.dataset.held_out == name else name
            if self._store(f"Hold out {name}" if self.dataset.held_out else f"Train on {name}"):
                self._refresh(keep=name)

    def _shared_edited(self, text: str) -> None:
        self.dataset.instruction = text
        self._store("Training instruction", gesture="training-instruction")  # typing it is one undo step
        if not self.output_name.isModified():
            self.output_name.setText(lora_name(text))
        self._refresh(keep=self.pair_list.current_name(), list_too=False)

    def _pair_instruction_edited(self) -> None:
        name = self.pair_list.current_name()
        if name is not None:
            self.dataset.set_instruction(name, self.pair_instruction.text())
            if self._store(f"Instruction of {name}"):
                self._refresh(keep=name)

    def _pair_selected(self, _row: int) -> None:
        name = self.pair_list.current_name()
        pair = next((p for p in self.dataset.pairs if p.name == name), None)
        self.pair_instruction.setEnabled(pair is not None)
        self.pair_instruction.setText(pair.instruction if pair is not None else "")
        self.held_button.setChecked(pair is not None and pair.name == self.dataset.held_out)
        self.remove_button.setEnabled(pair is not None)
        self.held_button.setEnabled(pair is not None)

    def _refresh(self, keep: str | None = None, list_too: bool = True) -> None:
        if list_too:
            self.pair_list.show_dataset(self.dataset, keep)
        n = len(self.dataset.pairs)
        held = ", 1 held out" if self.dataset.held_out else ""
        self.pairs_label.setText(f"Pairs ({n}{held})")
        self._update_state()

    # --- model and settings ------------------------------------------------------------------------
    def refresh_models(self) -> None:
        from inference.diffusion import models
        from training.recipes import can_train

        current = self.model_combo.currentData()
        self.model_combo.clear()
        found, _ = models.scan()
        for info in found:
            ok, why = can_train(info.family)
            self.model_combo.addItem(f"{info.name} — {info.label}" + ("" if ok else " (cannot train)"), info)
            row = self.model_combo.count() - 1
            self.model_combo.setItemData(row, why or str(info.path), Qt.ItemDataRole.ToolTipRole)
            if not ok:
                self.model_combo.model().item(row).setEnabled(False)
        trainable_here = any(can_train(i.family)[0] for i in found)
        have = {i.repo_id for i in found}
        for remote in self._remote_bases():
            if remote.repo_id in have:
                continue
            self.model_combo.addItem(f"{remote.label} — not on this machine (Export job only)", remote)
            self.model_combo.setItemData(self.model_combo.count() - 1,
                                         f"{remote.repo_id}: Get model… downloads it; Export job… names it for a "
                                         "bigger machine, which downloads it there", Qt.ItemDataRole.ToolTipRole)
        if self.model_combo.count() == 0:
            self.model_combo.addItem("no editing model found (Get model… downloads one)", None)
            self.model_combo.model().item(0).setEnabled(False)
        self.get_model_button.setVisible(not trainable_here)
        usable = [i for i in range(self.model_combo.count()) if self.model_combo.model().item(i).isEnabled()]
        keep = next((i for i in usable if self.model_combo.itemData(i) == current), usable[0] if usable else 0)
        self.model_combo.setCurrentIndex(keep)
        self._update_state()

    def model(self):
        return self.model_combo.currentData()

    @staticmethod
    def _remote_bases() -> list[RemoteBase]:
        """The catalogue's full (diffusers) models of the families that train, as job bases."""
        from inference.hub import catalogue
        from training.recipes import can_train

        try:
            cat = catalogue.load()
        except InferenceError:
            return []
        return [RemoteBase(v.repo, v.family, v.model, v.id) for v in cat.variants
                if v.kind == "diffusers" and can_train(v.family)[0]]

    def get_model_family(self) -> str:
        """The family Get model… opens on: the chosen base's, else the first that trains."""
        info = self.model()
        if info is not None:
            return info.family
        remote = self._remote_bases()
        return remote[0].family if remote else ""

    def settings(self) -> Settings:
        return Settings(steps=self.steps.value(), rank=self.rank.value(), learning_rate=self.lr.value(),
                        resolution=int(self.resolution.currentData()), memory=str(self.memory.currentData()),
                        sample_every=self.sample_every.value())

    def output_path(self) -> Path:
        name = self.output_name.text().strip() or lora_name(self.dataset.instruction)
        return self.lora_folder / (name if name.endswith(".safetensors") else name + ".safetensors")

    def why_not_trainable(self) -> str | None:
        from training.errors import TrainingError

        if self.running:
            return "training…"
        if self.model() is None:
            return "choose a base model of a family that trains"
        if isinstance(self.model(), RemoteBase):
            return (f"{self.model().label} is not on this machine: Get model… downloads it, or Export job… "
                    "trains it on a bigger machine")
        try:
            self.dataset.check()
        except TrainingError as exc:
            return str(exc)
        return None

    @property
    def running(self) -> bool:
        return self.job_id is not None

    def _update_state(self) -> None:
        from training import checkpoint

        why = self.why_not_trainable()
        self.train_button.setEnabled(why is None)
        self.train_button.setToolTip(why or "Train the LoRA (it goes into the LoRA folder)")
        self.reason.setText("" if why is None or self.running else why)
        self.reason.setVisible(bool(self.reason.text()))
        at = checkpoint.saved_step(checkpoint.folder_for(self.output_path()))
        self.resume_button.setEnabled(why is None and at is not None and at < self.steps.value())
        self.resume_button.setToolTip(f"Go on from the checkpoint at step {at}" if at is not None else
                                      "There is no checkpoint of this LoRA yet")
        self.cancel_button.setEnabled(self.running)
        self.export_button.setEnabled(bool(self.dataset.pairs) and self.model() is not None and not self.running)
        self.try_button.setEnabled(self.last_result is not None and not self.running)

    # --- running -------------------------------------------------------------------------------------
    def train(self, resume: bool = False) -> str | None:
        from training.trainer import train

        why = self.why_not_trainable()
        if why is not None:
            self.errorRaised.emit(why)
            return None
        out, info, settings = self.output_path(), self.model(), self.settings()
        if out.exists() and not resume and not self.confirm_overwrite(out):
            return None
        ds = Dataset(list(self.dataset.pairs), self.dataset.instruction, self.dataset.held_out)  # the job's own
        self.plot.reset(settings.steps)
        self.sample_view.clear()
        self.last_result = None
        self._job_output, self._job_family = out, info.family
        self.job_id = self.runner.submit(
            f"train {out.name}", lambda progress, cancel: train(ds, info, out, settings, progress=progress,
                                                                cancel=cancel, resume=resume))
        self.progress.setFormat("starting…")
        self.run_info.setText(f"training {out.name} on {len(ds.training_pairs())} pairs")
        self._update_state()
        return self.job_id

    def confirm_overwrite(self, path: Path) -> bool:
        return QMessageBox.question(self, "Replace the LoRA?", f"{path.name} exists in the LoRA folder. Replace it?"
                                    ) == QMessageBox.StandardButton.Yes

    def cancel(self) -> None:
        if self.job_id is not None:
            self.runner.cancel(self.job_id)
            self.progress.setFormat("stopping…")
            self.run_info.setText("stopping at the next step; a checkpoint is kept")

    def _on_progress(self, job_id: str, u) -> None:
        if job_id != self.job_id:
            return
        self.progress.setRange(0, max(1, u.total))
        self.progress.setValue(u.step)
        if u.phase == "train" and u.loss is not None:
            self.plot.add(u.loss, u.step)
            self.progress.setFormat(f"step {u.step} of {u.total}")
            left = f" · {_duration(u.eta)} left" if u.eta is not None else ""
            self.run_info.setText(f"loss {u.loss:.4f} · {u.seconds_per_step:.2f} s/step{left}")
        elif u.phase != "done":
            self.progress.setFormat({"load": "loading the model…", "cache": "encoding the pairs…",
                                     "sample": "sampling…", "save": "saving…"}.get(u.phase, u.phase))
            if u.message:
                self.run_info.setText(u.message)
        if u.sample is not None:
            when = u.message if u.phase == "sample" else f"after {u.step} steps"
            self.sample_view.setPixmap(strip_pixmap(u.sample, max(120, self.sample_view.width() - 4)))
            self.sample_caption.setText(f"held-out pair: before │ {when} │ after")

    def _on_finished(self, job_id: str, result) -> None:
        if job_id != self.job_id:
            return
        self.job_id = None
        self.last_result = result
        self.progress.setFormat(f"done: {result.steps} steps")
        self.run_info.setText(f"wrote {result.path.name} into the LoRA folder; it is in the edit panel's LoRA list")
        instruction = self.dataset.instruction
        self.loraReady.emit(str(result.path), result.family, instruction)
        self.statusMessage.emit(f"trained {result.path.name}: it is in the edit panel's LoRA list; "
                                "“Try it on the canvas” runs it")
        self._update_state()

    def _on_failed(self, job_id: str, message: str, _expected: bool) -> None:
        if job_id != self.job_id:
            return
        self.job_id = None
        self.progress.setFormat("failed")
        self.run_info.setText(message)
        self.errorRaised.emit(message)
        self._update_state()

    def _on_cancelled(self, job_id: str) -> None:
        if job_id != self.job_id:
            return
        from training import checkpoint

        self.job_id = None
        step = checkpoint.saved_step(checkpoint.folder_for(self._job_output)) if self._job_output else None
        self.progress.setFormat("stopped")
        self.run_info.setText(f"stopped after step {step}: its checkpoint is kept — Resume goes on from there"
                              if step is not None else "stopped before the first step")
        self._update_state()

    def try_on_canvas(self) -> None:
        if self.last_result is not None:
            self.tryRequested.emit(str(self.last_result.path), self.last_result.family, self.dataset.instruction)

    def export_job(self, folder: str | None = None) -> bool:
        from canvas.imageio import export_image
        from training.job import export_job

        info = self.model()
        folder = folder or QFileDialog.getExistingDirectory(self, "An empty folder for the training job")
        if not folder or info is None:
            return False
        done = self._run(export_job, self.dataset, replace(self.settings()), info.repo_id or str(info.path),
                         info.family, folder, export_image, self.output_path().name)
        if done is not None:
            self.statusMessage.emit(f"exported the job to {folder}: its README.txt says how to run it elsewhere")
        return done is not None


def _duration(seconds: float) -> str:
    s = int(max(0, seconds))
    if s < 60:
        return f"{s} s"
    return f"{s // 3600} h {s // 60 % 60:02d} min" if s >= 3600 else f"{s // 60} min {s % 60:02d} s"

