use std::process::ExitCode;

use forewarn::cli;

fn main() -> ExitCode {
    let cli = cli::parse();
    cli::init_logging(cli.log_format);
    if cli.command.is_one_shot() {
        // A one-shot command piped into `head` ends quietly when the reader goes away, as Unix
        // tools do (Rust ignores SIGPIPE, so a print would panic on the closed pipe). The
        // long-running ones keep ignoring it: a client hanging up must not kill a server.
        sigpipe::reset();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(70);
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(70)
        }
    }
}
