"""The menu bar: File, Edit, View, Image, Layer, Tools, Help, made of the window's actions (and
the layers panel's); File › Open recent is filled by the files controller."""

from __future__ import annotations

from desktop.window.actions import TOOL_GROUP_ENDS


def build_menus(window) -> None:
    w = window
    mb = w.menuBar()
    m = mb.addMenu("&File")
    for a in (w.new_action, w.new_from_image_action, w.open_action):
        m.addAction(a)
    w.recent_menu = m.addMenu("Open &recent")
    w.files.recent_menu = w.recent_menu
    w.files.rebuild_recent_menu()
    m.addAction(w.place_action)
    m.addSeparator()
    for a in (w.save_action, w.save_as_action, w.export_action):
        m.addAction(a)
    m.addSeparator()
    m.addAction(w.close_action)
    m.addAction(w.quit_action)
    m = mb.addMenu("&Edit")
    for a in (w.undo_action, w.redo_action):
        m.addAction(a)
    m.addSeparator()
    for a in (w.copy_action, w.copy_merged_action, w.paste_action):
        m.addAction(a)
    m.addAction(w.delete_mark_action)
    m.addSeparator()
    for a in (w.select_all_action, w.select_none_action, w.invert_action):
        m.addAction(a)
    m.addSeparator()
    w.models_action = m.addAction("&Models…")
    w.models_action.setToolTip("Get editing models (what fits this computer), see what is installed, downloads")
    w.models_action.triggered.connect(lambda _checked=False: w.models.show())
    w.token_action = m.addAction("Hugging Face &token…")
    w.token_action.setToolTip("The token for gated models (FLUX.1 Kontext dev, FLUX.2 dev …), checked with the Hub")
    w.token_action.triggered.connect(lambda _checked=False: w.models.edit_token())
    w.servers_action = m.addAction("&Servers…")
    w.servers_action.setToolTip("ComfyUI servers that run edits, on this computer or elsewhere")
    w.servers_action.triggered.connect(lambda _checked=False: w.backends.edit_server_settings())
    w.gemini_key_action = m.addAction("&Gemini API key…")
    w.gemini_key_action.setToolTip("The key for nano banana (Google's Gemini image API) and its model")
    w.gemini_key_action.triggered.connect(lambda _checked=False: w.edit_panel.edit_gemini_key())
    m = mb.addMenu("&View")
    for a in (w.zoom_in_action, w.zoom_out_action, w.fit_action, w.actual_action):
        m.addAction(a)
    m.addSeparator()
    for dock in (w.layers_dock, w.history_dock, w.edit_dock, w.train_dock):
        m.addAction(dock.toggleViewAction())
    m = mb.addMenu("&Image")
    m.addAction(w.canvas_size_action)
    m.addAction(w.crop_action)
    m = mb.addMenu("&Layer")
    m.setToolTipsVisible(True)  # a greyed entry says why (Cut out subject: only on a collage piece)
    for name in ("add_pixel", "add_annotation", "duplicate", "delete", "move_up", "move_down",
                 "merge_down", "flatten", "rename"):
        a = w.layers_panel.actions_by_name.get(name)
        if a is not None:
            m.addAction(a)
    m.addSeparator()
    m.addAction(w.provenance_action)
    m.addAction(w.training_pair_action)
    m.addSeparator()
    m.addAction(w.piece_from_selection_action)
    for a in (w.flip_h_action, w.flip_v_action, w.reset_tf_action):
        m.addAction(a)
    m.addSeparator()
    for a in (w.cut_out_action, w.cancel_cut_action, w.uncut_action, w.keep_pen_action, w.remove_pen_action):
        m.addAction(a)
    m = mb.addMenu("&Tools")
    for name, a in w.tool_actions.items():
        m.addAction(a)
        if name in TOOL_GROUP_ENDS:
            m.addSeparator()
    m.addSeparator()
    m.addAction(w.smaller_action)
    m.addAction(w.bigger_action)
    m = mb.addMenu("&Help")
    m.addAction(w.shortcuts_action)
    m.addAction(w.about_action)
