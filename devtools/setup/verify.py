"""`make setup ARGS=--verify`: the function's own metrics in CloudWatch (the doctor's metrics check) from here."""

from __future__ import annotations

from ha_devices.doctor import metrics


def main(args, settings, session) -> int:
    from devtools.setup.plan import REGIONS

    region = REGIONS[args.region]
    try:
        found = metrics.activity(session.client("cloudwatch", region_name=region.aws_region), args.days)
    except Exception as err:  # no credentials, no permission: say which
        print(f"Could not read CloudWatch in {region.aws_region} ({type(err).__name__}): check your AWS credentials"
              " (`aws sts get-caller-identity`) and that they may call cloudwatch:GetMetricData and ListMetrics")
        return 1
    arrived, text = metrics.summary(found, args.days)
    print(f"{region.aws_region}: {text}")
    if arrived:
        print("Next: nothing to do; Alexa reaches the function. Say \"Alexa, turn on\" one of your devices.")
        return 0
    print(f"Next: {metrics.likely_causes()}. Fix the first that applies, say \"Alexa, discover devices\" again, then"
          " rerun --verify.")
    return 1
