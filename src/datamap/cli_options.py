"""Command-line options generated from a command's options model (:mod:`datamap.stages.options`).

:func:`with_options` replaces a command's ``opts`` parameter with one typer option per field of the
model: the flag, default, type, choices and help come from the model, so they are written once. The
command then receives ``opts``, the validated model (a bad value is a one-line error naming its flag).
"""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Any, Callable, List, Optional, Union

import typer

__all__ = ["with_options", "typer_option"]


def _cli_type(annotation: Any) -> Any:
    """The annotation typer is given: ``list[X]`` as ``List[X]``, ``X | None`` as ``Optional[X]``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (list, List):
        return List[_cli_type(args[0])] if args else List[str]
    if origin is Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(rest) < len(args):
            return Optional[_cli_type(rest[0])]
    return annotation


def typer_option(model: type, name: str) -> Any:
    """The ``typer.Option`` of field ``name`` of ``model``: its flag, default and help."""
    field = model.model_fields[name]
    default = ... if field.is_required() else model.default(name)  # a required option stays required
    flag = model.flag(name)
    if field.annotation is bool and default is True:
        flag = f"{flag}/--no-{flag[2:]}"
    if isinstance(default, Path) or default is None or isinstance(default, (list, tuple)):
        default = None if default in (None, [], ()) else default
    return typer.Option(default, flag, help=field.description or None, show_default=default is not None)


def with_options(model: type) -> Callable:
    """Decorate a command whose ``opts`` parameter takes ``model``: the CLI shows one flag per CLI field.

    The command keeps its other parameters (the run argument, ``--json``, ``--overwrite``) and is called
    with ``opts=model.from_cli(...)``.
    """

    def decorate(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        hints = typing.get_type_hints(fn)
        params: list[inspect.Parameter] = []
        names = model.cli_fields()
        after_opts = False
        for p in sig.parameters.values():
            if p.name == "opts":
                after_opts = True
                for name in names:
                    annotation = _cli_type(model.model_fields[name].annotation)
                    params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                                                    default=typer_option(model, name), annotation=annotation))
                continue
            kind = inspect.Parameter.KEYWORD_ONLY if after_opts else p.kind
            params.append(p.replace(kind=kind, annotation=hints.get(p.name, p.annotation)))
        if not after_opts:
            raise TypeError(f"{fn.__name__} has no opts parameter")

        def command(*args: Any, **kwargs: Any) -> Any:
            given = {n: kwargs.pop(n) for n in names if n in kwargs}
            given = {n: v for n, v in given.items() if not (v is None and model.default(n) == [])}
            return fn(*args, opts=model.from_cli(**given), **kwargs)

        command.__name__, command.__qualname__, command.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
        command.__module__ = fn.__module__
        command.__signature__ = sig.replace(parameters=params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__options__ = model
        command.__wrapped_command__ = fn
        return command

    return decorate
