# The evaluation benchmark's rule (bench/rules/eval.yaml) in Rego, for regorus.
package bench

import rego.v1

default matched := false

matched if {
	input.user.credentials.provider.type == "FEDERATION"
	input.user.status in {"ACTIVE", "PROVISIONED", "PASSWORD_EXPIRED"}
	input.assignment.syncState == "ERROR"
	some e in input.events
	e.outcome.result == "FAILURE"
	regex.match(`Api validation failed: password \(password: Password\)$`, e.outcome.reason)
}
