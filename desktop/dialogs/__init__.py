"""The window's dialogs: new document, canvas size, recovery of unsaved work, models and
servers settings, keyboard shortcuts and About. Each one asks and answers; what the answer does
to the document is the controllers' job."""
