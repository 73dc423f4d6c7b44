"""Embedding: a learned table of vectors, one row per token id."""

from __future__ import annotations

from minigrad.backend import float32
from minigrad.creation import check_size
from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.linear import _empty_parameter
from minigrad.nn.module import Module
from minigrad.tensor import Tensor

__all__ = ["Embedding"]


class Embedding(Module):
    """Looks up rows of weight (num_embeddings, embedding_dim): integer ids of any shape S ->
    (*S, embedding_dim). weight is drawn from N(0, 1), as PyTorch; padding_idx (if given) is a
    row of zeros that receives no gradient (a padding token)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 device=None, dtype=float32):
        super().__init__()
        self.num_embeddings = check_size(num_embeddings, "Embedding: num_embeddings")
        self.embedding_dim = check_size(embedding_dim, "Embedding: embedding_dim")
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"Embedding: padding_idx must be within num_embeddings "
                                 f"({self.num_embeddings}), got {padding_idx}")
            padding_idx %= self.num_embeddings  # a negative index counts from the end
        self.padding_idx = padding_idx
        self.weight = _empty_parameter((self.num_embeddings, self.embedding_dim), device, dtype)
        init.normal_(self.weight)
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0  # (before any graph: a plain initialisation)

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        return (f"{self.num_embeddings}, {self.embedding_dim}"
                + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""))
