"""Built-in blocks, registered through the `autogpt.blocks` entry point like any plugin."""
