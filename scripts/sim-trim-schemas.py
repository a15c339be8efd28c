#!/usr/bin/env python3
"""Trims Okta's Management API spec to the operations the simulator serves, as JSON Schema.

Writes tests/fixtures/okta-schemas/okta-sim-operations.json: for each operationId, its method, path
and the response schema per status code, plus the closure of `#/components/schemas` they reference.
OpenAPI 3.0 schema objects become JSON Schema (draft 4) the validator understands:
- `nullable: true` adds `null` to `type` (and to `enum`);
- examples, `x-*` extensions, `readOnly`/`writeOnly`, `xml`, descriptions are dropped
  (the spec's dangling `$ref`s all live inside examples, see ../shared/okta/SOURCE.md);
- `#/components/responses/*` references are inlined.
`discriminator` is kept (validators ignore it; the tests use its mapping). Request schemas are not kept, so the spec's `AppUserUpdateRequest` oneOf defect does not matter.

Usage: scripts/sim-trim-schemas.py [SPEC] [OUT]
Needs Python 3 with PyYAML.
"""
import hashlib
import json
import sys

import yaml

SPEC = sys.argv[1] if len(sys.argv) > 1 else "../shared/okta/management-openapi.yaml"
OUT = sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/okta-schemas/okta-sim-operations.json"

OPERATIONS = [
    "listUsers", "createUser", "getUser", "updateUser", "replaceUser", "deleteUser",
    "listUserGroups", "listAppLinks", "activateUser", "deactivateUser", "reactivateUser",
    "resetPassword", "expirePassword", "suspendUser", "unsuspendUser", "unlockUser",
    "listApplications", "getApplication", "listApplicationUsers", "assignUserToApplication",
    "getApplicationUser", "updateApplicationUser", "unassignUserFromApplication",
    "listGroups", "getGroup", "listGroupUsers", "assignUserToGroup", "unassignUserFromGroup",
    "listLogEvents",
]
DROP = {"example", "examples", "readOnly", "writeOnly", "xml", "externalDocs",
        "description", "title", "deprecated"}


def main():
    raw = open(SPEC, "rb").read()
    spec = yaml.safe_load(raw)
    schemas = spec["components"]["schemas"]
    responses = spec["components"]["responses"]
    needed = set()

    def convert(node):
        if isinstance(node, list):
            return [convert(n) for n in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for k, v in node.items():
            if k in DROP or k.startswith("x-"):
                continue
            if k == "$ref":
                name = v.rsplit("/", 1)[-1]
                needed.add(name)
                out[k] = v
            elif k == "discriminator":
                # Kept for the tests (validators ignore the keyword); its mapped schemas are kept too.
                for target in v.get("mapping", {}).values():
                    needed.add(target.rsplit("/", 1)[-1])
                out[k] = v
            elif k in ("properties", "patternProperties"):
                out[k] = {pk: convert(pv) for pk, pv in v.items()}
            else:
                out[k] = convert(v)
        if node.get("nullable") is True:
            out.pop("nullable", None)
            t = out.get("type")
            if isinstance(t, str):
                out["type"] = [t, "null"]
                if "enum" in out and None not in out["enum"]:
                    out["enum"] = out["enum"] + [None]
            else:
                out = {"anyOf": [out, {"type": "null"}]}
        else:
            out.pop("nullable", None)
        return out

    ops = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or op.get("operationId") not in OPERATIONS:
                continue
            rs = {}
            for status, resp in op.get("responses", {}).items():
                if "$ref" in resp:
                    resp = responses[resp["$ref"].rsplit("/", 1)[-1]]
                content = (resp.get("content") or {}).get("application/json")
                if content and "schema" in content:
                    rs[status] = convert(content["schema"])
                else:
                    rs[status] = None
            ops[op["operationId"]] = {"method": method, "path": path, "responses": rs}
    missing = sorted(set(OPERATIONS) - set(ops))
    if missing:
        sys.exit(f"operations not in the spec: {missing}")

    kept = {}
    while needed - set(kept):
        for name in sorted(needed - set(kept)):
            kept[name] = convert(schemas[name])
    doc = {
        "source": {
            "file": "management-openapi.yaml",
            "version": spec["info"]["version"],
            "sha256": hashlib.sha256(raw).hexdigest(),
            "generator": "scripts/sim-trim-schemas.py",
        },
        "operations": dict(sorted(ops.items())),
        "components": {"schemas": dict(sorted(kept.items()))},
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"{OUT}: {len(ops)} operations, {len(kept)} schemas")


if __name__ == "__main__":
    main()
