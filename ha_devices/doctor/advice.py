"""The doctor's advice: what an owner does about each fault a check finds, in words the report repeats."""

from ha_devices.home_assistant import LOCAL_ONLY

FIX_URL = "set HA_URL to the external base URL of your Home Assistant, e.g. https://ha.example.com"
FIX_UNREACHABLE = (
    "make Home Assistant reachable from the internet at HA_URL: it must be running, and your router or firewall"
    " must forward the port to it (AWS Lambda runs outside your network)"
)
FIX_PROXY = (
    "the server at HA_URL accepts connections but does not answer like Home Assistant: check the reverse proxy"
    " or tunnel in front of it"
)
FIX_TOKEN = (
    "the token was rejected: create a long-lived access token (Home Assistant profile, Security tab) and put it"
    " into HA_TOKEN or the SSM parameter named by HA_TOKEN_PARAMETER" + LOCAL_ONLY
)
FIX_HEADERS = (
    "HA_HEADERS_PARAMETER must name a readable SSM SecureString holding a JSON object of header names to values"
)
FIX_DISCOVERY = (
    "an endpoint that breaks Alexa's discovery rules can make Alexa fail the discovery of every device; the bridge"
    " mends or leaves out those listed: fix the entity in Home Assistant (name, category) or exclude it with the"
    " `filter:` under `alexa: smart_home:`"
)
FIX_NO_ALEXA = "add `alexa: smart_home:` to Home Assistant's configuration.yaml and restart Home Assistant"
TLS_FIXES = {
    10: "the certificate has expired: renew it (Let's Encrypt certificates last 90 days: check the renewal)",
    18: "a self-signed certificate: use one from a public CA (e.g. Let's Encrypt), or set HA_CA_BUNDLE to it",
    19: "the chain ends in a private CA: use a certificate from a public CA, or set HA_CA_BUNDLE to your CA",
    20: "the server does not send the intermediate certificates: serve the full chain (fullchain.pem)",
    21: "the server does not send the intermediate certificates: serve the full chain (fullchain.pem)",
    62: "the certificate is for another name: use the host name it was issued for in HA_URL, or get one for it",
    64: "the certificate is not for this IP address: use the host name it was issued for in HA_URL",
}
FIX_TLS = "fix the server's certificate, or set HA_CA_BUNDLE to the CA that issued it"
FIX_CLIENT_CERT = (
    "the server (or the proxy in front of it) wants a client certificate it accepts (mutual TLS): set"
    " HA_CLIENT_CERT and HA_CLIENT_KEY to a certificate and key it trusts"
)
FIX_LINKING_URL = (
    "Alexa's servers link accounts only with an https:// URL on port 443 that is reachable from the internet and has"
    " a publicly trusted certificate: serve Home Assistant that way (e.g. a reverse proxy with Let's Encrypt) and"
    " use that URL in HA_URL and in the Alexa console"
)
FIX_EVENTS = (
    "turn on *Send Alexa Events* on the Smart Home skill's Permissions page, put the Alexa Skill Messaging client ID"
    " and secret it shows and your region's event endpoint under `alexa: smart_home:` (`client_id`,"
    " `client_secret`, `endpoint`), restart Home Assistant, then disable and enable the skill in the Alexa app so"
    " that Alexa sends a new AcceptGrant"
)
EXPOSE_PAGE = "Settings > Voice assistants > Expose"
FIX_EXPOSURE = {  # by ExposureUnreadable.reason; the detail already names the cause
    "setting": "set ALEXA_EXPOSE to all, assist, cloud, label or label:<name> (template parameter AlexaExpose)",
    "not_admin": (
        "ALEXA_EXPOSE=assist and cloud read the expose settings, which only an administrator may: the account linked"
        " to Alexa (and, for the doctor, HA_TOKEN) must be an administrator's, or use ALEXA_EXPOSE=label:<name>"),
    "websocket_refused": (
        "your reverse proxy must pass WebSocket upgrades for /api/websocket (nginx: proxy_http_version 1.1 and the"
        " Upgrade and Connection headers): ALEXA_EXPOSE reads the owner's choice over the WebSocket API"),
    "no_label": ("create the label in Home Assistant (Settings > Areas, labels & zones > Labels) and give it to the"
                 " devices or entities Alexa should get, or name an existing one in ALEXA_EXPOSE"),
    "nothing_exposed": (f"expose what Alexa should get ({EXPOSE_PAGE}), or give it the label, then ask Alexa to"
                        " discover devices"),
    "unknown_command": "update Home Assistant, or set ALEXA_EXPOSE=all and choose with `alexa: smart_home: filter:`",
}
