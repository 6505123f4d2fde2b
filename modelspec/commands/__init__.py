"""The commands behind the CLI; each module does one job and imports no backend."""
