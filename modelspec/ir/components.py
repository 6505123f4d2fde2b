"""Strongly connected components of a directed graph (iterative Tarjan).

Shared by the cycle check (`modelspec.ir.check`), the recurrent nodes of
`modelspec.ir.reach` and the import-graph report (`bench/import_graph.py`).
Iterative, so a chain of 100,000 nodes does not hit Python's recursion limit.
"""

from __future__ import annotations

from typing import Callable, Iterable


def strongly_connected(nodes: Iterable[str], successors: Callable[[str], Iterable[str]]) -> list[list[str]]:
    """Every strongly connected component, each listed once, in the order Tarjan finds them.

    ``successors(v)`` gives the nodes ``v`` points to; nodes it names that are not
    in ``nodes`` are visited too (they are part of the graph).
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def enter(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)

    for root in nodes:
        if root in index:
            continue
        enter(root)
        work = [(root, iter(successors(root)))]
        while work:
            node, it = work[-1]
            for w in it:
                if w not in index:
                    enter(w)
                    work.append((w, iter(successors(w))))
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    comp: list[str] = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    out.append(comp)
    return out
