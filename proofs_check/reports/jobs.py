"""What the reports share around their jobs: running them on Dask, and loading a user's torch net and data.

* :func:`dask_map` — a ``map_runs(function, jobs)`` that sends every (picklable, seeded) job to a Dask
  scheduler and gathers the results in job order, so a report built from them equals the serial one
  (each job is a pure function of its spec: same spec, same floating-point operations, same numbers).
  The address is probed with a TCP connect first, so an unreachable scheduler is a one-line usage error.
* :func:`load_model` / :func:`user_objective` — ``--model FILE.py:FUNCTION`` (a function returning a
  torch ``nn.Sequential``) and ``--data FILE.npz`` turned into a gfgd objective by
  :func:`proofs_check.validation.torch_adapter.from_torch_sequential` (weights copied exactly). Every
  mistake (no such file, no such function, not a Sequential, an unsupported layer, data whose shape
  does not fit the net) is a :class:`UserInputError` naming the flag, for the CLI's exit 2.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class UserInputError(ValueError):
    """A mistake in a report's input (a flag's value), reported in one line naming the flag (exit 2)."""


def dask_map(address: str | tuple, timeout: float = 5.0) -> Callable[[Callable, Sequence], list]:
    """A ``map_runs`` that runs each job on the Dask scheduler at ``address`` (``[tcp://]host:port``, or the
    (text, host, port) triple of :func:`proofs_check.argtypes.address`) and returns the results in job order."""
    from .. import argtypes as at

    try:
        text, host, port = address if isinstance(address, tuple) else at.address(str(address))
    except Exception as exc:  # argparse's type error: not an address
        raise UserInputError(f"--scheduler: expected an address like tcp://HOST:PORT, got {address!r}") from exc
    msg = at.unreachable(text, host, port, timeout)
    if msg:
        raise UserInputError(msg)
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - depends on the installation
        raise UserInputError('--scheduler needs dask: python -m pip install -e ".[dask]"') from None
    client = Client(text if "://" in text else f"tcp://{text}", timeout=timeout)

    def map_runs(function: Callable, jobs: Sequence) -> list:
        return client.gather(client.map(function, list(jobs), pure=False))

    map_runs.client = client  # type: ignore[attr-defined]  # so a caller can close it
    return map_runs


def load_model(ref: str) -> Any:
    """``FILE.py:FUNCTION`` → what ``FUNCTION()`` returns (the user's own code, run here), which must be a
    torch ``nn.Sequential``."""
    import importlib.util

    path, sep, name = str(ref).rpartition(":")
    if not sep or not path or not name or not path.endswith(".py"):
        raise UserInputError(f"--model must be FILE.py:FUNCTION, got {ref!r}")
    if not os.path.isfile(path):
        raise UserInputError(f"--model: no such file {path!r}")
    spec = importlib.util.spec_from_file_location("gfgd_user_model", path)
    if spec is None or spec.loader is None:
        raise UserInputError(f"--model: cannot load {path!r} as a Python file")
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except Exception as e:  # noqa: BLE001 - the user's file failed to import: say so in one line
        raise UserInputError(f"--model: importing {path!r} failed: {type(e).__name__}: {e}") from None
    fn = getattr(mod, name, None)
    if not callable(fn):
        raise UserInputError(f"--model: {path!r} has no function {name!r}")
    try:
        model = fn()
    except Exception as e:  # noqa: BLE001 - as above
        raise UserInputError(f"--model: {name}() raised {type(e).__name__}: {e}") from None
    import torch

    if not isinstance(model, torch.nn.Sequential):
        raise UserInputError(f"--model: {name}() must return a torch.nn.Sequential, got {type(model).__name__}")
    return model


def user_objective(model: Any, data: Any, loss: str = "cross_entropy") -> tuple[Any, list[np.ndarray], dict]:
    """(objective, θ₀, data provenance) for a torch ``nn.Sequential`` and ``data`` (a
    :class:`theory.data.Dataset` or an ``.npz`` path, :func:`theory.data.load_npz`).

    Cross-entropy takes the integer ``labels``; the square loss takes ``Y``, or one-hot labels when the
    file has labels (½‖h − e_c‖², as the digits nets). The net's input width must equal X's columns and
    its outputs must cover the classes (else :class:`UserInputError` naming ``--data``)."""
    from theory import data as tdata

    from ..validation.torch_adapter import from_torch_sequential

    try:
        ds = tdata.load_npz(data) if isinstance(data, (str, os.PathLike)) else data
    except ValueError as e:
        raise UserInputError(f"--data: {e}") from None
    if ds is None:
        raise UserInputError("--data: a torch model needs data (an .npz with X and labels or Y)")
    linears = [m for m in model if hasattr(m, "in_features")]
    if linears and ds.X.shape[1] != linears[0].in_features:
        raise UserInputError(f"--data: X has {ds.X.shape[1]} columns but the model's first Linear takes "
                             f"{linears[0].in_features} inputs")
    if loss == "cross_entropy":
        if ds.labels is None:
            raise UserInputError("--data: cross-entropy needs integer 'labels' in the .npz (found Y); "
                                 "use --loss square for real-valued targets")
        target = ds.labels
    else:
        d_out = linears[-1].out_features if linears else int(np.max(ds.labels)) + 1
        if ds.Y is None and int(np.max(ds.labels)) >= d_out:
            raise UserInputError(f"--data: labels reach {int(np.max(ds.labels))} but the model has {d_out} outputs")
        target = ds.Y if ds.Y is not None else np.eye(d_out)[ds.labels]
        if linears and np.ndim(target) == 2 and np.shape(target)[1] != linears[-1].out_features:
            raise UserInputError(f"--data: targets have {np.shape(target)[1]} columns but the model has "
                                 f"{linears[-1].out_features} outputs")
    try:
        obj, theta = from_torch_sequential(model, ds.X, target, loss=loss)
    except (TypeError, ValueError) as e:
        raise UserInputError(f"--model/--data: {e}") from None
    return obj, theta, dict(ds.provenance, source="torch nn.Sequential")
