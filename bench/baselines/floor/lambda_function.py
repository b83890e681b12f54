"""Reference "floor": a function that does no work of its own; it answers every event with a stored answer.

Its INIT is the interpreter plus the runtime client; its invocation is the runtime client's hand-out, the
serialisation of the answer and its post, with no Home Assistant call. `make bench` gives it a Discovery answer
Home Assistant gave, so it serialises the same bytes as the functions it is compared with.
"""

import json
import os

with open(os.environ["BENCH_FLOOR_ANSWER"], encoding="utf-8") as answer_file:
    ANSWER = json.load(answer_file)


def lambda_handler(event, context):
    return ANSWER
