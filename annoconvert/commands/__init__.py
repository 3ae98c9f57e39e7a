"""Command-line subcommands other than the per-reader conversion commands, one module each."""
