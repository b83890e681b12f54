"""The function's own CloudWatch metrics: did Alexa's requests reach it lately? (also `make setup ARGS=--verify`)."""

from __future__ import annotations

import datetime
import os

from gateway.metrics import NAMESPACE, SERVICE
from ha_devices.doctor.outcome import Outcome, Probe, passed, warned

DAYS = 3
# Why nothing arrives after "Alexa, discover devices", the likeliest first.
CAUSES = (
    "the skill's region and the function's differ: a Smart Home skill calls the function of the AWS region that"
    " serves your locale (us-east-1 North America, eu-west-1 Europe and India, us-west-2 Japan and Australia;"
    " make setup ARGS=\"--region us|eu|fe\")",
    "the skill's endpoint is another ARN: compare the Smart Home skill's Default endpoint in the Alexa developer"
    " console with the stack output BridgeFunctionArn",
    "the skill and the function are in different accounts: the Alexa app must be signed in with the Amazon account of"
    " the developer console, and the function's permission must name the skill's ID (SmartHomeSkillId)",
)


def activity(cloudwatch, days: int = DAYS, now: datetime.datetime | None = None) -> dict:
    """Requests (RequestLatency samples) and Errors by ErrorType in the function's namespace over `days` days."""
    now = now or datetime.datetime.now(datetime.UTC)
    service = [{"Name": "service", "Value": SERVICE}]
    error_types = sorted({dim["Value"] for metric in cloudwatch.list_metrics(
        Namespace=NAMESPACE, MetricName="Errors")["Metrics"] for dim in metric["Dimensions"]
        if dim["Name"] == "ErrorType"})
    queries = [{"Id": "requests", "MetricStat": {"Metric": {
        "Namespace": NAMESPACE, "MetricName": "RequestLatency", "Dimensions": service},
        "Period": 86400, "Stat": "SampleCount"}}]
    queries += [{"Id": f"e{i}", "MetricStat": {"Metric": {
        "Namespace": NAMESPACE, "MetricName": "Errors", "Dimensions": [*service, {"Name": "ErrorType", "Value": kind}]},
        "Period": 86400, "Stat": "Sum"}} for i, kind in enumerate(error_types)]
    results = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=now - datetime.timedelta(days=days),
                                         EndTime=now)["MetricDataResults"]
    sums = {result["Id"]: sum(result["Values"]) for result in results}
    errors = {kind: int(sums.get(f"e{i}", 0)) for i, kind in enumerate(error_types)}
    return {"requests": int(sums.get("requests", 0)), "errors": {k: v for k, v in errors.items() if v}}


def summary(found: dict, days: int = DAYS) -> tuple[bool, str]:
    """(whether requests arrived, what to tell the owner)."""
    if not found["requests"]:
        return False, (f"no request reached the function in the last {days} days (no RequestLatency in CloudWatch):"
                       " if you said \"Alexa, discover devices\", Alexa calls another function")
    text = (f"{found['requests']} request(s) reached the function in the last {days} days (RequestLatency samples:"
            " Alexa's and operator events)")
    if found["errors"]:
        text += "; errors by type: " + ", ".join(f"{k} {v}" for k, v in sorted(found["errors"].items()))
    return True, text


def likely_causes() -> str:
    return "likely causes, in order: " + "; ".join(f"({i}) {cause}" for i, cause in enumerate(CAUSES, 1))


def check_metrics(probe: Probe) -> Outcome:
    """Whether requests reached this function lately, from its own metrics (in AWS Lambda only)."""
    if not (os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and os.environ.get("AWS_SESSION_TOKEN")):
        return Outcome("skipped", "not run: outside AWS Lambda there are no metrics of this function to read (from"
                                  " your machine: make setup ARGS=--verify)")
    import boto3
    from botocore.config import Config

    timeout = probe.timeout()
    cloudwatch = boto3.client("cloudwatch", config=Config(connect_timeout=timeout, read_timeout=timeout,
                                                          retries={"max_attempts": 1}))
    try:
        found = activity(cloudwatch)
    except Exception as err:  # AccessDenied (a role without the stack's read-own-metrics policy), a timeout
        return warned(f"could not read CloudWatch ({type(err).__name__})", "deploy the current template: its role may"
                      " read metrics (cloudwatch:GetMetricData, cloudwatch:ListMetrics)")
    arrived, text = summary(found)
    return passed(text) if arrived else warned(text, likely_causes())
