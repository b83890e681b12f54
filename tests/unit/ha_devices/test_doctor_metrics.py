"""The doctor's metrics check: the function's own RequestLatency and Errors in CloudWatch (moto), in Lambda only."""

import datetime
import time

import boto3
from moto import mock_aws

from ha_devices import doctor
from ha_devices.doctor import metrics

LAMBDA = {"AWS_LAMBDA_FUNCTION_NAME": "ha-alexa-bridge", "AWS_SESSION_TOKEN": "testing", "AWS_ACCESS_KEY_ID": "testing",
          "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def probe():
    found = doctor.Probe(until=0)
    found.check_until = time.monotonic() + 4
    return found


def test_outside_lambda_the_check_reads_nothing_and_says_where_to_look(monkeypatch):
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    outcome = metrics.check_metrics(probe())
    assert outcome.status == "skipped" and "--verify" in outcome.detail


@mock_aws
def test_no_request_in_three_days_is_a_warning_naming_the_likely_causes_in_order(monkeypatch):
    for name, value in LAMBDA.items():
        monkeypatch.setenv(name, value)
    outcome = metrics.check_metrics(probe())
    assert outcome.status == "warning" and "Alexa calls another function" in outcome.detail
    assert outcome.fix.startswith("likely causes, in order: (1) the skill's region")
    assert outcome.fix.index("(2) the skill's endpoint") < outcome.fix.index("(3) the skill and the function")


@mock_aws
def test_requests_and_errors_by_type_are_counted_from_the_functions_namespace(monkeypatch):
    for name, value in LAMBDA.items():
        monkeypatch.setenv(name, value)
    when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    service = [{"Name": "service", "Value": "ha-alexa-bridge"}]
    boto3.client("cloudwatch").put_metric_data(Namespace="HomeAssistantBridge", MetricData=[
        {"MetricName": "RequestLatency", "Dimensions": service, "Value": 50.0, "Unit": "Milliseconds",
         "Timestamp": when},
        {"MetricName": "Errors", "Dimensions": [*service, {"Name": "ErrorType", "Value": "ASSIST_AUTH"}],
         "Value": 1, "Unit": "Count", "Timestamp": when}])
    outcome = metrics.check_metrics(probe())
    assert outcome.status == "ok"
    assert outcome.detail.startswith("1 request(s) reached the function in the last 3 days")
    assert outcome.detail.endswith("errors by type: ASSIST_AUTH 1")
