"""Experiment: gateway/powertools.py on the standard library (the API subset the bridge uses), to measure what
importing Powertools costs. It writes JSON log lines and CloudWatch EMF lines in the shape Powertools writes; it is
not a drop-in replacement (no sampling, no log-level by logger, no validation of metric names or units)."""

import json
import os
import sys
import time
import traceback
from contextlib import contextmanager

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARN": 30, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


class MetricUnit:
    Milliseconds = "Milliseconds"
    Count = "Count"
    Seconds = "Seconds"


class Logger:
    def __init__(self, service=None, level=None, **_):
        self.service = service or os.environ.get("POWERTOOLS_SERVICE_NAME") or "service_undefined"
        self.level = _LEVELS.get((level or os.environ.get("POWERTOOLS_LOG_LEVEL") or "INFO").upper(), 20)
        self._keys = {}

    def append_keys(self, **keys):
        self._keys.update(keys)

    def _log(self, level, name, msg, extra, exc=False):
        if level < self.level:
            return
        frame = sys._getframe(2)
        record = {"level": name, "location": f"{frame.f_code.co_name}:{frame.f_lineno}", "message": msg,
                  "timestamp": time.strftime("%Y-%m-%d %H:%M:%S%z"), "service": self.service, **self._keys}
        if extra:
            record.update(extra)
        if exc:
            record["exception"] = traceback.format_exc()
        sys.stdout.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")

    def debug(self, msg, *args, extra=None, **_):
        self._log(10, "DEBUG", msg, extra)

    def info(self, msg, *args, extra=None, **_):
        self._log(20, "INFO", msg, extra)

    def warning(self, msg, *args, extra=None, **_):
        self._log(30, "WARNING", msg, extra)

    def error(self, msg, *args, extra=None, **_):
        self._log(40, "ERROR", msg, extra)

    def exception(self, msg, *args, extra=None, **_):
        self._log(40, "ERROR", msg, extra, exc=True)


def _emf(namespace, dimensions, metrics):
    doc = {"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
        "Namespace": namespace, "Dimensions": [list(dimensions)],
        "Metrics": [{"Name": name, "Unit": unit} for name, (unit, _) in metrics.items()]}]}}
    doc.update(dimensions)
    doc.update({name: values for name, (_, values) in metrics.items()})
    sys.stdout.write(json.dumps(doc, separators=(",", ":")) + "\n")


class _Provider:
    def __init__(self, metrics):
        self._metrics = metrics

    def add_cold_start_metric(self, context):
        if _Provider.cold:
            _Provider.cold = False
            _emf(self._metrics.namespace, {"function_name": self._metrics.function_name,
                                            "service": self._metrics.service}, {"ColdStart": ("Count", [1.0])})

    cold = True


class Metrics:
    def __init__(self, namespace=None, service=None, function_name=None, **_):
        self.namespace, self.service, self.function_name = namespace, service, function_name
        self.metric_set = {}
        self.provider = _Provider(self)

    def add_metric(self, name, unit, value):
        self.metric_set.setdefault(name, (unit, []))[1].append(float(value))

    def flush_metrics(self, **_):
        if self.metric_set:
            _emf(self.namespace, {"service": self.service}, self.metric_set)
        self.metric_set = {}


class _Single:
    def __init__(self, name, unit, value, namespace):
        self.dimensions, self.metric, self.namespace = {}, {name: (unit, [float(value)])}, namespace

    def add_dimension(self, name, value):
        self.dimensions[name] = value


@contextmanager
def single_metric(name, unit, value, namespace=None, **_):
    metric = _Single(name, unit, value, namespace)
    yield metric
    _emf(namespace, metric.dimensions, metric.metric)


__all__ = ["Logger", "Metrics", "MetricUnit", "single_metric"]
