"""`make setup`'s Home Assistant checks (the doctor's, run from the owner's machine) against a real Home Assistant."""

from devtools.setup import checks, plan


def settings(url: str, token: str) -> plan.Settings:
    return plan.Settings(url, token, values={"HA_URL": url, "HA_TOKEN": token})


def test_a_working_home_assistant_that_alexa_cannot_reach_stops_the_setup_unless_accepted(ha):
    findings = {f.what: f for f in checks.home_assistant(settings(ha.url, ha.token), accept_unreachable=False)}
    # The doctor's checks pass over the wire: the token works and `alexa: smart_home:` answers.
    for name in ("dns", "tcp", "token", "alexa"):
        assert findings[f"Home Assistant {name}"].ok, findings[f"Home Assistant {name}"].detail
    # But Alexa's servers cannot link with http://127.0.0.1:port: nothing would be created.
    assert not findings["Home Assistant URL"].ok and "not https://" in findings["Home Assistant URL"].detail
    linking = findings["Home Assistant account_linking"]
    assert not linking.ok and "private address" in linking.detail
    accepted = checks.home_assistant(settings(ha.url, ha.token), accept_unreachable=True)
    assert all(f.ok for f in accepted) and {f.what for f in accepted if f.warning} == {
        "Home Assistant URL", "Home Assistant account_linking"}


def test_a_rejected_token_is_a_failure_with_its_fix(ha):
    findings = {f.what: f for f in checks.home_assistant(settings(ha.url, "not-a-valid-token-0123456789"), False)}
    token = findings["Home Assistant token"]
    assert not token.ok and token.fix
