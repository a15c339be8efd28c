//! Injected faults (placeholder while the harness settles).
