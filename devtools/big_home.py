"""A big household as Home Assistant configuration: the demo's devices plus lamps, plugs, helpers, scripts,
scenes and sensors in the proportions of a real home, for the integration tests and `make bench`.

    python -m devtools.big_home 1150     # prints the YAML that, beside the demo, makes about 1,150 endpoints

`DemoHomeAssistant(extra_config=home_config(1150))` starts it (in seconds: plain YAML entities, no polling).
"""

from __future__ import annotations

import json
import sys

DEMO_ENDPOINTS = 58  # what Home Assistant 2025.4's demo integration offers Alexa on its own
# Shares of the endpoints added to the demo, as in the household of issue 9: mostly helpers and sensors.
SHARES = {"input_boolean": 0.50, "sensor": 0.22, "script": 0.09, "binary_sensor": 0.05, "light": 0.04,
          "switch": 0.03, "input_number": 0.03, "input_button": 0.02, "timer": 0.01, "scene": 0.01}
ROOMS = ["Kitchen", "Living Room", "Bedroom", "Bathroom", "Office", "Hall", "Garage", "Garden", "Küche",
         "Kinderzimmer"]


def counts(endpoints: int) -> dict[str, int]:
    """How many entities of each domain make a home of about `endpoints` Alexa endpoints with the demo's."""
    extra = max(endpoints - DEMO_ENDPOINTS, 0)
    numbers = {domain: int(extra * share) for domain, share in SHARES.items()}
    numbers["input_boolean"] += extra - sum(numbers.values())
    return numbers


def home_config(endpoints: int, version: str | None = None) -> str:
    """configuration.yaml lines (top-level keys the demo config does not use) for a home of about `endpoints`, for
    the Home Assistant release `version` (default: the one devtools.demo_ha runs)."""
    from devtools import ha_install

    n = counts(endpoints)
    # HA 2026.x has no `light: - platform: template` (the legacy form) any more; 2025.4 has no default_entity_id,
    # which keeps the ids (light.big_lamp_0, ...) in the newer form.
    legacy = not ha_install.version_at_least(version or ha_install.find_python()[0], "2026.1")

    def name(kind: str, i: int) -> str:
        return json.dumps(f"{ROOMS[i % len(ROOMS)]} {kind} {i + 1}", ensure_ascii=False)

    lines = ["input_boolean:"]
    lines += [f"  big_flag_{i}:\n    name: {name('flag', i)}" for i in range(n["input_boolean"])]
    lines += ["input_number:"] + [f"  big_level_{i}:\n    name: {name('level', i)}\n    min: 0\n    max: 100"
                                  for i in range(n["input_number"])]
    lines += ["input_button:"] + [f"  big_button_{i}:\n    name: {name('button', i)}"
                                  for i in range(n["input_button"])]
    lines += ["timer:"] + [f"  big_timer_{i}:\n    name: {name('timer', i)}" for i in range(n["timer"])]
    lines += ["script:"] + [f"  big_script_{i}:\n    alias: {name('routine', i)}\n    sequence:\n      - delay: 0"
                            for i in range(n["script"])]
    lines += ["scene:"] + [f"  - name: {name('scene', i)}\n    entities:\n      input_boolean.big_flag_0: \"on\""
                           for i in range(n["scene"])]
    lines += ["template:", "  - sensor:"] + [
        f"      - name: {name('temperature', i)}\n        unique_id: big_temperature_{i}\n"
        f"        unit_of_measurement: \"°C\"\n        device_class: temperature\n        state: \"{18 + i % 7}.5\""
        for i in range(n["sensor"])]
    lines += ["  - binary_sensor:"] + [
        f"      - name: {name('door', i)}\n        unique_id: big_door_{i}\n        device_class: door\n"
        f"        state: \"{'on' if i % 3 == 0 else 'off'}\"" for i in range(n["binary_sensor"])]
    for domain, key, kind in (("light", "lights", "lamp"), ("switch", "switches", "plug")):
        if legacy:
            lines += [f"{domain}:", "  - platform: template", f"    {key}:"] + [
                f"      big_{kind}_{i}:\n        friendly_name: {name(kind, i)}\n        turn_on: []\n"
                "        turn_off: []" for i in range(n[domain])]
            continue
        lines += [f"  - {domain}:"] + [  # in the template: block, the last one
            f"      - name: {name(kind, i)}\n        unique_id: big_{kind}_{i}\n"
            f"        default_entity_id: {domain}.big_{kind}_{i}\n        turn_on: []\n        turn_off: []"
            for i in range(n[domain])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(home_config(int(sys.argv[1]) if len(sys.argv) > 1 else 1150), end="")
