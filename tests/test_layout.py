"""The package keeps the shape docs/architecture.md describes."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "melodylib"
FACES = ("melodylib.course", "melodylib.cli")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 100


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The melodylib modules a file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("melodylib"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("melodylib"))
    return found


def is_face(name: str) -> bool:
    return any(name == face or name.startswith(face + ".") for face in FACES)


def test_no_import_cycle_and_the_library_never_imports_its_faces():
    known = modules()
    graph = {name: imports(path, known) & set(known) for name, path in known.items()}
    reaching_up = sorted(
        f"{name} imports {target}"
        for name, targets in graph.items()
        for target in targets
        if not is_face(name) and name != "melodylib.__main__" and is_face(target)
    )
    assert not reaching_up
    # A cycle shows as a module that can reach itself.
    for start in graph:
        seen, frontier = set(), list(graph[start])
        while frontier:
            current = frontier.pop()
            assert current != start, f"{start} imports itself through {sorted(seen)}"
            if current not in seen:
                seen.add(current)
                frontier.extend(graph[current])


def test_modules_and_functions_are_short_enough_to_read():
    too_long = []
    for name, path in modules().items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                docstring = isinstance(body[0], ast.Expr) and isinstance(
                    body[0].value, ast.Constant
                )
                first = body[1] if docstring and len(body) > 1 else body[0]
                length = node.end_lineno - first.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: a {length}-line body")
    assert not too_long
