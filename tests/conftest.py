"""Settings for every test layer."""

from __future__ import annotations

from comeback.local import offline_environment

# Powertools: no EMF documents or X-Ray outside Lambda; quiet logs unless a test captures them.
offline_environment("comeback-tests")
