"""What the window does to its document, one controller a job: ``files`` (new, open, save,
export, recent files), ``recovery`` (autosave snapshots, restoring them, saving results),
``clipboard`` (copy, paste, drag and drop), ``pieces`` (collage pieces), ``selection``
(select all / none / invert, crop, canvas size), ``tool_options`` (brush size keys, colour
pickers, deleting the selected mark) and ``backends`` (Edit › Models… and Edit › Servers…).

A controller is made by the window with the window as its host and reaches the document, the
notifier and the settings through it; it never imports ``desktop.window``
(``tests/check_layers.py`` holds it to that). The questions it asks go through small ``ask_*``
methods, so tests answer them without a person.
"""
