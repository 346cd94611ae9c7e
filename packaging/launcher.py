"""Entry point of the PyInstaller bundle: ``workbench`` with no arguments opens the
desktop workbench; with a command it is the headless command line
(``workbench screenshot --view overview --out x.png``, ``workbench import ...``)."""

from workbench.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
