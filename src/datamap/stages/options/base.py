"""The base of every command's options model (:class:`Options`) and its field helper (:func:`option`)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

__all__ = ["Options", "option"]


def option(default: Any = None, help: str = "", *, flag: str | None = None, cli: bool = True, yaml: bool = True,
           **constraints: Any) -> Any:
    """One option of a command: its default, its help and its range, written once.

    Parameters
    ----------
    default
        The default (``...`` for a required value); ``default_factory=`` may be given instead.
    help : str
        The ``--help`` text of the flag and the description in the YAML schema.
    flag : str, optional
        The command-line flag when it is not ``--`` + the name with dashes (``"--json"`` for ``as_json``).
    cli, yaml : bool
        Whether the option is a flag of the command, and a key of the YAML runner's section. An option
        that is not both says why in its help (the drift test lists them).
    **constraints
        pydantic's ``ge``, ``gt``, ``le``, ``lt``, ``min_length``, ``allow_inf_nan``, ``default_factory``.
    """
    extra = {"flag": flag, "cli": cli, "yaml": yaml}
    if "default_factory" in constraints:
        return Field(description=help, json_schema_extra=extra, **constraints)
    return Field(default, description=help, json_schema_extra=extra, **constraints)


class Options(BaseModel):
    """A command's options. Built from keyword arguments, validated (types, ranges, choices) when built.

    Unknown keywords are refused. :meth:`from_cli` names a bad value by its flag, :meth:`from_section`
    by its place in a YAML file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the command these are the options of (``datamap COMMAND``)
    command: ClassVar[str] = ""
    #: where the YAML runner takes these options (``cartography.metrics``), or ``""`` when it has no section
    section_path: ClassVar[str] = ""

    @classmethod
    def default(cls, name: str) -> Any:
        """The default of option ``name``: the one definition CLI, YAML and API read (``...``: required)."""
        field = cls.model_fields[name]
        return ... if field.is_required() else field.get_default(call_default_factory=True)

    @classmethod
    def _extra(cls, name: str) -> dict:
        field = cls.model_fields.get(name)
        return (field.json_schema_extra or {}) if field is not None else {}

    @classmethod
    def flag(cls, name: str) -> str:
        """The command-line flag of option ``name`` (``--burn-out`` for ``burn_out``)."""
        return cls._extra(name).get("flag") or "--" + name.replace("_", "-")

    @classmethod
    def cli_fields(cls) -> list[str]:
        """The options that are flags of the command, in definition order."""
        return [n for n in cls.model_fields if cls._extra(n).get("cli", True)]

    @classmethod
    def yaml_fields(cls) -> list[str]:
        """The options that are keys of the YAML runner's section, in definition order."""
        return [n for n in cls.model_fields if cls._extra(n).get("yaml", True)]

    @classmethod
    def from_cli(cls, **given: Any) -> "Options":
        """Build from command-line values; a bad one is a one-line error naming its flag."""
        from datamap.training.config import config_error

        try:
            return cls(**given)
        except ValidationError as exc:
            raise config_error(exc, lambda loc: cls.flag(str(loc[0])) if loc else f"datamap {cls.command}") from None

    @classmethod
    def section(cls, name: str, *, exclude: tuple[str, ...] = ()) -> type[BaseModel]:
        """The YAML runner's section of these options: the YAML fields (less ``exclude``), same defaults,
        ranges and validators, unknown keys refused."""
        keep = {n for n in cls.yaml_fields() if n not in exclude}
        fields = {n: (f.annotation, f) for n, f in cls.model_fields.items() if n in keep}
        validators = {}
        for key, dec in cls.__pydantic_decorators__.field_validators.items():
            on = [f for f in dec.info.fields if f in keep]
            if on:
                validators[key] = field_validator(*on, mode=dec.info.mode)(dec.func)
        model = create_model(name, __config__=ConfigDict(extra="forbid"), __doc__=cls.__doc__, __validators__=validators,
                             **fields)
        model.__options__ = cls
        return model

    def kwargs(self, *names: str) -> dict:
        """The values as keyword arguments (all options, or ``names``)."""
        names = names or tuple(type(self).model_fields)
        return {n: getattr(self, n) for n in names}
