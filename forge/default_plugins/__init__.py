"""The built-in tools, blocks, models and search backends, registered like any third-party plugin."""
