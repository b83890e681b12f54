"""Hostile events for every kind the bridge serves: the handler never raises, answers before the context's deadline
with a JSON-serialisable dict, and answers anything directive-shaped with a schema-valid ErrorResponse.

The sample events (events/*.json) are mutated: values replaced by wrong types, huge strings, deep nesting and
unicode; keys deleted and added. Events of any shape are generated too. Home Assistant is a refused port, so
nothing waits.
"""

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.demo_ha import free_port
from fast_path import classify, lambda_handler
from support import ROOT, FakeContext

SAMPLES = {path.stem: json.loads(path.read_text()) for path in sorted((ROOT / "events").glob("*.json"))}
EXAMPLES_PER_SAMPLE = 200
FUZZ = settings(max_examples=EXAMPLES_PER_SAMPLE, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# Words the bridge looks for, so that mutations often stay close to a real event.
WORDS = ["directive", "header", "payload", "endpoint", "scope", "token", "namespace", "name", "payloadVersion",
         "messageId", "correlationToken", "endpointId", "cookie", "version", "request", "type", "intent", "slots",
         "devices", "action", "warmup", "3", "Alexa", "Alexa.Discovery", "Discover", "BearerToken", "IntentRequest"]
scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
           | st.text() | st.sampled_from(WORDS))
keys = st.sampled_from(WORDS) | st.text(max_size=10)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=12)
huge_strings = st.builds(lambda piece, times: piece * times, st.text(min_size=1, max_size=3), st.integers(1, 300_000))


def nest(depth: int, leaf, in_dicts: bool):
    for _ in range(depth):
        leaf = {"directive": leaf} if in_dicts else [leaf]
    return leaf


deep_values = st.builds(nest, st.integers(10, 400), scalars, st.booleans())
hostile = json_values | huge_strings | deep_values


def nodes(value, path=()):
    """Every path into `value`, the root () included."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from nodes(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from nodes(item, path + (index,))


@st.composite
def mutated(draw, sample):
    """`sample` with 1 to 4 of its values replaced, deleted or given a new key (test_events_of_any_shape covers
    replacing the whole event)."""
    event = copy.deepcopy(sample)
    for _ in range(draw(st.integers(1, 4))):
        paths = list(nodes(event))[1:]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = event
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent[path[-1]], dict):
            parent[path[-1]][draw(keys)] = draw(hostile)
        else:
            parent[path[-1]] = draw(hostile)
    return event


@pytest.fixture
def refused_ha(bridge_env):
    bridge_env(HA_URL=f"http://127.0.0.1:{free_port()}", HA_TOKEN="fuzz-token")  # nothing listens there


def check(event, alexa_schema):
    context = FakeContext(remaining_ms=3000)
    answer = lambda_handler(event, context)
    assert context.get_remaining_time_in_millis() > 0, "answered after the deadline"
    assert isinstance(answer, dict)
    json.dumps(answer, allow_nan=False)  # Lambda must be able to send it
    if classify(event) == "smart_home":
        errors = sorted(alexa_schema.iter_errors(answer), key=str)
        assert not errors, errors[0].message
        assert answer["event"]["header"]["name"] == "ErrorResponse"


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_mutated_sample_events(refused_ha, alexa_schema, sample):
    @FUZZ
    @given(mutated(SAMPLES[sample]))
    def run(event):
        check(event, alexa_schema)

    run()


@FUZZ
@given(hostile | st.dictionaries(keys, hostile, max_size=5))
def test_events_of_any_shape(refused_ha, alexa_schema, event):
    check(event, alexa_schema)
