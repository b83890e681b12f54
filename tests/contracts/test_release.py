"""What a release carries: one version everywhere, the license it declares, and a stack for each Alexa region."""

import re
import tomllib

from support import ROOT, load_template

# Alexa serves each locale from one of three AWS regions (docs/deploy.md).
ALEXA_REGIONS = {"us": "us-east-1", "eu": "eu-west-1", "fe": "us-west-2"}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _application() -> dict:
    return load_template()["Metadata"]["AWS::ServerlessRepo::Application"]


def test_pyproject_the_template_and_the_changelog_carry_one_version():
    version = _project()["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)  # semantic, as the Serverless Application Repository wants
    assert _application()["SemanticVersion"] == version
    newest = re.search(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert newest.group(1) == version


def test_the_license_is_the_one_declared_and_sam_publish_finds_its_files():
    application = _application()
    assert application["SpdxLicenseId"] == _project()["license"] == "Apache-2.0"
    assert (ROOT / application["LicenseUrl"]).read_text().split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert (ROOT / application["ReadmeUrl"]).is_file()
    assert re.fullmatch(r"[A-Za-z0-9-]{1,140}", application["Name"]) and len(application["Description"]) <= 256
    assert all(re.fullmatch(r"[A-Za-z0-9+\-_:/@]{1,127}", label) for label in application["Labels"])
    assert all(application[url].startswith("https://") for url in ("SourceCodeUrl", "HomePageUrl"))


def test_each_alexa_region_has_a_samconfig_environment_that_deploys_there():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    for env, region in ALEXA_REGIONS.items():
        # The SAM CLI reads only the chosen environment's sections (SamConfig.get_all): [env.global] under
        # [env.deploy], never [default].
        deploy = config[env]["global"]["parameters"] | config[env]["deploy"]["parameters"]
        assert deploy["region"] == region, env
        assert deploy["stack_name"] == config["default"]["global"]["parameters"]["stack_name"]
        assert deploy["capabilities"] == "CAPABILITY_IAM" and deploy["resolve_s3"] is True, env
