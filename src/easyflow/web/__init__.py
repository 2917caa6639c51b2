"""What the app serves to browsers: the dashboard (templates, static assets, languages), the website chat
widget and the demo shop page."""

from pathlib import Path

# A checkout's root (the maintainers' commands and the tests read babel.cfg and write vendored files there).
PROJECT_ROOT = Path(__file__).resolve().parents[3]
# The dashboard's own stylesheet, served at /app/static/ beside the vendored libraries.
STATIC_DIR = Path(__file__).parent / "static"
