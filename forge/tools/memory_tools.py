"""Long-term memory tools (remember / recall), registered through the `autogpt.tools` entry point."""
