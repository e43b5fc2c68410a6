"""Search spaces: Azure ML's sweep expressions over a notebook's parameters.

Each parameter of a sweep gets one expression, written as in Azure ML's job YAML
(``{type: uniform, min_value: 0.01, max_value: 0.9}``) or as a short call
(``uniform(0.01, 0.9)``, ``choice(16, 32, 64)``), with Azure's semantics:

- ``choice(values)``; ``randint(upper)``: an integer in [0, upper);
- ``uniform(min, max)``; ``loguniform(min, max)``: exp(U(min, max)), so the bounds are logs;
- ``normal(mu, sigma)``; ``lognormal(mu, sigma)``: exp(N(mu, sigma));
- ``q``-variants (``quniform``, ``qloguniform``, ``qnormal``, ``qlognormal``): round(x / q) * q.

A draw is made from uniforms in [0, 1) (one per parameter), so random, Sobol and any other
sequence of points share one mapping, and a trial's values are a pure function of its point.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from statistics import NormalDist
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlbench.errors import InvalidInputError
from mlbench.validation import FiniteFloat

Kind = Literal[
    "choice",
    "randint",
    "uniform",
    "loguniform",
    "normal",
    "lognormal",
    "quniform",
    "qloguniform",
    "qnormal",
    "qlognormal",
]
# Arguments of the short call form, in order (Azure's names).
_ARGS: dict[str, tuple[str, ...]] = {
    "randint": ("upper",),
    "uniform": ("min_value", "max_value"),
    "loguniform": ("min_value", "max_value"),
    "normal": ("mu", "sigma"),
    "lognormal": ("mu", "sigma"),
    "quniform": ("min_value", "max_value", "q"),
    "qloguniform": ("min_value", "max_value", "q"),
    "qnormal": ("mu", "sigma", "q"),
    "qlognormal": ("mu", "sigma", "q"),
}
MAX_CHOICES = 10_000
_UNIT = NormalDist()


class Expression(BaseModel):
    """How one parameter is sampled."""

    model_config = ConfigDict(extra="forbid")

    type: Kind
    values: list[Any] | None = Field(None, description="choice: the values to pick from.")
    upper: int | None = Field(None, ge=1, description="randint: integers in [0, upper).")
    min_value: FiniteFloat | None = None
    max_value: FiniteFloat | None = None
    mu: FiniteFloat | None = None
    sigma: FiniteFloat | None = Field(None, gt=0)
    q: FiniteFloat | None = Field(None, gt=0, description="q-variants: round(x / q) * q.")

    @model_validator(mode="after")
    def _complete(self) -> Expression:
        needed = ("values",) if self.type == "choice" else _ARGS[self.type]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{self.type} needs {', '.join(missing)}")
        allowed = set(needed) | {"type"}
        extra = [k for k in self.model_fields_set - allowed if getattr(self, k) is not None]
        if extra:
            raise ValueError(f"{self.type} takes {', '.join(needed)}, not {', '.join(extra)}")
        if self.type == "choice":
            if not self.values or len(self.values) > MAX_CHOICES:
                raise ValueError(f"choice needs between 1 and {MAX_CHOICES} values")
        elif (
            self.min_value is not None
            and self.max_value is not None
            and not self.min_value < self.max_value
        ):
            raise ValueError(f"{self.type}: min_value must be below max_value")
        return self

    # -- sampling ------------------------------------------------------------------------------
    @property
    def is_discrete(self) -> bool:
        return self.type in ("choice", "randint")

    @property
    def is_integer(self) -> bool:
        """Every value it can take is an integer (so it may feed an ``int`` parameter)."""
        if self.type == "randint":
            return True
        if self.type == "choice":
            return all(isinstance(v, int) and not isinstance(v, bool) for v in self.values or [])
        return self.q is not None and float(self.q).is_integer() and self.type in ("quniform",)

    def grid(self) -> list[Any]:
        """Every value, for grid sampling (choice and randint only)."""
        if self.type == "choice":
            return list(self.values or [])
        if self.type == "randint":
            return list(range(self.upper or 0))
        raise InvalidInputError(
            f"grid sampling cannot enumerate {self.type}: it is continuous",
            hint="use choice(...) for grid sampling, or random/bayesian sampling",
        )

    def at(self, u: float) -> Any:
        """The value at point ``u`` in [0, 1) (a uniform draw mapped through this expression)."""
        u = min(max(u, 0.0), math.nextafter(1.0, 0.0))
        kind = self.type
        if kind == "choice":
            values = self.values or []
            return values[min(int(u * len(values)), len(values) - 1)]
        if kind == "randint":
            return min(int(u * (self.upper or 1)), (self.upper or 1) - 1)
        if kind in ("uniform", "quniform", "loguniform", "qloguniform"):
            lo, hi = float(self.min_value or 0.0), float(self.max_value or 0.0)
            x = lo + u * (hi - lo)
        else:
            z = _UNIT.inv_cdf(min(max(u, 1e-12), 1 - 1e-12))
            x = float(self.mu or 0.0) + float(self.sigma or 1.0) * z
        if kind in ("loguniform", "qloguniform", "lognormal", "qlognormal"):
            x = math.exp(min(x, 700.0))
        if self.q is not None:
            x = round(x / self.q) * self.q
            if float(self.q).is_integer():
                x = float(round(x))
        return x

    def describe(self) -> str:
        if self.type == "choice":
            return f"choice({', '.join(repr(v) for v in self.values or [])})"
        args = ", ".join(f"{getattr(self, n):g}" for n in _ARGS[self.type])
        return f"{self.type}({args})"


SearchSpace = dict[str, Expression]


def parse_expression(raw: Any, name: str) -> Expression:
    """One parameter's expression from YAML/JSON (a mapping), a call string or an Expression."""
    if isinstance(raw, Expression):
        return raw
    try:
        if isinstance(raw, str):
            return _parse_call(raw)
        if isinstance(raw, Mapping):
            body = dict(raw)
            if isinstance(body.get("type"), str):
                body["type"] = body["type"].lower()
            return Expression.model_validate(body)
        if isinstance(raw, list):  # a plain list is a choice
            return Expression(type="choice", values=list(raw))
    except (ValueError, SyntaxError) as exc:
        message = str(exc)
        if isinstance(exc, ValidationError):
            message = "; ".join(
                str(e["msg"]).removeprefix("Value error, ")
                + (f" ({'.'.join(map(str, e['loc']))})" if e["loc"] else "")
                for e in exc.errors()
            )
        raise InvalidInputError(
            f"search space: parameter {name!r}: {message}",
            hint="write e.g. uniform(0.01, 0.9), loguniform(-6, -1), choice(16, 32) or "
            "{type: randint, upper: 10}",
        ) from None
    raise InvalidInputError(
        f"search space: parameter {name!r} has no expression (got {type(raw).__name__})",
        hint="write e.g. uniform(0.01, 0.9) or choice(16, 32)",
    )


def _parse_call(text: str) -> Expression:
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise ValueError(f"cannot read {text!r}") from None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ValueError(f"cannot read {text!r}: expected a call such as uniform(0, 1)")
    kind = node.func.id.lower()
    args = [ast.literal_eval(a) for a in node.args]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
    if kind == "choice":
        values = args[0] if len(args) == 1 and isinstance(args[0], list | tuple) else args
        return Expression(type="choice", values=list(kwargs.get("values", values)))
    if kind not in _ARGS:
        raise ValueError(f"unknown expression {kind!r}; use one of choice, {', '.join(_ARGS)}")
    names = _ARGS[kind]
    if len(args) > len(names):
        raise ValueError(f"{kind} takes {len(names)} arguments ({', '.join(names)})")
    return Expression.model_validate(
        {"type": kind, **dict(zip(names, args, strict=False)), **kwargs}
    )


def parse_space(raw: Mapping[str, Any]) -> SearchSpace:
    if not raw:
        raise InvalidInputError(
            "the search space is empty", hint="give at least one parameter, e.g. lr=uniform(0, 1)"
        )
    return {str(name): parse_expression(expr, str(name)) for name, expr in raw.items()}


def grid_size(space: SearchSpace) -> int:
    return math.prod(len(e.grid()) for e in space.values())


def grid_point(space: SearchSpace, index: int) -> dict[str, Any]:
    """The ``index``-th combination (mixed radix, last parameter fastest)."""
    values: dict[str, Any] = {}
    for name in reversed(list(space)):
        options = space[name].grid()
        index, digit = divmod(index, len(options))
        values[name] = options[digit]
    return {name: values[name] for name in space}


def check_against_parameters(space: SearchSpace, declared: Mapping[str, Any]) -> None:
    """Every expression names a parameter of the notebook and yields values of its type."""
    for name, expr in space.items():
        param = declared.get(name)
        if param is None:
            known = ", ".join(declared) or "none"
            raise InvalidInputError(
                f"search space: the notebook has no parameter {name!r} (its parameters: {known})",
                hint="sweep over parameters of the notebook's 'parameters' cell",
            )
        kind = param.type
        if kind in ("any", "float"):
            if kind == "float" and expr.type == "choice":
                bad = [v for v in expr.values or [] if not _is_number(v)]
                if bad:
                    raise _type_error(name, kind, expr, bad[0])
            continue
        if kind == "int":
            if not expr.is_integer:
                raise InvalidInputError(
                    f"search space: parameter {name!r} is an int but {expr.describe()} gives "
                    "non-integer values",
                    hint="use randint(upper), choice of integers or quniform with an integer q",
                )
            continue
        if expr.type != "choice":
            raise InvalidInputError(
                f"search space: parameter {name!r} is a {kind}; {expr.type} gives numbers",
                hint=f"use choice(...) with {kind} values",
            )
        want = {"str": str, "bool": bool, "list": list, "dict": dict}.get(kind)
        bad = [v for v in expr.values or [] if want is not None and not isinstance(v, want)]
        if bad:
            raise _type_error(name, kind, expr, bad[0])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_error(name: str, kind: str, expr: Expression, value: Any) -> InvalidInputError:
    return InvalidInputError(
        f"search space: parameter {name!r} is a {kind} but {expr.describe()} has {value!r}",
        hint=f"give only {kind} values",
    )


def to_optuna(expr: Expression) -> Any:
    """The Optuna distribution TPE samples for an expression (Bayesian sampling)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if expr.type == "choice":
        return CategoricalDistribution(expr.values or [])
    if expr.type == "randint":
        return IntDistribution(0, (expr.upper or 1) - 1)
    lo, hi = float(expr.min_value or 0.0), float(expr.max_value or 0.0)
    if expr.type == "uniform":
        return FloatDistribution(lo, hi)
    if expr.type == "loguniform":
        return FloatDistribution(math.exp(lo), math.exp(hi), log=True)
    if expr.type == "quniform" and expr.q is not None:
        q = float(expr.q)
        low, high = math.ceil(lo / q) * q, math.floor(hi / q) * q
        if q.is_integer():
            return IntDistribution(int(low), int(high), step=int(q))
        return FloatDistribution(low, high, step=q)
    raise InvalidInputError(
        f"bayesian sampling does not support {expr.type}",
        hint="use choice, randint, uniform, loguniform or quniform, or random sampling",
    )


__all__ = [
    "Expression",
    "SearchSpace",
    "check_against_parameters",
    "grid_point",
    "grid_size",
    "parse_expression",
    "parse_space",
    "to_optuna",
]
