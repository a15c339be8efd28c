# The evaluation benchmark's rule (bench/rules/eval.yaml) in jq: counts the matching subjects of a
# JSON Lines file. Run as `jq -n -f bench/eval.jq FILE.jsonl`.
reduce (inputs
  | select(.user != null
      and .user.credentials.provider.type == "FEDERATION"
      and (.user.status | IN("ACTIVE", "PROVISIONED", "PASSWORD_EXPIRED"))
      and .assignment.syncState == "ERROR"
      and any(.events[]?; .outcome.result == "FAILURE"
        and ((.outcome.reason // "") | test("Api validation failed: password \\(password: Password\\)$"))))
) as $s (0; . + 1)
