"""NVTX ranges for PyTorch models: one per module call, and prefill/decode phases.

``annotate(model)`` registers forward pre/post hooks that push and pop an NVTX range named by
each module's qualified path (``model.layers.3.mlp.down_proj``), so every kernel a module
launches is attributed to it; roofprof's op rules (``roofprof/rules/ops.toml``) then name the
operator (qkv_proj, o_proj, gate/up/down_proj, lm_head, attention, ...). ``mark_phases(model)``
wraps each call of the model in a ``prefill`` or ``decode`` range from the query length. Both
return a handle whose ``remove()`` takes the hooks away; handles are context managers.

torch is imported only by the functions here (it is an optional extra: ``pip install
roofprof[torch]``); ``import roofprof`` never imports this module. Ranges are pushed through
the ``nvtx`` package, the same push/pop ranges ``torch.cuda.nvtx`` makes.

CUDA graphs: NVTX ranges are host-side events. Inside a CUDA graph they exist only while the
graph is captured; kernels replayed from the graph carry no ranges (phase "other", no op).
Profile with graphs off (eager mode, e.g. vLLM ``enforce_eager=True``, SGLang
``--disable-cuda-graph``) to attribute kernels to modules. Under ``torch.compile`` the hooks
cause graph breaks; annotate the eager model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Annotation", "annotate", "mark_phases", "phase_for"]


class Annotation:
    """Hooks registered on a model; ``remove()`` (or leaving the ``with`` block) removes them."""

    def __init__(self, handles: list[Any], names: list[str]) -> None:
        self._handles = handles
        #: the range names, in registration order
        self.names = names

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> Annotation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def __len__(self) -> int:
        return len(self.names)


def _depth(name: str) -> int:
    return 0 if not name else name.count(".") + 1


def _push(name: str, domain: str | None) -> None:
    import nvtx

    nvtx.push_range(name, domain=domain)


def _pop(domain: str | None) -> None:
    import nvtx

    nvtx.pop_range(domain=domain)


def _register(module: Any, pre: Callable[..., Any], post: Callable[..., Any],
              prepend: bool = False) -> list[Any]:
    """Pre and post hooks; the post hook also runs when forward raises (torch >= 2.1)."""
    handles = [module.register_forward_pre_hook(pre, prepend=prepend)]
    try:
        handles.append(module.register_forward_hook(post, always_call=True, prepend=prepend))
    except TypeError:  # older torch: no always_call
        handles.append(module.register_forward_hook(post, prepend=prepend))
    return handles


def annotate(model: Any, depth: int | None = None, prefix: str | None = None, *,
             domain: str | None = None,
             include: Callable[[str, Any], bool] | None = None) -> Annotation:
    """Push an NVTX range named by its qualified path around every module's forward.

    ``depth`` limits the modules to paths of at most that many dotted parts (``model`` is 1,
    ``model.layers.3.mlp`` 4; None: all, 0: the model only). The model itself is named
    ``prefix``, or its class name; child names are ``prefix.path`` with a prefix, ``path``
    without (as ``model.named_modules()`` names them). ``include(name, module)`` can skip
    modules. Returns an :class:`Annotation`; ``with roofprof.torch.annotate(model): ...``
    removes the hooks at the end.
    """
    if depth is not None and depth < 0:
        raise ValueError(f"depth must be at least 0, got {depth}")
    handles: list[Any] = []
    names: list[str] = []
    for path, module in model.named_modules():
        if depth is not None and _depth(path) > depth:
            continue
        root = prefix or type(model).__name__
        name = (f"{prefix}.{path}" if prefix else path) if path else root
        if include is not None and not include(name, module):
            continue

        def pre(_mod: Any, _args: Any, _name: str = name) -> None:
            _push(_name, domain)

        def post(_mod: Any, _args: Any, _out: Any) -> None:
            _pop(domain)

        handles += _register(module, pre, post)
        names.append(name)
    return Annotation(handles, names)


def _query_length(args: Any, kwargs: dict[str, Any]) -> int | None:
    """Tokens per sequence in this call: input_ids (B, S) or inputs_embeds (B, S, H)."""
    ids = kwargs.get("input_ids")
    if ids is None and args:
        ids = args[0]
    if ids is not None and hasattr(ids, "shape") and len(ids.shape) >= 1:
        return int(ids.shape[-1])
    embeds = kwargs.get("inputs_embeds")
    if embeds is not None and hasattr(embeds, "shape") and len(embeds.shape) >= 2:
        return int(embeds.shape[-2])
    return None


def phase_for(input_ids: Any) -> str:
    """``prefill`` when a call carries more than one token per sequence, else ``decode``.

    ``input_ids`` is a (batch, seq) tensor, a sequence length, or anything with a ``shape``.
    A speculative-verification call also carries several tokens: wrap it in
    ``roofprof.phase("spec")`` yourself (see examples/spec_verify_sweep.py).
    """
    if isinstance(input_ids, int):
        length = input_ids
    elif hasattr(input_ids, "shape"):
        length = int(input_ids.shape[-1]) if len(input_ids.shape) else 1
    else:
        length = len(input_ids)
    return "prefill" if length > 1 else "decode"


def mark_phases(model: Any, *, domain: str | None = None,
                classify: Callable[[int], str] | None = None) -> Annotation:
    """Wrap each call of ``model`` in a ``prefill`` or ``decode`` NVTX range.

    The phase comes from the query length of the call (``input_ids`` or ``inputs_embeds``):
    more than one token per sequence is prefill, one is decode (a generate-style loop);
    ``classify(length)`` can decide instead. The range is pushed before any other hook of the
    model, so it encloses :func:`annotate`'s ranges.
    """
    decide = classify or phase_for

    def pre(_mod: Any, args: Any, kwargs: dict[str, Any]) -> None:
        length = _query_length(args, kwargs)
        _push(decide(length) if length is not None else "other", domain)

    def post(_mod: Any, _args: Any, _kwargs: Any, _out: Any) -> None:
        _pop(domain)

    handles = [model.register_forward_pre_hook(pre, with_kwargs=True, prepend=True)]
    try:
        handles.append(model.register_forward_hook(post, with_kwargs=True, always_call=True))
    except TypeError:
        handles.append(model.register_forward_hook(post, with_kwargs=True))
    return Annotation(handles, [type(model).__name__])
