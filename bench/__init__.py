"""The cold-start benchmark (`make bench`): the bridge against two baselines, through the real Lambda runtime client."""
