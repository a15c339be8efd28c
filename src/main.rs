//! The `remedy` binary: parses arguments and hands over to the library; nothing else lives here.

// Planning allocates and frees many small JSON nodes per subject, which glibc's allocator handled
// poorly in profiles (malloc/free were the top entries); mimalloc is built for that pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    okta_remedy::cli::main()
}
