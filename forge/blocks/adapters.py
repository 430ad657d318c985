"""Tool <-> block adapters."""


def tool_blocks() -> list:
    return []
