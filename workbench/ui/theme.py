"""Light and dark palettes that follow the system, and the colours the views share.

Qt 6 picks the system's light or dark scheme on platforms whose style supports it;
where it does not (Fusion on many Linux desktops, the offscreen platform) the
workbench applies its own dark Fusion palette when the system -- or the user's
choice in View > Theme -- asks for dark.  Views repaint their plots on
``QEvent.PaletteChange``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette

__all__ = ["THEMES", "apply_theme", "is_dark", "dark_palette", "CATEGORY", "GOOD", "WARN", "BAD",
           "category", "NEUTRAL", "ACCENT"]

THEMES = ("system", "light", "dark")

#: categorical colours (Tableau 10, readable on light and dark backgrounds)
CATEGORY = [QColor(c) for c in ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
                                "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")]
GOOD = QColor("#2ea043")
WARN = QColor("#d29922")
BAD = QColor("#da3633")
NEUTRAL = QColor("#8b949e")
ACCENT = QColor("#4e79a7")


def category(i: int) -> QColor:
    return CATEGORY[i % len(CATEGORY)]


def is_dark(palette: QPalette | None = None) -> bool:
    pal = palette if palette is not None else QGuiApplication.palette()
    return pal.color(QPalette.ColorRole.Base).lightness() < 128


def dark_palette() -> QPalette:
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#202124", QPalette.ColorRole.WindowText: "#e8eaed",
        QPalette.ColorRole.Base: "#17181a", QPalette.ColorRole.AlternateBase: "#232427",
        QPalette.ColorRole.ToolTipBase: "#2b2c2f", QPalette.ColorRole.ToolTipText: "#e8eaed",
        QPalette.ColorRole.Text: "#e8eaed", QPalette.ColorRole.Button: "#2b2c2f",
        QPalette.ColorRole.ButtonText: "#e8eaed", QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Link: "#8ab4f8", QPalette.ColorRole.Highlight: "#3d6fb4",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.PlaceholderText: "#9aa0a6",
        QPalette.ColorRole.Mid: "#3c4043", QPalette.ColorRole.Midlight: "#45484c",
        QPalette.ColorRole.Dark: "#111214", QPalette.ColorRole.Shadow: "#000000",
        QPalette.ColorRole.Light: "#505357",
    }
    for role, colour in roles.items():
        p.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6f7378"))
    return p


def _system_is_dark(app: QGuiApplication) -> bool:
    try:
        return app.styleHints().colorScheme() == Qt.ColorScheme.Dark
    except AttributeError:  # Qt < 6.5
        return False


def apply_theme(app: QGuiApplication, mode: str = "system") -> str:
    """Apply ``mode`` (``system`` | ``light`` | ``dark``); returns the scheme in force
    (``light`` or ``dark``).  ``system`` follows the platform and is re-applied when
    the platform's scheme changes."""
    if mode not in THEMES:
        raise ValueError(f"unknown theme {mode!r} (known: {', '.join(THEMES)})")
    dark = mode == "dark" or (mode == "system" and _system_is_dark(app))
    style = app.style() if hasattr(app, "style") else None  # type: ignore[attr-defined]
    if dark:
        app.setPalette(dark_palette())
    elif style is not None:
        app.setPalette(style.standardPalette())
    else:
        app.setPalette(QPalette())
    app.setProperty("workbench_theme", mode)
    if not app.property("workbench_theme_hooked"):
        try:
            app.styleHints().colorSchemeChanged.connect(
                lambda *_: apply_theme(app, str(app.property("workbench_theme") or "system"))
                if app.property("workbench_theme") == "system" else None)
            app.setProperty("workbench_theme_hooked", True)
        except AttributeError:
            pass
    return "dark" if dark else "light"
