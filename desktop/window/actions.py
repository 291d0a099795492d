"""The window's actions (``window.new_action``, ``window.undo_action``, …, one per tool in
``window.tool_actions``): their text, shortcuts and tips, and what each one runs. The menus,
the toolbars and the keyboard all use these; the work is the window's and its controllers'."""

from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from desktop.controllers.pieces import CUT_OUT_TIP
from desktop.dialogs.help import show_about
from desktop.icons import tool_icon

TOOL_GROUP_ENDS = ("eraser", "text", "mark_select", "lasso")  # the Tools menu and toolbar put a separator after these


def add_action(window, text: str, slot, shortcut=None, tip: str = "") -> QAction:
    """An action of ``window`` that runs ``slot``; an expected document error it raises is said
    by the notifier."""
    a = QAction(text, window)
    if shortcut is not None:
        if isinstance(shortcut, list | tuple):
            a.setShortcuts([QKeySequence(s) for s in shortcut])
        else:
            a.setShortcut(QKeySequence(shortcut))
    if tip:
        a.setStatusTip(tip)
        a.setToolTip(tip)
    a.triggered.connect(lambda _checked=False: window.notifier.guard(slot))
    window.addAction(a)
    return a


def build_actions(window) -> None:
    w, act = window, lambda *args: add_action(window, *args)
    files, clip, sel, pieces = w.files, w.clipboard, w.selection, w.pieces
    K = QKeySequence.StandardKey
    w.new_action = act("&New…", files.new_document, K.New, "Start a new document")
    w.new_from_image_action = act("New from &image…", files.new_from_image, None,
                                  "Start a new document from an image file")
    w.open_action = act("&Open…", files.open_document, K.Open, "Open an .ora document or an image")
    w.place_action = act("&Place…", lambda: pieces.place_file(), "Ctrl+Shift+P",
                         "Put an image file on the canvas as a collage piece, in the middle (scaled to fit if it "
                         "is bigger)")
    w.close_action = act("&Close", w.close_document, "Ctrl+W",
                         "Close the document (asking to save changes) and start again on an empty canvas")
    w.save_action = act("&Save", files.save, K.Save, "Save the document (.ora)")
    w.save_as_action = act("Save &as…", files.save_as, "Ctrl+Shift+S", "Save under a new name")
    w.export_action = act("&Export image…", files.export, "Ctrl+E",
                          "Write the composite of the content layers as PNG or JPEG")
    w.quit_action = act("&Quit", w.close, K.Quit)
    w.undo_action = act("&Undo", w.undo, K.Undo)
    w.redo_action = act("&Redo", w.redo, ["Ctrl+Shift+Z", "Ctrl+Y"])
    w.copy_action = act("&Copy", lambda: clip.copy(merged=False), K.Copy,
                        "Copy the active layer inside the selection (all of it without one)")
    w.copy_merged_action = act("Copy &merged", lambda: clip.copy(merged=True), "Ctrl+Shift+C",
                               "Copy the picture as you see it (content layers) inside the selection")
    w.paste_action = act("&Paste as piece", clip.paste, K.Paste,
                         "Paste the image on the clipboard as a collage piece in the middle of the view")
    w.select_all_action = act("Select &all", sel.select_all, "Ctrl+A")
    w.select_none_action = act("Select &none", sel.select_none, "Ctrl+Shift+A")
    w.invert_action = act("&Invert selection", sel.invert_selection, "Ctrl+I")
    w.zoom_in_action = act("Zoom &in", w.view.zoom_in, ["Ctrl+=", "Ctrl++"])
    w.zoom_out_action = act("Zoom &out", w.view.zoom_out, "Ctrl+-")
    w.fit_action = act("&Fit in window", w.view.fit, "Ctrl+0")
    w.actual_action = act("&100 %", w.view.actual_size, "Ctrl+1")
    w.flip_h_action = act("Flip piece &horizontally", lambda: pieces.flip_piece("h"), None,
                          "Mirror the active collage piece left to right")
    w.flip_v_action = act("Flip piece &vertically", lambda: pieces.flip_piece("v"), None,
                          "Mirror the active collage piece top to bottom")
    w.reset_tf_action = act("&Reset piece transform", pieces.reset_piece, None,
                            "Undo the scale, rotation and flips of the active piece")
    w.cut_out_action = act("Cu&t out subject", pieces.cut_out, None, CUT_OUT_TIP)  # enabled on a piece only
    w.uncut_action = act("Restore &uncut piece", pieces.restore_uncut, None,
                         "Show the whole picture of a piece that was cut out")
    w.cancel_cut_action = act("&Cancel cut-out", pieces.cancel_cut, None,
                              "Stop the cut-out that is being computed; nothing changes")
    w.cancel_cut_action.setEnabled(False)
    w.keep_pen_action = act("&Keep pen (for cutting out)", lambda: pieces.cutout_pen(True), None,
                            "The pen in green: strokes over a piece that say what to keep when it is cut out")
    w.remove_pen_action = act("Re&move pen (for cutting out)", lambda: pieces.cutout_pen(False), None,
                              "The pen in blue: strokes over a piece that say what to cut away")
    w.smaller_action = act("Smaller brush", lambda: w.tool_options.resize_brush(1 / 1.25), "[")
    w.bigger_action = act("Bigger brush", lambda: w.tool_options.resize_brush(1.25), "]")
    w.piece_from_selection_action = act(
        "New &piece from selection", pieces.piece_from_selection, "Ctrl+J",
        "Copy the selected part of the active layer into a collage piece on top of it, ready to move")
    w.training_pair_action = act("Add as training &pair", w.training.add_result_pair, None,
                                 "The selected edit result and the picture it was made from, as a pair in the "
                                 "Train panel")
    w.provenance_action = act("Where it &came from…", w.show_provenance, None,
                              "The instruction, backend, model, seed and settings this result was made with")
    w.canvas_size_action = act("Canvas &size…", sel.canvas_size, "Ctrl+Alt+C",
                               "Change the canvas size; the picture stays where you anchor it")
    w.crop_action = act("&Crop to selection", sel.crop_to_selection, None,
                        "Make the canvas the selection's bounding box")
    w.shortcuts_action = act("&Keyboard shortcuts", w.show_shortcuts, ["F1", "Ctrl+/"],
                             "Every shortcut and mouse gesture, searchable")
    w.about_action = act("&About Akapen", lambda: show_about(w), None)
    w.delete_mark_action = act("Delete selected mark", w.tool_options.delete_mark, None,
                               "Delete the mark picked with the mark-select tool (or press Delete)")
    w.tool_group = QActionGroup(w)
    w.tool_group.setExclusive(True)
    w.tool_actions = {}
    for name, tool in w.tools.items():
        a = QAction(tool_icon(name), tool.label, w)
        a.setCheckable(True)
        a.setShortcut(QKeySequence(tool.shortcut))
        a.setToolTip(f"{tool.label} ({tool.shortcut})\n{tool.tip}")
        a.setStatusTip(tool.tip)
        a.triggered.connect(lambda _c=False, n=name: w.set_tool(n))
        w.tool_group.addAction(a)
        w.addAction(a)
        w.tool_actions[name] = a
    w.recent_actions = []
