"""Fixtures of the gateway's tests."""

import pytest


@pytest.fixture
def ssm(monkeypatch):
    """A moto SSM (boto3's path; no extension, as outside Lambda); yields a boto3 client to write parameters."""
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSM"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        import boto3

        yield boto3.client("ssm")
