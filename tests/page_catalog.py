"""The course's pages as the reliability tests choose them: one list, shared by AppTest and Chromium suites."""

from __future__ import annotations

from pathlib import Path

from pages.common import course

ROOT = Path(__file__).resolve().parents[1]


def training_pages() -> list[str]:
    """URL paths of the pages that train through the live-training helper (`pages/common/training.py`)."""
    return [
        lesson.url_path for lesson in course.LESSONS
        if lesson.is_built() and "live_training(" in (ROOT / lesson.file).read_text()
    ]  # fmt: skip
