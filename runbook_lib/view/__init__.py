"""Display: plots, HTML rendering, widgets."""
