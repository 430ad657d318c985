"""Agent Protocol v1 server (https://agentprotocol.ai): `autogpt serve` serves any Forge agent over HTTP.

    from forge.protocol.app import create_app      # FastAPI app (tests, embedding)
    from forge.protocol.server import serve        # bind and run with uvicorn

Heavy parts (FastAPI, the agent, the models) are imported by those modules, not here.
"""
