"""Tools: a Pydantic registry and an executor whose errors go back to the model."""

from agentocore.tools.executor import ToolExecutor, ToolOutcome
from agentocore.tools.registry import Tool, ToolContext, ToolError, ToolRegistry

__all__ = ["Tool", "ToolContext", "ToolError", "ToolExecutor", "ToolOutcome", "ToolRegistry"]
