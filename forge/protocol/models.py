"""Agent Protocol v1 wire models (schemas/openapi.yml of the protocol repository).

Artifacts also carry `created_at`/`modified_at` (the PyPI agbenchmark reads them); extra fields are
harmless to clients, which ignore what they do not know.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StepStatus(StrEnum):
    # The spec's whole enum: a failed step is `completed` with the error in its output (a fourth value
    # would break the reference client, which validates the enum).
    CREATED = "created"
    RUNNING = "running"
    COMPLETED = "completed"


class TaskRequestBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input: str | None = Field(default=None, description="Input prompt for the task.", max_length=100_000)
    additional_input: dict[str, Any] | None = None


class StepRequestBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input: str | None = Field(
        default=None, description="'y' or empty approves the proposed action; other text is feedback.",
        max_length=100_000,
    )
    additional_input: dict[str, Any] | None = None


class Artifact(BaseModel):
    artifact_id: str
    agent_created: bool
    file_name: str
    relative_path: str | None = Field(
        default=None, description="Path of the file in the task's workspace (with its name)."
    )
    created_at: datetime
    modified_at: datetime


class Task(BaseModel):
    input: str | None = None
    additional_input: dict[str, Any] | None = None
    task_id: str
    artifacts: list[Artifact] = Field(default_factory=list)
    created_at: datetime
    modified_at: datetime


class Step(BaseModel):
    input: str | None = None
    additional_input: dict[str, Any] | None = None
    task_id: str
    step_id: str
    name: str | None = None
    status: StepStatus
    output: str | None = None
    additional_output: dict[str, Any] | None = None
    artifacts: list[Artifact] = Field(default_factory=list)
    is_last: bool = False
    created_at: datetime
    modified_at: datetime


class Pagination(BaseModel):
    total_items: int
    total_pages: int
    current_page: int
    page_size: int


class TaskListResponse(BaseModel):
    tasks: list[Task]
    pagination: Pagination


class TaskStepsListResponse(BaseModel):
    steps: list[Step]
    pagination: Pagination


class TaskArtifactsListResponse(BaseModel):
    artifacts: list[Artifact]
    pagination: Pagination


class ErrorBody(BaseModel):
    message: str
