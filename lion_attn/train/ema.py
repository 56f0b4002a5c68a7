"""An exponential moving average (EMA) of a model's weights, evaluated and saved beside the raw weights.

After every optimiser step ``ema <- decay * ema + (1 - decay) * weights`` (the first update copies the
weights), computed by :class:`torch.optim.swa_utils.AveragedModel`. Buffers are copied, not averaged
(averaging would corrupt integer buffers such as position ids; these models have no running statistics). The average
is saved as a full model folder ``ema/`` inside each checkpoint (``checkpoints/{last,best}/ema``), so it is
loaded, evaluated and deployed like any model; its update count travels in the trainer state, so a
resumed run continues the same average.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

EMA_DIR = "ema"


class WeightEMA:
    """The EMA of ``model``'s parameters and buffers.

    Args:
        model: The model being trained (not a DDP wrapper); it is copied, never changed.
        decay: Weight of the old average per step, in (0, 1).

    Raises:
        ValueError: ``decay`` is outside (0, 1).
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"--ema-decay must be in (0, 1) (or 0 for no EMA), got {decay!r}")
        self.decay = decay
        self.averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=False)
        self.averaged.requires_grad_(False)

    @property
    def module(self) -> nn.Module:
        """The averaged model (same class and config as the trained one)."""
        return self.averaged.module

    @property
    def updates(self) -> int:
        """Number of updates so far."""
        return int(self.averaged.n_averaged.item())

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold ``model``'s current weights into the average."""
        self.averaged.update_parameters(model)

    def save(self, folder: Path) -> None:
        """Write the average as a model folder ``folder/ema`` (its own ``config.json`` and weights)."""
        target = Path(folder) / EMA_DIR
        target.mkdir(parents=True, exist_ok=True)
        self.module.save_pretrained(str(target))

    @torch.no_grad()
    def load(self, loaded: nn.Module, updates: int) -> None:
        """Continue from a saved average: ``loaded`` is the model read from a checkpoint's ``ema`` folder.

        Raises:
            ValueError: The saved average does not match the model's parameters.
        """
        try:
            self.module.load_state_dict(loaded.state_dict())
        except RuntimeError as exc:
            raise ValueError(f"the checkpoint's EMA weights do not match the model ({exc})") from exc
        self.averaged.n_averaged.fill_(updates)


__all__ = ["EMA_DIR", "WeightEMA"]
