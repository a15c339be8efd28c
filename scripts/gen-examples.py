#!/usr/bin/env python3
"""Writes the example org2org subjects (examples/subjects/org2org-failures.jsonl) and the seed rulebook's
test cases (rules/org2org-password-sync.tests.yaml). Deterministic; rerun after changing the shapes."""
import json, hashlib

def oid(prefix, seed):
    return prefix + hashlib.sha256(seed.encode()).hexdigest()[:17]

FED = "Api validation failed: password (password: Password)"
POLICY = ("Api validation failed: password (password: Password requirements were not met. "
          "Password requirements: at least 12 characters, a lowercase letter, an uppercase letter, a number, "
          "no parts of your username.)")

def user(login, status, provider, created="2025-03-02T10:00:00.000Z", updated="2026-11-20T08:00:00.000Z"):
    first, last = login.split("@")[0].split(".")[:2] if "." in login.split("@")[0] else (login.split("@")[0], "User")
    return {
        "id": oid("00u", "hub" + login), "status": status, "created": created, "activated": created,
        "statusChanged": updated, "lastLogin": None, "lastUpdated": updated, "passwordChanged": None,
        "type": {"id": "oty1hubdefault0000001"},
        "profile": {"firstName": first.title(), "lastName": last.title(), "email": login, "login": login,
                    "mobilePhone": None, "secondEmail": None},
        "credentials": {"provider": {"type": provider, "name": "OKTA" if provider == "OKTA" else "FEDERATION"},
                        **({"password": {}} if provider == "OKTA" else {})},
        "_links": {"self": {"href": "https://hub.example.okta.com/api/v1/users/" + oid("00u", "hub" + login)}},
    }

def subject(login, hub_user, reason, scope="USER", sync="ERROR"):
    sid = oid("00u", "spoke" + login)
    spoke_user = {
        "id": sid, "status": "ACTIVE", "created": "2024-01-15T09:30:00.000Z", "activated": "2024-01-15T09:30:00.000Z",
        "statusChanged": "2024-01-15T09:30:00.000Z", "lastLogin": "2026-11-27T07:12:00.000Z",
        "lastUpdated": "2026-11-26T16:00:00.000Z", "passwordChanged": "2026-10-01T12:00:00.000Z",
        "type": {"id": "oty1spokedefault00001"},
        "profile": {"firstName": login.split(".")[0].title(), "lastName": "Example", "email": login, "login": login},
        "credentials": {"password": {}, "provider": {"type": "OKTA", "name": "OKTA"}},
    }
    assignment = {
        "id": sid, "externalId": None, "created": "2026-11-26T16:00:01.000Z", "lastUpdated": "2026-11-26T16:00:05.000Z",
        "scope": scope, "status": "STAGED", "statusChanged": "2026-11-26T16:00:01.000Z", "passwordChanged": None,
        "syncState": sync, "lastSync": "2026-11-26T16:00:05.000Z",
        "credentials": {"userName": login}, "profile": {},
        "_links": {"app": {"href": "https://spoke.example.okta.com/api/v1/apps/0oa1org2org00000001"}},
    }
    event = {
        "uuid": oid("evt", login), "published": "2026-11-26T16:00:05.000Z",
        "eventType": "application.provision.user.push", "version": "0", "severity": "ERROR",
        "displayMessage": "Push new user to external application",
        "actor": {"id": "0oa1org2org00000001", "type": "PublicClientApp", "alternateId": "Hub Org", "displayName": "Hub Org"},
        "outcome": {"result": "FAILURE", "reason": reason},
        "target": [{"id": sid, "type": "User", "alternateId": login, "displayName": login},
                   {"id": "0oa1org2org00000001", "type": "AppInstance", "alternateId": "Hub Org", "displayName": "Hub Org"}],
    }
    return {"app": {"id": "0oa1org2org00000001", "name": "okta_org2org", "label": "Hub Org"},
            "assignment": assignment, "spoke_user": spoke_user, "user": hub_user,
            "events": [event] if reason else []}

def S(login, status=None, provider=None, reason=FED, scope="USER", sync="ERROR"):
    hub = user(login, status, provider) if status else None
    return subject(login, hub, reason, scope, sync)

cases = [
    ("federated ACTIVE hub user is reset, awaited and retried", S("ana.lima@example.com", "ACTIVE", "FEDERATION"),
     {"rule": "federated-hub-user-blocks-password-sync", "actions": ["reset_password", "await", "retry_provisioning"]}),
    ("federated PROVISIONED hub user is reset too", S("bo.chen@example.com", "PROVISIONED", "FEDERATION"),
     {"rule": "federated-hub-user-blocks-password-sync", "actions": ["reset_password", "await", "retry_provisioning"]}),
    ("federated PASSWORD_EXPIRED hub user is reset", S("cy.diaz@example.com", "PASSWORD_EXPIRED", "FEDERATION"),
     {"rule": "federated-hub-user-blocks-password-sync"}),
    ("password policy look-alike is only reported", S("dee.park@example.com", "ACTIVE", "OKTA", POLICY),
     {"rule": "password-policy-mismatch", "actions": ["report"]}),
    ("policy look-alike wins even for a FEDERATION hub user", S("eli.nowak@example.com", "ACTIVE", "FEDERATION", POLICY),
     {"rule": "password-policy-mismatch", "actions": ["report"]}),
    ("OKTA hub user in RECOVERY is awaited then retried", S("fay.ito@example.com", "RECOVERY", "OKTA"),
     {"rule": "hub-user-not-active-yet", "actions": ["await", "retry_provisioning"]}),
    ("OKTA hub user still PROVISIONED is awaited", S("gus.berg@example.com", "PROVISIONED", "OKTA"),
     {"rule": "hub-user-not-active-yet", "actions": ["await", "retry_provisioning"]}),
    ("missing hub user is only retried", S("hana.sato@example.com"),
     {"rule": "no-hub-user", "actions": ["retry_provisioning"]}),
    ("DEPROVISIONED hub user is reported", S("ivo.marsh@example.com", "DEPROVISIONED", "FEDERATION"),
     {"rule": "hub-user-deprovisioned-or-suspended", "actions": ["report"]}),
    ("SUSPENDED hub user is reported", S("jo.quinn@example.com", "SUSPENDED", "OKTA"),
     {"rule": "hub-user-deprovisioned-or-suspended", "actions": ["report"]}),
    ("admin hub user is protected", S("admin.ops@example.com", "ACTIVE", "FEDERATION"), "protected"),
    ("admin spoke login is protected even without a hub user", S("admin@example.com"), "protected"),
    ("ACTIVE OKTA hub user with the password error matches nothing", S("kai.roth@example.com", "ACTIVE", "OKTA"), "no_match"),
    ("LOCKED_OUT federated hub user is left for a person", S("lea.voss@example.com", "LOCKED_OUT", "FEDERATION"),
     {"rule": "hub-user-locked-out", "actions": ["report"]}),
]
# Cases for the tests only: examples/subjects/org2org-failures.jsonl keeps its subjects.
test_cases = [
    ("federated hub user already in RECOVERY is awaited, not reset again",
     S("max.ortiz@example.com", "RECOVERY", "FEDERATION"),
     {"rule": "hub-user-not-active-yet", "actions": ["await", "retry_provisioning"]}),
    ("healthy assignment with a hub user in RECOVERY is left alone",
     S("nia.hart@example.com", "RECOVERY", "OKTA", reason=None, sync="SYNCHRONIZED"), "no_match"),
    ("healthy assignment without a hub user is left alone",
     S("oli.penn@example.com", reason=None, sync="SYNCHRONIZED"), "no_match"),
    ("a failure event alone is enough to retry a missing hub user",
     S("pia.lund@example.com", sync="SYNCHRONIZED"), {"rule": "no-hub-user", "actions": ["retry_provisioning"]}),
]
with open("rules/org2org-password-sync.tests.yaml", "w") as f:
    f.write("# Test cases for org2org-password-sync.yaml (generated by scripts/gen-examples.py).\n"
            "# Each subject is one line of JSON, which is YAML too.\n"
            "# Run: remedy test rules/org2org-password-sync.yaml --snapshot\ntests:\n")
    for name, subj, expect in cases + test_cases:
        f.write(f"  - name: {name}\n")
        f.write(f"    subject: {json.dumps(subj, separators=(',', ':'))}\n")
        f.write(f"    expect: {json.dumps(expect, separators=(', ', ': '))}\n")

with open("examples/subjects/org2org-failures.jsonl", "w") as f:
    for _, subj, _ in cases:
        f.write(json.dumps(subj, separators=(",", ":")) + "\n")
