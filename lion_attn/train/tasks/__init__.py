"""Training tasks: each turns data into batches, a model and a metric for the generic trainer."""

from __future__ import annotations

import importlib

from lion_attn.train.tasks.base import Task

# name -> "module:Class"; imported on demand so that one task's optional dependencies do not burden another.
TASKS: dict[str, str] = {
    "image": "lion_attn.train.tasks.image:ImageTask",
    "mlm": "lion_attn.train.tasks.mlm:MLMTask",
    "text-cls": "lion_attn.train.tasks.text_cls:TextClsTask",
    "lra": "lion_attn.train.tasks.lra:LRATask",
    "glue": "lion_attn.train.tasks.glue:GlueTask",
}


def get_task_class(name: str) -> type[Task]:
    """The Task subclass registered under ``name``."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose from {', '.join(TASKS)}")
    module, cls = TASKS[name].split(":")
    return getattr(importlib.import_module(module), cls)


__all__ = ["TASKS", "Task", "get_task_class"]
