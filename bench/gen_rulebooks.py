#!/usr/bin/env python3
"""Writes the large rulebooks the benchmark times (bench/run), deterministic, into DIR:

- rules-50.yaml: 50 rules over the same four paths as bench/rules/eval.yaml (49 that never match the
  generated subjects, then the benchmark's rule), to show the cost of rules that share paths;
- cases-1000.yaml: the benchmark's rule with 1,000 inline test cases (`remedy test`);
- rules-5000.yaml: 5,000 small rules (`remedy validate`), under the 1 MiB rulebook limit.

Usage: gen_rulebooks.py DIR
"""
import os
import sys

HEAD = """version: 1
name: {name}
subjects: {{ kind: org2org_assignment, spoke: spoke, hub: hub, since: 7d }}
guards:
  max_actions: 1000000
rules:
"""
PASSWORD = r"Api validation failed: password \(password: Password\)$"
STATUSES = "[ACTIVE, PROVISIONED, PASSWORD_EXPIRED]"


def rule(rid, provider, sync, reason):
    return f"""  - id: {rid}
    when:
      all:
        - {{ path: $.user.credentials.provider.type, equals: {provider} }}
        - {{ path: $.user.status, in: {STATUSES} }}
        - {{ path: $.assignment.syncState, equals: {sync} }}
        - path: "$.events[?@.outcome.result == 'FAILURE'].outcome.reason"
          matches: '{reason}'
    then:
      - {{ action: report, message: "{rid} for {{{{ $.user.profile.login }}}}" }}
"""


def rules_50():
    out = [HEAD.format(name="bench-50-rules")]
    for k in range(49):
        # Rules a real catalogue might hold beside the benchmark's: other providers, states, reasons.
        provider = ["FEDERATION", "SOCIAL", "LDAP", "ACTIVE_DIRECTORY"][k % 4]
        sync = ["ERROR", "DISABLED"][k % 2]
        out.append(rule(f"other-{k:02}", provider, sync, f"error code E{k:07} "))
    out.append(rule("federated-password-sync-failure", "FEDERATION", "ERROR", PASSWORD))
    return "".join(out)


def subject(i):
    federated = i % 2 == 0
    result = "FAILURE" if i % 3 else "SUCCESS"
    return (
        '{"user": {"status": "ACTIVE", "profile": {"login": "u%d@example.com"}, '
        '"credentials": {"provider": {"type": "%s"}}}, '
        '"assignment": {"id": "00a%d", "syncState": "ERROR"}, '
        '"events": [{"outcome": {"result": "%s", '
        '"reason": "Api validation failed: password (password: Password)"}}]}'
        % (i, "FEDERATION" if federated else "OKTA", i, result)
    ), federated and result == "FAILURE"


def cases_1000():
    out = [HEAD.format(name="bench-1000-cases")]
    out.append(rule("federated-password-sync-failure", "FEDERATION", "ERROR", PASSWORD))
    out.append("tests:\n")
    for i in range(1000):
        s, matches = subject(i)
        expect = "{ rule: federated-password-sync-failure }" if matches else "{ outcome: no_match }"
        out.append(f"  - name: case-{i:04}\n    subject: {s}\n    expect: {expect}\n")
    return "".join(out)


def rules_5000():
    out = [HEAD.format(name="bench-5000-rules")]
    for k in range(5000):
        out.append(
            f"  - {{ id: r{k:04}, when: {{ path: $.user.profile.department, equals: D{k:04} }}, "
            f"then: [{{ action: report, message: m }}] }}\n"
        )
    return "".join(out)


def main():
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    for name, text in [
        ("rules-50.yaml", rules_50()),
        ("cases-1000.yaml", cases_1000()),
        ("rules-5000.yaml", rules_5000()),
    ]:
        with open(os.path.join(d, name), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
