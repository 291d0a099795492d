@echo off
rem Akapen on Windows: set up .venv and start the app; "run tests" runs the suite (see run.py)
py -3.11 "%~dp0run.py" %*
