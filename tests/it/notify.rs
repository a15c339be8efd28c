//! Notifications delivered by `remedy apply` to a local webhook receiver and a local SMTP receiver
//! (both in this process, on loopback): the exact bodies, retries after a 500, a step failed when its
//! sink never accepts, exactly one delivery across a crash and resume, the run summary, and no reset
//! URL, token or webhook URL in anything sent or written. Owns the receivers and the scenario.

// The receivers: a webhook (axum) that records requests and answers from a script, and an SMTP
// server speaking enough of the protocol for lettre's plain transport.
pub(crate) mod receivers;
// apply with notify steps and run summaries against the simulator.
mod delivery;
