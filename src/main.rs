//! The `remedy` binary: parses arguments and hands over to the library; nothing else lives here.

// Planning allocates many small JSON nodes; mimalloc handles that pattern much better than glibc's
// allocator (measured in scripts/bench-plan.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    okta_remedy::cli::main()
}
