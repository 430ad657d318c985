"""Built-in blocks, registered through the `autogpt.blocks` entry point like any plugin.

The registry registers exactly the classes named in `__all__`. Agent tools arrive as `tool_<name>`
blocks through the separate `tools` entry point (forge.blocks.adapters:tool_blocks).
"""

from forge.blocks.agent_block import AgentBlock
from forge.blocks.ai import Embedding, LLMCall, TextCompletion
from forge.blocks.code import CodeExecute, ShellCommand
from forge.blocks.communication import DiscordWebhook, SendEmail, SlackMessage
from forge.blocks.data import CSVRead, CSVWrite, JSONParse, TextSplit, TextTemplate
from forge.blocks.files import FileRead, FileWrite
from forge.blocks.io import DisplayResult, GenerateReport, UserInput
from forge.blocks.logic import Calculator, Condition
from forge.blocks.social import LinkedInPost, RedditFetch, TwitterPost
from forge.blocks.storage import DatabaseLog, DatabaseQuery, RedisGet, RedisSet
from forge.blocks.web import HTTPRequest, WebScrape, WebSearch

__all__ = [
    # AI
    "LLMCall",
    "TextCompletion",
    "Embedding",
    # Network
    "WebSearch",
    "WebScrape",
    "HTTPRequest",
    # Data
    "TextSplit",
    "TextTemplate",
    "JSONParse",
    "CSVRead",
    "CSVWrite",
    # Files
    "FileRead",
    "FileWrite",
    # Logic
    "Calculator",
    "Condition",
    # Input/output
    "UserInput",
    "DisplayResult",
    "GenerateReport",
    # Code
    "CodeExecute",
    "ShellCommand",
    # Storage
    "DatabaseQuery",
    "DatabaseLog",
    "RedisGet",
    "RedisSet",
    # Communication
    "SendEmail",
    "SlackMessage",
    "DiscordWebhook",
    # Social
    "RedditFetch",
    "TwitterPost",
    "LinkedInPost",
    # Agent
    "AgentBlock",
]
