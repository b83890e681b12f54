"""`make setup` (`python -m devtools.setup`): checks, the Smart Home skill (ASK CLI), the stack (SAM CLI), account
linking (SMAPI), the owner's last step; rerunnable, `--dry-run`-able, never printing a secret (docs/deploy.md)."""
