"""The two-layer feed-forward network of a Transformer block (Vaswani et al., 2017; timm's ``Mlp``)."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["Mlp"]


class Mlp(nn.Module):
    """``fc2(drop(act(fc1(x))))`` followed by dropout.

    Args:
        in_features: Input width.
        hidden_features: Hidden width (default ``in_features``).
        out_features: Output width (default ``in_features``).
        act_layer: Activation module class.
        drop: Dropout probability, applied after the activation and after ``fc2``.
        bias: Bias in both linear layers.

    Shapes:
        ``forward(x [..., in_features]) -> [..., out_features]``.
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int | None = None,
        out_features: int | None = None,
        act_layer: type[nn.Module] = nn.GELU,
        drop: float = 0.0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        hidden_features = hidden_features or in_features
        out_features = out_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features, bias=bias)
        self.act = act_layer()
        self.drop1 = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden_features, out_features, bias=bias)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the MLP to [..., in_features]."""
        return self.drop2(self.fc2(self.drop1(self.act(self.fc1(x)))))
