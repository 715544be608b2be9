"""The command line: thin Typer sub-apps, one per subsystem. The only place that prints or exits."""
