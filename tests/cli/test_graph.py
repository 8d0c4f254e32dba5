"""``bassline graph``: DOT text, and SVG/PNG through Graphviz (or a clear error without it)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from bassline.cli.dot import quote

from .conftest import EXAMPLES, Cli, cli_env

NESTED = {
    "format": "bassline/1",
    "id": "nested",
    "groups": [
        {"id": "outer", "name": "Outer box"},
        {"id": "inner", "parent": "outer"},
        {"id": "adder", "parent": "outer", "gadget": "add"},
    ],
    "contacts": [
        {"id": "x", "content": 1},
        {"id": "y", "lattice": "grow-set", "content": ["a"]},
        {"id": "o", "group": "outer", "boundary": "both"},
        {"id": "i", "group": "inner", "boundary": "input"},
        {"id": "adder.a", "group": "adder", "name": "a", "boundary": "input"},
        {"id": "adder.b", "group": "adder", "name": "b", "boundary": "input"},
        {"id": "adder.sum", "group": "adder", "name": "sum", "boundary": "output"},
    ],
    "wires": [
        {"from": "x", "to": "y", "type": "bidirectional"},
        {"from": "x", "to": "o", "type": "directed"},
        {"from": "o", "to": "i"},
        {"from": "o", "to": "adder.a", "type": "directed"},
    ],
}


def _spec(tmp_path: Path, data: dict[str, object] = NESTED) -> Path:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data))
    return path


def test_dot_shows_clusters_gadgets_and_both_kinds_of_wire(cli: Cli, tmp_path: Path) -> None:
    done = cli("graph", str(_spec(tmp_path)))
    assert done.returncode == 0, done.stderr
    dot = done.stdout
    assert dot.startswith('digraph "nested" {')
    assert 'subgraph "cluster_outer"' in dot and 'label="Outer box\\nouter"' in dot
    outer, inner = dot.index('subgraph "cluster_outer"'), dot.index('subgraph "cluster_inner"')
    assert outer < inner < dot.index("}", inner)  # inner is nested inside outer
    assert 'label="adder\\ngadget: add"' in dot
    assert '"adder.sum" [label="sum", shape=ellipse]' in dot
    assert '"x" [label="x\\n= 1"' in dot
    assert '"y" [label="y\\nmerge: grow-set\\n= grow-set{\\"a\\"}"' in dot
    assert '"x" -> "y" [dir=both' in dot  # bidirectional
    assert '"x" -> "o";' in dot  # directed
    assert '"o" -> "i" [dir=both' in dot  # bidirectional is the default wire type


def test_dot_file_output_and_unknown_format(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "calc.dot"
    done = cli("graph", str(EXAMPLES / "calculator.json"), "-o", str(target))
    assert done.returncode == 0, done.stderr
    text = target.read_text()
    assert 'label="Calculator (v1)"' in text and '"add-sum" -> "result";' in text
    bad = cli("graph", str(EXAMPLES / "calculator.json"), "-o", str(tmp_path / "x.jpg"))
    assert bad.returncode == 1
    assert "unknown format '.jpg'" in bad.stderr and ".svg" in bad.stderr
    missing = cli("graph", str(tmp_path / "nope.json"))
    assert missing.returncode == 1 and "file not found" in missing.stderr


def test_svg_needs_dot_and_says_how_to_install_it(cli: Cli, tmp_path: Path) -> None:
    spec = str(EXAMPLES / "calculator.json")
    svg = tmp_path / "calc.svg"
    no_dot = cli("graph", spec, "-o", str(svg), env=cli_env(PATH=str(tmp_path)))
    assert no_dot.returncode == 1
    assert "needs Graphviz's `dot` program, which is not installed" in no_dot.stderr
    assert "apt-get install graphviz" in no_dot.stderr and "-o FILE.dot" in no_dot.stderr
    assert len(no_dot.stderr.strip().splitlines()) == 1
    assert not svg.exists()
    if shutil.which("dot") is None:
        return  # the error above is what a machine without Graphviz gets
    done = cli("graph", spec, "-o", str(svg))
    assert done.returncode == 0, done.stderr
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert "<title>calculator</title>" in text and "gadget: add" in text
    png = tmp_path / "calc.png"
    assert cli("graph", spec, "-o", str(png)).returncode == 0
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_awkward_ids_are_quoted_so_dot_parses_them(cli: Cli, tmp_path: Path) -> None:
    odd = 'say "hi" \\ bye'
    assert quote(odd) == '"say \\"hi\\" \\\\ bye"'
    assert quote("two\nlines") == '"two lines"'
    spec = _spec(
        tmp_path,
        {"id": "odd", "contacts": [{"id": odd}, {"id": "b"}], "wires": [{"from": odd, "to": "b"}]},
    )
    dot = cli("graph", str(spec)).stdout
    assert f'{quote(odd)} -> "b" [dir=both' in dot
    if shutil.which("dot") is None:
        return
    canon = subprocess.run(
        ["dot", "-Tcanon"], input=dot, capture_output=True, text=True, check=True
    )
    assert 'say \\"hi\\"' in canon.stdout


def test_ids_that_differ_in_a_unicode_line_separator_stay_two_nodes(
    cli: Cli, tmp_path: Path
) -> None:
    """Ids may hold U+2028, U+2029 and U+0085 (only C0 controls and DEL are refused):
    they became spaces, so "a\u2028b" and "a b" were drawn as one node with a loop."""
    ids = ["a b", "a\u2028b", "a\u2029b", "a\x85b"]
    spec = _spec(
        tmp_path,
        {
            "id": "t",
            "contacts": [{"id": i} for i in ids],
            "wires": [{"from": "a b", "to": i, "type": "directed"} for i in ids[1:]],
        },
    )
    done = cli("graph", str(spec))
    assert done.returncode == 0, done.stderr
    nodes = [
        line.split(" [label=")[0].strip()
        for line in done.stdout.split("\n")  # not splitlines(): it breaks at U+2028 too
        if "[label=" in line and "shape=" in line
    ]
    assert sorted(nodes) == sorted(f'"{i}"' for i in ids)  # four nodes, one each
    for i in ids[1:]:
        assert f'"a b" -> "{i}";' in done.stdout


def test_each_instance_of_a_part_is_a_cluster_labelled_with_its_part(
    cli: Cli, tmp_path: Path
) -> None:
    data = json.loads((EXAMPLES / "rooms.json").read_text())
    data["parts"]["pair"] = {
        "ports": [{"id": "c"}],
        "groups": [{"id": "notes"}],
        "contacts": [{"id": "memo", "group": "notes"}],
        "uses": [{"id": "one", "part": "c-to-f", "ports": {"celsius": "c", "fahrenheit": None}}],
    }
    data["contacts"].append({"id": "shed-c"})
    data["uses"].append(
        {"id": "shed", "name": "Garden shed", "part": "pair", "ports": {"c": "shed-c"}}
    )
    done = cli("graph", str(_spec(tmp_path, data)))
    assert done.returncode == 0, done.stderr
    dot = done.stdout
    kitchen = dot.index('subgraph "cluster_kitchen" {')
    assert dot[kitchen:].splitlines()[1].strip() == (
        'graph [label="kitchen\\npart: c-to-f", style="rounded,dashed", color="#b5794a"];'
    )
    gadget = dot.index('subgraph "cluster_kitchen/c-times"')
    assert kitchen < gadget < dot.index('subgraph "cluster_shed"')  # the gadget is inside
    assert 'label="c-times\\ngadget: multiply"' in dot
    # inside an instance, contacts show their names in the part
    assert '"kitchen/ratio" [label="ratio\\n= 1.8", shape=box' in dot
    assert '"kitchen/celsius" [label="celsius", shape=ellipse]' in dot
    assert '"kitchen-c" -> "kitchen/celsius" [dir=both' in dot
    # an instance inside an instance is a cluster inside its cluster; a name is shown too
    assert 'label="Garden shed\\nshed\\npart: pair"' in dot
    shed, inner = dot.index('"cluster_shed" {'), dot.index('"cluster_shed/one" {')
    assert shed < inner and 'label="shed/one\\npart: c-to-f"' in dot
    assert '"shed/one/offset" [label="offset\\n= 32"' in dot
    assert '"shed/memo" [label="memo", shape=box' in dot  # in a plain group in an instance
