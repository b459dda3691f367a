"""Every error the cloud shows a user is built bilingual ("한국어 / English"): a static scan,
so a new English-only `raise NotFoundError("...")` fails CI."""

import ast
from pathlib import Path

import pytest

from cloud.errors import both, is_bilingual

ROOT = Path(__file__).resolve().parents[2] / "cloud"

# The errors the API maps to a status (cloud/api/app.py), and those whose text it passes on.
CHECKED = frozenset(
    {
        "AuthError",
        "ForbiddenError",
        "NotFoundError",
        "ConflictError",
        "InvalidInputError",
        "RateLimitedError",
        "ConsentRequiredError",
        "AlertNotFoundError",
        "AlertStateError",
        "DeidError",
        "KAnonymityError",
        "BlockedAddressError",
    }
)
_BUILDERS = frozenset({"both", "_msg"})


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _has_hangul(node: ast.expr) -> bool:
    """Korean text in the source, or the app's catalogue asked for Korean: message("ko", key)."""
    if isinstance(node, ast.Call) and node.args:
        first = node.args[0]
        if (
            _name(node.func) == "message"
            and isinstance(first, ast.Constant)
            and first.value == "ko"
        ):
            return True
    return any(
        isinstance(n, ast.Constant) and isinstance(n.value, str) and is_bilingual(n.value + " ab")
        for n in ast.walk(node)
    )


def _is_built(node: ast.expr) -> bool:
    """`both("ko", "en")`: the Korean argument has Hangul, the English one has none."""
    if not (isinstance(node, ast.Call) and _name(node.func) in _BUILDERS):
        return False
    if len(node.args) != 2:
        return False
    return _has_hangul(node.args[0]) and not _has_hangul(node.args[1])


class _Scan(ast.NodeVisitor):
    def __init__(self, tree: ast.Module) -> None:
        self.bound: dict[str, ast.expr] = {}  # name -> the value assigned to it (any scope)
        self.builders: set[str] = set()  # local functions whose every return is built
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.bound[target.id] = node.value
            if isinstance(node, ast.FunctionDef):
                returns = [r.value for r in ast.walk(node) if isinstance(r, ast.Return)]
                if returns and all(v is not None and _is_built(v) for v in returns):
                    self.builders.add(node.name)
        self.caught: list[str] = []  # names bound by `except <CHECKED> as e` around here
        self.copies: set[str] = set()  # `text = str(e)` inside such a handler
        self.bad: list[int] = []

    def _ok(self, arg: ast.expr) -> bool:
        if _is_built(arg):
            return True
        if isinstance(arg, ast.Name) and arg.id in self.bound:
            value = self.bound[arg.id]
            return _is_built(value) or arg.id in self.copies
        if isinstance(arg, ast.Call) and _name(arg.func) in self.builders:
            return True
        if isinstance(arg, ast.Call) and _name(arg.func) == "str" and len(arg.args) == 1:
            inner = arg.args[0]  # str(e) of an error that is itself checked
            return isinstance(inner, ast.Name) and inner.id in self.caught
        if isinstance(arg, ast.Call) and _name(arg.func) == "at_field" and len(arg.args) == 2:
            return self._ok(arg.args[1])
        return False

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        checked = node.name is not None and all(
            t is not None and _name(t) in CHECKED for t in types
        )
        if checked:
            assert node.name is not None
            self.caught.append(node.name)
            for statement in node.body:
                if isinstance(statement, ast.Assign) and self._ok(statement.value):
                    self.copies.update(t.id for t in statement.targets if isinstance(t, ast.Name))
        self.generic_visit(node)
        if checked:
            self.caught.pop()

    def visit_Call(self, node: ast.Call) -> None:
        if _name(node.func) in CHECKED and not (node.args and self._ok(node.args[0])):
            self.bad.append(node.lineno)
        self.generic_visit(node)


def _unbuilt(path: Path) -> list[int]:
    scan = _Scan(ast.parse(path.read_text(encoding="utf-8")))
    scan.visit(ast.parse(path.read_text(encoding="utf-8")))
    return scan.bad


def test_every_user_facing_cloud_error_is_built_bilingual() -> None:
    bad = [
        f"{path.relative_to(ROOT.parent)}:{line}"
        for path in sorted(ROOT.rglob("*.py"))
        for line in _unbuilt(path)
    ]
    assert bad == [], "use cloud.errors.both(ko, en) for these messages:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "source",
    [
        'raise NotFoundError("no such thing")',
        'raise NotFoundError(f"no senior {x!r}")',
        'raise ConflictError(both("no Korean here", "nor here"))',
        'raise AuthError(both("세션이 끝났습니다", "세션"))',
        "raise InvalidInputError(str(e))",
        "raise ForbiddenError()",
    ],
)
def test_scan_refuses_an_english_only_message(source: str, tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(source + "\n", encoding="utf-8")
    assert _unbuilt(path) == [1]


@pytest.mark.parametrize(
    "source",
    [
        'raise NotFoundError(both(f"어르신이 없습니다: {x!r}", f"no senior {x!r}"))',
        'M = both("없습니다", "missing")\nraise NotFoundError(M)',
        "try:\n    f()\nexcept DeidError as e:\n    raise InvalidInputError(str(e))",
        "try:\n    f()\nexcept BlockedAddressError as e:\n"
        '    raise InvalidInputError(at_field("body.target", str(e)))',
        "try:\n    f()\nexcept KAnonymityError as e:\n    why = str(e)\nraise ConflictError(why)",
        'def _no(x):\n    return NotFoundError(both(f"{x} 없음", f"no {x}"))\nraise _no(1)',
    ],
)
def test_scan_accepts_a_built_message(source: str, tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(source + "\n", encoding="utf-8")
    assert _unbuilt(path) == []


def test_both_keeps_the_field_path_first() -> None:
    message = both("필수 항목입니다", "field required", at="body.target")
    assert message == "body.target: 필수 항목입니다 / field required"
    assert is_bilingual(message)
