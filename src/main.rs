//! The `remedy` binary: parses arguments and hands over to the library; nothing else lives here.

fn main() -> std::process::ExitCode {
    okta_remedy::cli::main()
}
