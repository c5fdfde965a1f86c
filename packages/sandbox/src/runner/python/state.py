"""Snapshot and restore of the interpreter's module state, so runs cannot leak into each other.

A run may rebind module attributes (``unittest.TestCase.run = ...``, ``builtins.print =
...``), import modules or leave files behind. Module and class dictionaries are compared
by identity with the pristine snapshot taken at start-up and put back; modules first
imported by a run are dropped so the next run imports them fresh.
"""

# Runs in the harness namespace, after harden.py.

_MISSING = object()
_HEAPTYPE = 1 << 9
_IMMUTABLETYPE = 1 << 8


def _mutable_class(value):
    return isinstance(value, type) and value.__flags__ & _HEAPTYPE and not value.__flags__ & _IMMUTABLETYPE


def take_snapshot():
    """Records every loaded module's dictionary and those of the classes it defines."""
    snapshot = {}
    for name, module in list(sys.modules.items()):
        if not isinstance(module, types.ModuleType):
            continue
        namespace = module.__dict__
        classes = {
            value: dict(value.__dict__)
            for value in list(namespace.values())
            if _mutable_class(value) and value.__module__ == name
        }
        snapshot[name] = (module, dict(namespace), classes)
    return snapshot


def _put_back(namespace, pristine, prune):
    if prune:
        for key in [k for k in namespace if k not in pristine]:
            del namespace[key]
    for key, value in pristine.items():
        if namespace.get(key, _MISSING) is not value:
            namespace[key] = value


def _put_back_class(cls, pristine, prune):
    current = cls.__dict__
    if prune:
        for key in [k for k in current if k not in pristine]:
            delattr(cls, key)
    for key, value in pristine.items():
        if key not in ('__dict__', '__weakref__') and current.get(key, _MISSING) is not value:
            setattr(cls, key, value)


def restore(snapshot, only=None, prune=True):
    """Puts module state back; ``only`` limits it to modules whose names it accepts."""
    for name, (module, namespace, classes) in snapshot.items():
        if only is not None and not only(name):
            continue
        sys.modules[name] = module
        _put_back(module.__dict__, namespace, prune)
        for cls, pristine in classes.items():
            _put_back_class(cls, pristine, prune)
    if only is None:
        for name in [n for n in sys.modules if n not in snapshot]:
            del sys.modules[name]


def reset_process_state(baseline):
    sys.settrace(None)
    sys.setprofile(None)
    sys.setrecursionlimit(baseline['recursion'])
    sys.set_int_max_str_digits(baseline['int_digits'])
    gc.enable()
    os.environ.clear()
    os.chdir(HOME)
    # Lists changed in place keep their identity, so the module restore cannot see them.
    warnings.filters[:] = baseline['warnings']
    sys.meta_path[:] = baseline['meta_path']
    sys.path[:] = baseline['path']
    sys.path_hooks[:] = baseline['path_hooks']
    sys.path_importer_cache.clear()
    empty_scratch_dirs()
    gc.collect()


BASELINE = {
    'recursion': sys.getrecursionlimit(),
    'int_digits': sys.get_int_max_str_digits(),
    'warnings': list(warnings.filters),
    'meta_path': list(sys.meta_path),
    'path': list(sys.path),
    'path_hooks': list(sys.path_hooks),
}
