"""Shared by analyses that measure how much gradient reaches an input position."""

from __future__ import annotations

import dataclasses

import numpy as np

import gradflow
from gradflow.norms import vector_norm


def input_gradient_norms(net, params: dict, task, x: np.ndarray, y) -> np.ndarray:
    """||dL/dx_t|| per step and sequence, (T, B), computed in float64.

    A float32-trained network is re-run in float64 from the same parameters, so a
    gradient that underflows is the network's doing, not float32's.
    """
    net64 = dataclasses.replace(net, dtype="float64")
    params64 = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    grads = gradflow.loss_gradients(net64, params64, task, x, y).network
    return vector_norm(grads.inputs, axis=2)
