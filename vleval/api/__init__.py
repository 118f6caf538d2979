"""Interfaces that plugins implement: one module per plugin kind."""

from vleval.api.dataset import TASK_CAPABILITIES, Dataset, Task
from vleval.api.items import CaptionItem, MCItem, Prompt, RetrievalItem
from vleval.api.metric import CaptionOutputs, MCOutputs, Metric, MetricValue, RetrievalOutputs, TaskOutputs
from vleval.api.model import IMAGE, TEXT, Capability, LayerRouting, Model, ModelInfo, RoutingTrace
from vleval.api.shift import DatasetSpec, Shift

__all__ = [
    "IMAGE", "TASK_CAPABILITIES", "TEXT", "Capability", "CaptionItem", "CaptionOutputs", "Dataset", "DatasetSpec",
    "LayerRouting", "MCItem", "MCOutputs", "Metric", "MetricValue", "Model", "ModelInfo", "Prompt", "RetrievalItem",
    "RetrievalOutputs", "RoutingTrace", "Shift", "Task", "TaskOutputs",
]
