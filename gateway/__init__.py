"""Services every feature uses: settings, the Home Assistant client, secrets, metrics and logs."""
