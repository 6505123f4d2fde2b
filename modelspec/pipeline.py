"""The front end in one call: file -> document -> validated -> expanded -> checked IR."""

from __future__ import annotations

import gc
import os
import threading
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from .diagnostics import Diagnostics, Pos, SpecError
from .expand.budget import BudgetExceeded
from .expand.setpath import apply_paths
from .expand.spec import expand, validate
from .ir.check import check_graph
from .ir.graph import Graph
from .ir.infer import infer_shapes
from .ir.reach import warn_blind_outputs
from .ir.share import place_params
from .load import load_document, load_text
from .load.document import Document
from .trust import SpecTrust, Trust


@dataclass
class Result:
    graph: Graph | None
    diags: Diagnostics
    doc: Document | None

    @property
    def ok(self) -> bool:
        return self.graph is not None and not self.diags.has_errors


def _spec_trust(trust: Trust | SpecTrust | None, file: str | os.PathLike[str]) -> SpecTrust:
    """One spec's trust: plugins named on the command line or in the project, files inside its tree."""
    if isinstance(trust, SpecTrust):
        return trust
    return (trust or Trust()).for_spec(file)


def check_document(doc: Document, diags: Diagnostics, overrides: Mapping[str, Any] | None = None,
                   trust: Trust | SpecTrust | None = None) -> Graph | None:
    if overrides:
        doc = apply_paths(doc, overrides, diags)
    top = validate(doc, diags)
    valid = top is not None
    if not isinstance(doc.data, dict):
        return None
    try:
        g = expand(doc, diags, overrides, _spec_trust(trust, doc.file), top)
        g = place_params(infer_shapes(check_graph(g, diags), diags), diags)
        if not diags.has_errors:
            warn_blind_outputs(g, diags)
    except BudgetExceeded:  # reported (MS004) where it ran out; checking a partial graph says nothing
        return None
    except Exception:  # noqa: BLE001 - turn a crash into a report, never a traceback
        if valid and not diags.has_errors:
            tb = traceback.format_exc(limit=-3)
            diags.add("MS090", "internal error while checking this spec", Pos(doc.file, 1, 1), notes=[tb])
        return None
    return g


_gc_lock = threading.Lock()
_gc_depth = 0  # compiles running now, in any thread
_gc_was_enabled = False  # the collector's state before the first of them began


@contextmanager
def quiet_gc() -> Iterator[None]:
    """Pause the cyclic GC for the duration of a compile, and only that.

    The front end allocates many small, acyclic objects, and generation-2 sweeps
    over them made large specs super-linear.  The collector is process-wide, so
    the pause is counted: nested compiles and compiles in several threads share
    one pause, the last to finish restores the state the first one found (a
    caller's own ``gc.disable()`` is kept), and an exception restores it too.

    What the compile built and kept (the graph: about 13 tracked objects a layer)
    would otherwise all sit in the youngest generation when the collector comes
    back on, and the first allocation after that would trace every one of them: a
    tenth of the compile at 10,000 layers.  They are long-lived (the caller keeps
    the graph), which is where two collections would move them anyway, so they go
    straight to the oldest generation: `gc.freeze` and `gc.unfreeze` move the
    generations' lists without visiting a single object.  This is skipped when
    anything else has frozen objects (a pre-forking server), whose freeze it would undo.
    """
    global _gc_depth, _gc_was_enabled
    with _gc_lock:
        if _gc_depth == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_was_enabled:
                if gc.get_freeze_count() == 0:
                    gc.freeze()  # every generation's objects, the compile's young ones too, into the permanent one
                    gc.unfreeze()  # and back, all into the oldest: collected at the next full collection
                gc.enable()


def compile_file(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None,
                 diags: Diagnostics | None = None, trust: Trust | SpecTrust | None = None) -> Result:
    """Compile the spec at ``path``; ``trust`` (default: none) says which plugins it may import."""
    diags = diags if diags is not None else Diagnostics()
    g, doc = _compile(path, overrides, diags, trust, keep_doc=True)
    return Result(g, diags, doc)


def _compile(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None, diags: Diagnostics,
             trust: Trust | SpecTrust | None, keep_doc: bool) -> tuple[Graph | None, Document | None]:
    spec_trust = _spec_trust(trust, path)
    with quiet_gc():
        doc = load_document(path, diags, root=spec_trust.root)
        if doc is None:
            return None, None
        g = check_document(doc, diags, overrides, spec_trust)
        if not keep_doc:
            # dropped while the collector is paused, its objects are never traced: the first
            # collection after the pause walks only the graph that stays
            doc = None
        return g, doc


def compile_text(text: str, file: str = "spec.yaml", overrides: Mapping[str, Any] | None = None,
                 trust: Trust | SpecTrust | None = None) -> Result:
    diags = Diagnostics()
    with quiet_gc():
        doc = load_text(text, file, diags)
        if doc is None:
            return Result(None, diags, None)
        return Result(check_document(doc, diags, overrides, trust), diags, doc)


def load(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None,
         trust: Trust | SpecTrust | None = None) -> Graph:
    """The checked IR of a spec; raises `SpecError` listing every problem."""
    diags = Diagnostics()
    g, _ = _compile(path, overrides, diags, trust, keep_doc=False)
    errors = [d for d in diags.sorted() if d.is_error]
    if errors or g is None:
        raise SpecError(errors or diags.sorted())
    return g
