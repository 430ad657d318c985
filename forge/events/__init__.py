"""Typed run events and where they go (sinks): see `models` and `sinks`."""

from forge.events.models import *  # noqa: F403
from forge.events.models import AgentEvent, Event, WorkflowEvent, parse_agent_event, parse_workflow_event
from forge.events.sinks import EventSink, MemorySink

__all__ = ["AgentEvent", "Event", "EventSink", "MemorySink", "WorkflowEvent", "parse_agent_event",
           "parse_workflow_event"]
