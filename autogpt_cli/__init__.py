"""The `autogpt` command line: thin Typer apps over forge."""
