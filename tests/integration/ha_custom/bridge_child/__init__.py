"""A Home Assistant custom integration for the bridge's integration tests (HA 2026.9+): once started, the demo's
light.ceiling_lights moves onto a child device (parent_device_id) of its own device, without an area of its own."""

from homeassistant.const import EVENT_HOMEASSISTANT_STARTED
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er

ENTITY = "light.ceiling_lights"


async def async_setup(hass, config):
    async def add_child(_event):
        entities, devices = er.async_get(hass), dr.async_get(hass)
        parent = devices.async_get(entities.async_get(ENTITY).device_id)
        child = devices.async_get_or_create_child(
            config_entry_id=parent.config_entry_id, identifiers={("demo", "bridge-child-shade")},
            name="Ceiling shade", parent_device_id=parent.id)
        entities.async_update_entity(ENTITY, device_id=child.id)

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STARTED, add_child)
    return True
