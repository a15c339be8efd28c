//! Simulator tests over HTTP (placeholder).
