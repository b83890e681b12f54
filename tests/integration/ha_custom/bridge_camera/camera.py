"""Two WebRTC cameras at Home Assistant's limits: `slow` answers the offer after 4.5 s and never finishes ICE
gathering (HA waits for its overall 5 s deadline), `silent` never answers (HA gives up after 5 s)."""


from homeassistant.components.camera import Camera, CameraEntityFeature, WebRTCAnswer, WebRTCCandidate
from webrtc_models import RTCIceCandidateInit

CANDIDATE = "candidate:1 1 UDP 2122252543 127.0.0.1 50000 typ host"
ANSWER = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n"


async def async_setup_platform(hass, config, async_add_entities, discovery_info=None):
    async_add_entities([WebRTCCamera("slow", 4.5), WebRTCCamera("silent", None)])


class WebRTCCamera(Camera):
    _attr_supported_features = CameraEntityFeature.STREAM

    def __init__(self, name, answer_after):
        super().__init__()
        self._attr_name = f"Bridge {name}"
        self._attr_unique_id = f"bridge_camera_{name}"
        self._answer_after = answer_after

    async def async_camera_image(self, width=None, height=None):
        return None

    async def async_handle_async_webrtc_offer(self, offer_sdp, session_id, send_message):
        if self._answer_after is not None:  # the answer and one candidate; the end of gathering never comes
            self.hass.loop.call_later(self._answer_after, send_message, WebRTCAnswer(ANSWER))
            self.hass.loop.call_later(self._answer_after, send_message,
                                      WebRTCCandidate(RTCIceCandidateInit(CANDIDATE, sdp_m_line_index=0)))

    async def async_on_webrtc_candidate(self, session_id, candidate):
        return None
