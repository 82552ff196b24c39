"""Plugin runner, the reference Vortex command-line form:

    python3 -m vortex.plugins.runner --plugin NAME --payload JSON [--timeout-ms N]

`--payload -` reads the JSON payload from standard input instead (the sidecar does so when the
payload is larger than one command-line argument may be). The plugin is found by its manifest
(`manifest.yaml` in the working directory, else `$VORTEX_PLUGINS_DIR/NAME/manifest.yaml`); its
`entrypoint: "module:Class"` names a class whose `run(payload, timeout_ms)` returns the output
object. Printed on stdout: `{"output": {...}, "duration_ms": N}`. Exit 2 when the payload is
refused, 1 on any other failure, with `{"error": "..."}` on stdout. Standard library only.
"""

import argparse
import importlib
import json
import os
import re
import sys
import time

ENTRYPOINT = re.compile(r"""^entrypoint:\s*["']?([A-Za-z_][\w.]*):([A-Za-z_]\w*)["']?\s*(#.*)?$""")
NAME = re.compile(r"""^name:\s*["']?([a-z0-9][a-z0-9._-]{0,63})["']?\s*(#.*)?$""")


def fail(code, message):
    print(json.dumps({"error": message}))
    sys.exit(code)


def find_manifest(name):
    candidates = [os.path.join(os.getcwd(), "manifest.yaml")]
    root = os.environ.get("VORTEX_PLUGINS_DIR")
    if root:
        candidates.append(os.path.join(root, name, "manifest.yaml"))
    for path in candidates:
        if not os.path.isfile(path):
            continue
        entry, found_name = None, None
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = ENTRYPOINT.match(line.rstrip("\n"))
                if m:
                    entry = (m.group(1), m.group(2))
                n = NAME.match(line.rstrip("\n"))
                if n:
                    found_name = n.group(1)
        if found_name == name and entry is not None:
            return os.path.dirname(path), entry
    fail(1, f"plugin {name!r}: no manifest.yaml with that name and a module:Class entrypoint")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="vortex.plugins.runner")
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--payload", required=True, help="JSON object, or - to read it from stdin")
    parser.add_argument("--timeout-ms", type=int, default=None)
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.payload == "-" else args.payload
    try:
        payload = json.loads(text)
    except ValueError as e:
        fail(2, f"payload: not JSON ({e})")
    if not isinstance(payload, dict):
        fail(2, "payload: must be a JSON object")
    folder, (module_name, class_name) = find_manifest(args.plugin)
    sys.path.insert(0, folder)
    try:
        plugin = getattr(importlib.import_module(module_name), class_name)()
    except (ImportError, AttributeError) as e:
        fail(1, f"plugin {args.plugin!r}: cannot load {module_name}:{class_name} ({e})")
    started = time.monotonic()
    try:
        output = plugin.run(payload, timeout_ms=args.timeout_ms)
    except ValueError as e:
        fail(2, f"payload refused: {e}")
    except Exception as e:  # noqa: BLE001 - a plugin failure is reported, never a traceback on stdout
        fail(1, f"plugin {args.plugin!r} failed: {type(e).__name__}: {e}")
    duration_ms = int((time.monotonic() - started) * 1000)
    sys.stdout.write(json.dumps({"output": output, "duration_ms": duration_ms}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
