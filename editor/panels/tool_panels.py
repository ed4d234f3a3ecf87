"""Adds the editing tool panels (tabs under the images) to the window."""
from __future__ import annotations


def add_tool_panels(window) -> None:
    """Each panel gets the window's state and controller; none is added until it does something."""
    from latent_atlas.editor.panels.attribute_panel import AttributePanel
    from latent_atlas.editor.panels.condition_panel import ConditionPanel

    window.add_tool(AttributePanel.for_window(window), "Attributes")
    window.add_tool(ConditionPanel.for_window(window), "Condition")
    from latent_atlas.editor.panels.density_label import add_density_label
    from latent_atlas.editor.panels.interpolation_panel import InterpolationPanel
    from latent_atlas.editor.panels.samples_panel import SamplesPanel
    from latent_atlas.editor.panels.traversal_panel import TraversalPanel

    window.add_tool(InterpolationPanel.for_window(window), "Interpolate")
    window.add_tool(SamplesPanel(window.state, window.controller), "Samples")
    window.add_tool(TraversalPanel(window.state, window.controller), "Traversal")
    add_density_label(window)
    from latent_atlas.editor.training.training_panel import TrainingPanel
    window.add_tool(TrainingPanel.for_window(window), "Training")
