"""The Models window (Edit › Models…, and every "Get model…"): what can be downloaded and whether it fits
this machine, what is installed, and the download queue — the whole path from nothing to a first AI edit.

- **Get models**: the catalogue by family, each variant with its download size, the GPU memory it needs and
  how it suits this machine ("fits this GPU", "needs offload", "too big", "no GPU"), gated or not; the
  recommended one marked; any Hub repo id typed in. Download asks the Hub for the exact size first.
- **Installed**: every model found (Hugging Face cache, model folders, single files), with its size, family,
  variant and place; Verify, Repair (fetches only what is wrong), Remove (says how much was freed).
- **Downloads**: the queue, with bytes, rate and time left; Pause, Resume, Cancel.

The window is not modal: painting goes on beside it. It works through ``downloads`` (the window's
:class:`desktop.controllers.downloads.DownloadsController`, passed in) and :mod:`inference.hub`.
"""

from __future__ import annotations

import html
import threading

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.dialogs.downloads_tab import DownloadsTab
from desktop.dialogs.hf_token import token_state
from desktop.jobs import Relay
from inference.diffusion import checkpoints, models
from inference.hub import catalogue, errors, machine, manage

FIT_COLOURS = {"fits": "#2a7a2a", "offload": "#a05a00", "cpu": "#a05a00", "too-big": "#b03030",
               "no-gpu": "#b03030", "no-disk": "#b03030"}
ROLE = Qt.ItemDataRole.UserRole
# which family a newcomer should start with, best first: the instruction editors that read the canvas best, then
# the small ones (a UI choice, not catalogue data: the catalogue says what fits, this says what to try first)
START = ("flux-kontext", "qwen-image-edit-plus", "flux2-klein", "qwen-image-edit", "instruct-pix2pix")


def _gb(x: float) -> str:
    return f"{x:.1f} GB"


class ModelsWindow(QDialog):
    tokenRequested = Signal()
    settingsRequested = Signal()
    modelsChanged = Signal()  # something was removed or repaired: the backends are listed again

    def __init__(self, downloads, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.downloads = downloads
        self._relays: set[Relay] = set()
        self._asked: str | None = None  # the download asked for from the Get models tab (its failure is said there)
        self._status_memo: dict = {}  # (repo, revision, files, base) -> installed/partial/absent, per refresh
        self.busy = ""  # "verify …" while a check runs
        self.catalogue = None
        self.catalogue_problem = ""
        try:
            self.catalogue = catalogue.load()
        except catalogue.CatalogueError as exc:
            self.catalogue_problem = str(exc)
        self.machine = machine.detect(models.hf_cache_dir())

        self.machine_label = QLabel()
        self.machine_label.setWordWrap(True)
        self.token_label = QLabel()
        self.token_label.setWordWrap(True)
        token_button = QPushButton("Hugging Face token…")
        token_button.clicked.connect(self.tokenRequested)
        settings_button = QPushButton("Folders and memory…")
        settings_button.setToolTip("Your own model folders, and how models use GPU memory")
        settings_button.clicked.connect(self.settingsRequested)
        head = QHBoxLayout()
        text = QVBoxLayout()
        text.addWidget(self.machine_label)
        text.addWidget(self.token_label)
        head.addLayout(text, 1)
        head.addWidget(token_button)
        head.addWidget(settings_button)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_get(), "Get models")
        self.tabs.addTab(self._build_installed(), "Installed")
        self.queue = DownloadsTab(downloads)
        self.queue.tokenRequested.connect(self.tokenRequested)
        self.queue.countChanged.connect(lambda n: self.tabs.setTabText(2, f"Downloads ({n})" if n else "Downloads"))
        self.tabs.addTab(self.queue, "Downloads")
        lay = QVBoxLayout(self)
        lay.addLayout(head)
        lay.addWidget(self.tabs, 1)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        lay.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)
        self.resize(1180, 700)

        downloads.changed.connect(self._download_changed)
        downloads.installed.connect(lambda _k: (self.refresh_installed(), self.refresh_catalogue()))
        self.refresh_header()
        self.refresh_catalogue()
        self.refresh_installed()

    # --- header ---------------------------------------------------------------------------------
    def refresh_header(self) -> None:
        self.machine_label.setText(f"This machine: {self.machine.describe()}. Models go into the Hugging Face "
                                   f"cache ({models.hf_cache_dir()}), where diffusers and other tools find them too.")
        self.token_label.setText(token_state())

    # --- Get models -------------------------------------------------------------------------------
    def _build_get(self) -> QWidget:
        page = QWidget()
        self.family_combo = QComboBox()
        self.family_combo.addItem("All families", None)
        if self.catalogue is not None:
            for fam in dict.fromkeys(v.family for v in self.catalogue.variants):
                self.family_combo.addItem(models.FAMILIES[fam].label if fam in models.FAMILIES else fam, fam)
        self.family_combo.currentIndexChanged.connect(lambda _i: self.refresh_catalogue())
        self.catalogue_tree = QTreeWidget()
        self.catalogue_tree.setHeaderLabels(["Model / variant", "Download", "GPU memory", "On this machine",
                                             "Licence", "Here"])
        self.catalogue_tree.setRootIsDecorated(True)
        header = self.catalogue_tree.header()
        header.setStretchLastSection(False)
        for col in (0, 1, 2, 3, 5):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)  # the licence: elided, whole in its tip
        self.catalogue_tree.currentItemChanged.connect(lambda *_: self._show_variant())
        self.catalogue_tree.itemDoubleClicked.connect(lambda item, _c: self.download_selected()
                                                      if item.data(0, ROLE) else None)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setOpenExternalLinks(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.details.setMinimumHeight(90)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.download_button = QPushButton("Download")
        self.download_button.clicked.connect(self.download_selected)
        self.page_button = QPushButton("Model page")
        self.page_button.clicked.connect(self._open_page)
        self.repo_field = QLineEdit()
        self.repo_field.setPlaceholderText("or any Hub repo id: org/name")
        self.file_field = QLineEdit()
        self.file_field.setPlaceholderText("file in it (optional): model-Q4_K_M.gguf")
        self.repo_button = QPushButton("Download repo")
        self.repo_button.clicked.connect(self.download_typed)
        self.get_message = QLabel("")
        self.get_message.setWordWrap(True)
        self.start_label = QLabel("")
        self.start_label.setWordWrap(True)
        self.start_label.setStyleSheet("color: #0f2f5c;")
        top = QHBoxLayout()
        top.addWidget(QLabel("Family"))
        top.addWidget(self.family_combo, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.page_button)
        buttons.addStretch(1)
        repo = QHBoxLayout()
        repo.addWidget(self.repo_field, 2)
        repo.addWidget(self.file_field, 2)
        repo.addWidget(self.repo_button)
        lay = QVBoxLayout(page)
        lay.addWidget(self.start_label)
        lay.addLayout(top)
        lay.addWidget(self.catalogue_tree, 1)
        lay.addWidget(self.details)
        lay.addLayout(buttons)
        lay.addLayout(repo)
        lay.addWidget(self.get_message)
        return page

    def refresh_catalogue(self) -> None:
        tree = self.catalogue_tree
        keep = self.selected_variant()
        tree.clear()
        if self.catalogue is None:
            self.details.setText(f"The model catalogue could not be read: {html.escape(self.catalogue_problem)}")
            self.download_button.setEnabled(False)
            return
        want = self.family_combo.currentData()
        self._status_memo = {}  # one disk check per request in this refresh (variants share repos)
        select = None
        start = self.start_with()
        self.start_label.setText(f"To start on this machine: <b>{html.escape(start.label)}</b> — "
                                 f"{html.escape(catalogue.fit(start, self.machine).text)}." if start is not None else
                                 "Nothing in the catalogue runs well on this machine; a ComfyUI server (Edit › "
                                 "Servers…) or nano banana can do the work elsewhere.")
        for fam in dict.fromkeys(v.family for v in self.catalogue.variants):
            if want is not None and fam != want:
                continue
            rec = catalogue.recommend(self.catalogue, fam, self.machine)
            label = models.FAMILIES[fam].label if fam in models.FAMILIES else fam
            top = QTreeWidgetItem([label])
            top.setToolTip(0, rec.why)
            top.setData(0, ROLE + 1, fam)
            f = top.font(0)
            f.setBold(True)
            top.setFont(0, f)
            tree.addTopLevelItem(top)
            for v in self.catalogue.for_family(fam):
                fit = None if v.kind == "lora" else catalogue.fit(v, self.machine)
                star = " ★ recommended" if rec.variant is not None and rec.variant.id == v.id else ""
                name = f"{v.model}: {v.variant}" if v.kind == "lora" else v.variant
                size = _gb(v.download_gb) + (f" + {_gb(v.base_gb)}" if v.base_gb else "")
                mem = "—" if v.kind == "lora" else (f"{v.vram_gb:g} GB" + (f" · {v.offload_gb:g} with offload"
                                                                          if v.offload_gb else ""))
                here = self._here(v)
                licence = v.licence.split(" (")[0]  # the name; the remarks are in the tip and the details
                item = QTreeWidgetItem([f"{name}{star}", size, mem, "LoRA" if fit is None else fit.text,
                                        ("gated · " if v.gated else "") + licence, here])
                item.setToolTip(4, v.licence)
                item.setData(0, ROLE, v.id)
                if fit is not None:
                    item.setForeground(3, Qt.GlobalColor.darkGreen if fit.kind == "fits" else
                                       Qt.GlobalColor.darkYellow if fit.kind in ("offload", "cpu") else Qt.GlobalColor.darkRed)
                item.setToolTip(0, v.notes)
                top.addChild(item)
                if v.id == keep or (keep is None and select is None and (
                        (want is None and start is not None and v.id == start.id) or (want is not None and star))):
                    select = item
            top.setExpanded(True)
        if select is not None:
            tree.setCurrentItem(select)
        self._show_variant()

    def start_with(self):
        """The variant a newcomer should download first here: the recommendation of the first family in
        :data:`START` that has one."""
        if self.catalogue is None:
            return None
        for fam in START:
            rec = catalogue.recommend(self.catalogue, fam, self.machine)
            if rec.variant is not None:
                return rec.variant
        return None

    def _here(self, v) -> str:
        key = next((k for k, i in self.downloads.items.items() if i.request.catalogue_id == v.id), None)
        item = self.downloads.items.get(key) if key else None
        if item is not None and item.state in ("queued", "planning", "running", "paused", "failed"):
            return {"queued": "waiting", "planning": "starting", "running": "downloading"}.get(item.state, item.state)
        try:
            req = manage.request_for(v.id)
            key = (req.repo, req.revision, req.files, req.base)
            if key not in self._status_memo:
                self._status_memo[key] = manage.status(req)
            st = self._status_memo[key]
        except errors.HubError:
            return ""
        return {"installed": "installed", "partial": "partial", "absent": ""}[st]

    def selected_variant(self) -> str | None:
        item = self.catalogue_tree.currentItem()
        return item.data(0, ROLE) if item is not None else None

    def _show_variant(self) -> None:
        vid = self.selected_variant()
        self.download_button.setEnabled(vid is not None)
        self.page_button.setEnabled(vid is not None)
        if vid is None or self.catalogue is None:
            item = self.catalogue_tree.currentItem()
            self.details.setText(html.escape(item.toolTip(0)) if item is not None else
                                 "Choose a model to see what it needs.")
            return
        v = self.catalogue.get(vid)
        loadable = v.kind == "lora" or catalogue.fit(v, self.machine).kind != "no-loader"
        self.download_button.setEnabled(loadable)
        self.download_button.setToolTip("" if loadable else "Akapen's loader cannot read scaled FP8 (diffusers does "
                                        "not apply its scales); a ComfyUI server can run it")
        parts = [f"<b>{html.escape(v.model)}</b> — {html.escape(v.variant)} ({html.escape(v.kind)}, from "
                 f"<a href='{html.escape(v.page)}'>{html.escape(v.repo)}</a>)"]
        if v.notes:
            parts.append(html.escape(v.notes))
        if v.kind in ("single-file", "gguf") and v.base:
            parts.append(f"Runs on the configuration and text encoders of {html.escape(v.base)} "
                         f"({_gb(v.base_gb)} more, fetched when missing; its full transformer is not).")
        if v.kind == "lora":
            parts.append("A LoRA: it needs its base model (" + html.escape(", ".join(v.requires) or str(v.base))
                         + "); add it in the Edit panel's LoRAs after downloading.")
        lic = f"<a href='{html.escape(v.licence_url)}'>{html.escape(v.licence)}</a>" if v.licence_url else \
            html.escape(v.licence)
        parts.append(f"Licence: {lic}.")
        if v.gated:
            parts.append(f"<b>Gated</b>: open <a href='{html.escape(v.page)}'>its page</a>, log in to Hugging Face "
                         "and accept the licence; then enter a token with read access (Hugging Face token…).")
        if v.kind != "lora":
            parts.append(f"<i>{html.escape(catalogue.fit(v, self.machine).text)}.</i>")
        self.details.setText("<br>".join(parts))

    def _open_page(self) -> None:
        vid = self.selected_variant()
        if vid is not None and self.catalogue is not None:
            QDesktopServices.openUrl(QUrl(self.catalogue.get(vid).page))

    def show_family(self, family: str | None) -> None:
        """Open on ``family`` (from a Get model… button), its recommended variant selected."""
        self.tabs.setCurrentIndex(0)
        idx = self.family_combo.findData(family) if family else 0
        self.family_combo.setCurrentIndex(max(0, idx))
        self.refresh_catalogue()
        if family and idx < 0:
            self.get_message.setText(f"The catalogue has no {family} model; type its Hub repo id below.")

    def download_selected(self) -> str | None:
        vid = self.selected_variant()
        if vid is None:
            return None
        return self._queue(manage.request_for(vid))

    def download_typed(self) -> str | None:
        repo, file = self.repo_field.text().strip(), self.file_field.text().strip()
        try:
            req = manage.request_for(repo, [file] if file else [])
        except errors.HubError as exc:
            self.get_message.setText(str(exc))
            return None
        return self._queue(req)

    def _queue(self, req: manage.Request) -> str:
        key = self._asked = self.downloads.add(req)
        self.get_message.setStyleSheet("")
        self.get_message.setText(f"{req.name}: queued — see Downloads (painting can go on meanwhile).")
        self.refresh_catalogue()
        return key

    # --- Installed -------------------------------------------------------------------------------
    def _build_installed(self) -> QWidget:
        page = QWidget()
        self.installed_tree = QTreeWidget()
        self.installed_tree.setHeaderLabels(["Model", "Family", "Variant", "Size", "Where"])
        self.installed_tree.setRootIsDecorated(False)
        self.installed_tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.installed_tree.currentItemChanged.connect(lambda *_: self._installed_selected())
        self.problems = QLabel("")
        self.problems.setWordWrap(True)
        self.problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.installed_message = QLabel("")
        self.installed_message.setWordWrap(True)
        self.installed_message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verify_button = QPushButton("Verify")
        self.verify_button.setToolTip("Check every file against the Hub's checksums")
        self.verify_button.clicked.connect(lambda: self.verify_selected(repair=False))
        self.repair_button = QPushButton("Repair")
        self.repair_button.setToolTip("Verify, then fetch again only the files that are wrong or missing")
        self.repair_button.clicked.connect(lambda: self.verify_selected(repair=True))
        self.remove_button = QPushButton("Remove…")
        self.remove_button.clicked.connect(self.remove_selected)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh_installed)
        row = QHBoxLayout()
        for b in (self.verify_button, self.repair_button, self.remove_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(refresh)
        lay = QVBoxLayout(page)
        lay.addWidget(self.installed_tree, 1)
        lay.addWidget(self.problems)
        lay.addLayout(row)
        lay.addWidget(self.installed_message)
        return page

    def refresh_installed(self) -> None:
        from inference.hub import cache

        tree = self.installed_tree
        tree.clear()
        found, problems = models.scan()
        for m in found:
            where = cache.locate(m.weights or m.path)
            req = None
            if where is not None:
                repo, _commit, rel = where
                req = manage.Request(repo, files=(rel,) if m.weights is not None else ())
            source = {"hf-cache": "Hugging Face cache", "folder": "model folder", "file": "single file"}.get(
                m.source, m.source)
            item = QTreeWidgetItem([m.name, models.FAMILIES[m.family].label, m.variant or "",
                                    models.human_size(m.size_bytes), f"{source}: {m.weights or m.path}"])
            item.setData(0, ROLE, req)
            item.setToolTip(4, str(m.weights or m.path))
            tree.addTopLevelItem(item)
        for lora in checkpoints.find_loras():
            where = cache.locate(lora.path)
            req = manage.Request(where[0], files=(where[2],)) if where else None
            item = QTreeWidgetItem([lora.path.name, "LoRA", lora.layout, models.human_size(lora.size_bytes),
                                    str(lora.path)])
            item.setData(0, ROLE, req)
            tree.addTopLevelItem(item)
        if not found:
            empty = QTreeWidgetItem(["No editing model yet — see Get models"])
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            tree.addTopLevelItem(empty)
        self.problems.setText("\n".join(f"Not usable: {p.reason}" for p in problems[:8]))
        self.problems.setVisible(bool(problems))
        self._installed_selected()

    def _selected_request(self) -> manage.Request | None:
        item = self.installed_tree.currentItem()
        return item.data(0, ROLE) if item is not None else None

    def _installed_selected(self) -> None:
        req = self._selected_request()
        in_cache = req is not None
        for b in (self.verify_button, self.repair_button, self.remove_button):
            b.setEnabled(in_cache and not self.busy)
        tip = "" if in_cache else "Only models in the Hugging Face cache can be verified or removed here"
        for b in (self.verify_button, self.repair_button, self.remove_button):
            b.setToolTip(tip or b.toolTip())

    def verify_selected(self, repair: bool = False) -> None:
        req = self._selected_request()
        if req is None or self.busy:
            return
        self.busy = f"checking {req.name}…"
        self.installed_message.setText(f"Checking every file of {req.name} …")
        self._installed_selected()
        relay = Relay()
        self._relays.add(relay)
        relay.finished.connect(lambda report, plan: self._verified(relay, req, report, plan, repair))

        def work() -> None:
            try:
                report, plan = manage.verify(req)
            except (errors.HubError, OSError) as exc:
                report, plan = manage.Report(note=str(exc)), None
            relay.finished.emit(report, plan)

        threading.Thread(target=work, name=f"verify {req.repo}", daemon=True).start()

    def _verified(self, relay, req, report, plan, repair: bool) -> None:
        self._relays.discard(relay)
        self.busy = ""
        self._installed_selected()
        text = f"{req.name}: {report.summary()}"
        if report.bad and repair:
            if plan is None:
                text += " — repair needs the Hub, which could not be reached"
            else:
                manage.discard_bad(report, plan)
                self.downloads.add(req)
                text += " — the wrong files were deleted and are being fetched again (see Downloads)"
        elif report.bad:
            text += " — Repair fetches only those again"
        self.installed_message.setText(text)

    def remove_selected(self) -> None:
        req = self._selected_request()
        if req is None:
            return
        if QMessageBox.question(self, "Remove the model?", f"Delete {req.name} from the Hugging Face cache? It can "
                                "be downloaded again later.") != QMessageBox.StandardButton.Yes:
            return
        self.remove(req)

    def remove(self, req: manage.Request) -> str:
        from inference.diffusion import runtime

        runtime.CACHE.clear()  # a loaded pipeline may hold these files open
        try:
            text = manage.remove(req).text
        except (errors.HubError, OSError) as exc:
            text = f"could not remove {req.name}: {exc}"
        self.installed_message.setText(text)
        self.refresh_installed()
        self.refresh_catalogue()
        self.modelsChanged.emit()
        return text

    def _download_changed(self, key: str) -> None:
        item = self.downloads.items.get(key)
        if item is not None and item.state == "failed" and key == self._asked:
            self.get_message.setText(f"{item.label}: {item.error}")  # said where it was asked for
            self.get_message.setStyleSheet("color: #b03030;")
        elif item is not None and key == self._asked:
            self.get_message.setStyleSheet("")
        if item is not None and item.state in ("done", "failed", "paused", "cancelled", "queued"):
            self.refresh_catalogue()
            if item.state == "done":
                self.refresh_installed()
