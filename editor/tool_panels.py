"""Adds the editing tool panels (tabs under the images) to the window."""
from __future__ import annotations


def add_tool_panels(window) -> None:
    """Each panel gets the window's state and controller; none is added until it does something."""
