"""Immutable data records: validated by pydantic when built, plain objects when read back.

The catalog and the device table are read far more often than they are built: every
command reads them from a compiled snapshot, and only building that snapshot (or a
record made in code: an architecture from a ``config.json``) needs validation.  So a
record class is a plain frozen dataclass, and importing it costs nothing; its schema
(a pydantic model with the same fields, constraints and checks) is generated the first
time something is validated, so pydantic is imported only by code that validates.

A record class declares, once:

* its fields, as dataclass annotations; constraints go in ``Annotated[..., Field(...)]``
  and URLs are typed :data:`Url` (a checked ``http(s)`` URL, kept as its normalised
  string).  The annotations are strings (``from __future__ import annotations``) that
  only the schema evaluates, so the module imports pydantic under ``TYPE_CHECKING`` only;
* field checks, as functions marked :func:`field_check` (pydantic ``field_validator``);
* whole-record checks, as methods marked :func:`record_check` (``model_validator(mode=
  "after")``), run on the validated record, properties and all.

Building one, ``Record(**fields)`` or ``Record.model_validate(obj)``, raises pydantic's
``ValidationError`` exactly as a ``BaseModel`` with ``extra="forbid"`` would (the same
error types, locations and messages).  ``model_dump`` and ``model_copy`` behave as
pydantic's do for the options this project uses.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import operator
import sys
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

if TYPE_CHECKING:
    from pydantic import BaseModel

R = TypeVar("R", bound="Record")
V = TypeVar("V", bound="Value")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

Url = str
"""A checked http(s) URL as its normalised string (what ``str(HttpUrl(...))`` gives)."""


def record(cls: type[R]) -> type[R]:
    """Make ``cls`` a record: a dataclass (its fields), frozen, compared and hashed by value
    and printed as dataclasses are, by :class:`Record` itself (a frozen dataclass's generated
    methods cost 1 ms a class to build at every start)."""
    return _fields_only(cls)


@typing.dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def value(cls: type[V]) -> type[V]:
    """Make ``cls`` (a :class:`Value`) a frozen dataclass whose methods are :class:`Value`'s;
    type checkers see the ``__init__`` a dataclass would have."""
    # its own first-use __init__: one inherited from a Value parent compiled for its fields
    type.__setattr__(cls, "__init__", Value.__init__)
    return _fields_only(cls)


def _fields_only(cls: type[T]) -> type[T]:
    """``cls`` as a dataclass for its fields only (``fields``, ``asdict``, ``replace``): no
    generated methods, the base class provides them."""
    return dataclasses.dataclass(init=False, repr=False, eq=False)(cls)


def field_check(*names: str) -> Callable[[F], F]:
    """Mark a function ``(value) -> value`` (raising ValueError) as a check of ``names``."""

    def mark(fn: F) -> F:
        fn.__field_check__ = names  # type: ignore[attr-defined]
        return fn

    return mark


def record_check(fn: F) -> F:
    """Mark a method ``(self) -> None`` (raising ValueError) as a whole-record check."""
    fn.__record_check__ = True  # type: ignore[attr-defined]
    return fn


class Frozen:
    """Frozen, compared and hashed by value over its fields, printed as a dataclass is: what
    ``@dataclass(frozen=True)`` generates, written once here for every such class.

    The hash is computed once per instance (an architecture has some 60 fields, and the
    sizing memos hash their arguments on every call) and kept in a slot, outside the
    fields' ``__dict__``; pickling carries only the fields, since hashes of strings differ
    from one process to the next."""

    __slots__ = ("_hash",)

    def _values(self) -> tuple[Any, ...]:
        return _values_of(type(self))(self.__dict__)

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == typing.cast(Frozen, other)._values()
        return NotImplemented

    def __hash__(self) -> int:
        try:
            return self._hash  # type: ignore[no-any-return]
        except AttributeError:
            h = hash(self._values())
            object.__setattr__(self, "_hash", h)
            return h

    def __repr__(self) -> str:
        names = _field_names(type(self))
        fields = ", ".join(f"{n}={v!r}" for n, v in zip(names, self._values(), strict=True))
        return f"{type(self).__qualname__}({fields})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


class Value(Frozen):
    """Base of the frozen values computed in code (a memory estimate, a quantization format):
    with :func:`value` it behaves as ``@dataclass(frozen=True)`` (positional or keyword
    arguments, defaults and default factories, ``__post_init__``, ``dataclasses.replace`` and
    ``asdict``).  A dataclass compiles six methods per class at import, about a millisecond
    a class at every start of a short command; here ``__eq__``, ``__hash__``, ``__repr__``
    and the frozen ``__setattr__`` are shared, and ``__init__`` is compiled for a class the
    first time one is made (a class no command instantiates costs nothing)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        init = _compile_init(cls)
        type.__setattr__(cls, "__init__", init)  # later instances go straight to it
        init(self, *args, **kwargs)


def _compile_init(cls: type) -> Callable[..., None]:
    """The ``__init__`` a frozen dataclass would have: the same parameters (so the same
    TypeErrors for missing, extra or repeated arguments), each value stored directly in the
    instance's ``__dict__``, a fresh default from each factory, then ``__post_init__``."""
    params, body = [], ["    _values_ = self.__dict__"]
    scope: dict[str, Any] = {"_FACTORY": _FACTORY}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            scope[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
            body.append(f"    _values_[{f.name!r}] = {f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            scope[f"_factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}=_FACTORY")
            body.append(
                f"    _values_[{f.name!r}] = _factory_{f.name}() if {f.name} is _FACTORY else {f.name}"
            )
        else:
            params.append(f.name)
            body.append(f"    _values_[{f.name!r}] = {f.name}")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body) + "\n"
    exec(compile(source, f"<{cls.__module__}.{cls.__qualname__}.__init__>", "exec"), scope)
    init = typing.cast(Callable[..., None], scope["__init__"])
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


_FACTORY = object()


class Record(Frozen):
    """Base of the record classes (see the module docstring)."""

    COMPUTED: ClassVar[tuple[str, ...]] = ()
    """Properties that ``model_dump`` includes, after the fields (pydantic's computed fields)."""

    def __init__(self, **data: Any) -> None:
        built = type(self).model_validate(data)
        self.__dict__.update(built.__dict__)

    @classmethod
    def model_validate(cls: type[R], obj: Any) -> R:
        """``obj`` (a mapping, as parsed from YAML) checked against the schema, as a record."""
        if isinstance(obj, cls):
            return obj
        return typing.cast(R, _to_record(schema(cls).model_validate(_as_input(obj))))

    def model_copy(self: R, *, update: Mapping[str, Any] | None = None) -> R:
        """A copy with ``update`` applied, not validated again (as pydantic's ``model_copy``)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        if update:
            new.__dict__.update(update)
        return new

    def model_dump(
        self,
        *,
        mode: Literal["python", "json"] = "python",
        exclude_none: bool = False,
        exclude_defaults: bool = False,
    ) -> dict[str, Any]:
        """The fields (and :attr:`COMPUTED` properties) as a dict, nested records as dicts;
        ``mode="json"`` turns dates into ISO strings and tuples into lists."""
        cls = type(self)
        items = zip(_field_names(cls), _values_of(cls)(self.__dict__), strict=True)
        out = {k: v for k, v in items if v is not None} if exclude_none else dict(items)
        if exclude_defaults:
            defaults = _defaults(cls)
            out = {k: v for k, v in out.items() if k not in defaults or v != defaults[k]}
        for name, value in out.items():
            if type(value) not in _SCALARS:  # nested records, lists, dicts, dates
                out[name] = _dump(value, mode, exclude_none, exclude_defaults)
        for name in self.COMPUTED:
            value = getattr(self, name)
            if not (exclude_none and value is None):
                out[name] = _dump(value, mode, exclude_none, exclude_defaults)
        return out


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _as_input(value: Any) -> Any:
    """``value`` with the records inside it as dicts (validated again, as a pydantic model
    validates a nested model given as an instance of it)."""
    if isinstance(value, Record):
        return {k: _as_input(v) for k, v in value.__dict__.items()}
    if isinstance(value, list):
        return [_as_input(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_input(v) for k, v in value.items()}
    return value


def _dump(value: Any, mode: str, exclude_none: bool, exclude_defaults: bool) -> Any:
    if isinstance(value, Record):
        return value.model_dump(
            mode=typing.cast(Any, mode),
            exclude_none=exclude_none,
            exclude_defaults=exclude_defaults,
        )
    if isinstance(value, list | tuple):
        items = [_dump(v, mode, exclude_none, exclude_defaults) for v in value]
        return items if mode == "json" or isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {k: _dump(v, mode, exclude_none, exclude_defaults) for k, v in value.items()}
    if mode == "json" and isinstance(value, dt.date):
        return value.isoformat()
    return value


@functools.cache
def _field_names(cls: type[Frozen]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(typing.cast(Any, cls)))


@functools.cache
def _values_of(cls: type[Frozen]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The field values in order, from an instance's ``__dict__`` (in C: hashing an
    architecture is what the sizing memos do most)."""
    names = _field_names(cls)
    if len(names) == 1:
        return lambda values: (values[names[0]],)
    return typing.cast(Callable[[dict[str, Any]], tuple[Any, ...]], operator.itemgetter(*names))


@functools.cache
def _defaults(cls: type[Record]) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(typing.cast(Any, cls)):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


# -- the schema: generated on first validation ---------------------------------------------

_RECORD_OF: dict[type, type[Record]] = {}
"""Generated pydantic model -> the record class it validates."""


def _to_record(value: Any) -> Any:
    """A validated pydantic model (and what it holds) as records, without validating again."""
    rec_cls = _RECORD_OF.get(type(value))
    if rec_cls is not None:
        rec = object.__new__(rec_cls)
        rec.__dict__.update(
            (name, _to_record(getattr(value, name))) for name in _field_names(rec_cls)
        )
        return rec
    if isinstance(value, list):
        return [_to_record(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_record(v) for k, v in value.items()}
    return value


class _Names(Mapping[str, Any]):
    """What a record module's annotations may name: pydantic's constraint and URL types,
    and the other record classes (as their generated schemas, built when first named)."""

    def __init__(self, module: dict[str, Any]) -> None:
        from pydantic import AfterValidator, Field, HttpUrl, PlainSerializer

        self.module = module
        # a checked URL kept as its normalised string (and dumped as one)
        url = typing.Annotated[HttpUrl, AfterValidator(str), PlainSerializer(str, return_type=str)]
        self.extra = {"Field": Field, "Url": url}

    def __getitem__(self, key: str) -> Any:
        if key in self.extra:
            return self.extra[key]
        value = self.module[key]
        if isinstance(value, type) and issubclass(value, Record) and value is not Record:
            return schema(value)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter({**self.module, **self.extra})

    def __len__(self) -> int:
        return len({**self.module, **self.extra})


@functools.cache
def schema(cls: type[Record]) -> type[BaseModel]:
    """The pydantic model that validates ``cls``: same fields, defaults, constraints, checks."""
    from pydantic import ConfigDict, Field, create_model, field_validator, model_validator

    module = sys.modules[cls.__module__]
    names = _Names(vars(module))
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(typing.cast(Any, cls)):
        annotation = f.type
        if isinstance(annotation, str):
            annotation = eval(annotation, {"__builtins__": __builtins__}, names)
        if f.default is not dataclasses.MISSING:
            fields[f.name] = (annotation, f.default)
        elif f.default_factory is not dataclasses.MISSING:
            fields[f.name] = (annotation, Field(default_factory=f.default_factory))
        else:
            fields[f.name] = (annotation, ...)
    validators: dict[str, Any] = {}
    for attr in dir(cls):
        fn = inspect_attr(cls, attr)
        if getattr(fn, "__field_check__", None):
            validators[attr] = field_validator(*fn.__field_check__)(
                _as_field_check(fn)  # type: ignore[arg-type]
            )
        elif getattr(fn, "__record_check__", False):
            validators[attr] = model_validator(mode="after")(_as_record_check(fn))  # type: ignore[arg-type]
    model = create_model(  # type: ignore[call-overload]
        cls.__name__,
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__=cls.__doc__,
        __module__=cls.__module__,
        __validators__=validators,
        **fields,
    )
    _RECORD_OF[model] = cls
    return typing.cast("type[BaseModel]", model)


def inspect_attr(cls: type, name: str) -> Any:
    """The function behind a class attribute (unwrapping staticmethod/classmethod)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            value = vars(klass)[name]
            return getattr(value, "__func__", value)
    return None


def _as_field_check(fn: Callable[[Any], Any]) -> Any:
    def check(cls: type, value: Any) -> Any:
        return fn(value)

    return classmethod(check)


def _as_record_check(fn: Callable[[Any], None]) -> Callable[[Any], Any]:
    def check(self: Any) -> Any:
        fn(_to_record(self))
        return self

    return check
