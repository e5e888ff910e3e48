"""One module per subcommand: each takes plain arguments and returns data
(findings, an exit code); the CLI only parses options and prints."""
