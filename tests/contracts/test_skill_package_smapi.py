"""skill-package/ against Amazon's SMAPI definition (ask-smapi-model's spec.json): every locale's interaction model
and the manifest are what SMAPI takes, strictly (a field the definition does not declare is refused)."""

import copy
import json

import pytest

from devtools import ask
from support import ROOT
from tests.smapi_standin import SmapiSpec

PACKAGE = ROOT / "skill-package"
MODELS = sorted((PACKAGE / "interactionModels" / "custom").glob("*.json"))
MODEL = {"$ref": "#/definitions/v1.skill.interactionModel.InteractionModelData"}
MANIFEST = {"$ref": "#/definitions/v1.skill.Manifest.SkillManifestEnvelope"}


@pytest.fixture(scope="module")
def spec() -> SmapiSpec:
    return SmapiSpec(ask.smapi_spec())


@pytest.mark.parametrize("path", MODELS, ids=lambda path: path.stem)
def test_each_interaction_model_is_what_smapi_takes(spec, path):
    assert len(MODELS) == 17
    assert spec.violations(MODEL, json.loads(path.read_text())) == []


def test_the_manifest_with_every_locales_listing_is_what_smapi_takes(spec):
    manifest = json.loads((PACKAGE / "skill.json").read_text())
    assert len(manifest["manifest"]["publishingInformation"]["locales"]) == 17
    assert spec.violations(MANIFEST, manifest) == []


def test_the_definition_refuses_what_smapi_would_refuse(spec):
    model = json.loads((PACKAGE / "interactionModels" / "custom" / "en-US.json").read_text())
    misspelt = copy.deepcopy(model)
    misspelt["interactionModel"]["languageModel"]["intents"][0]["sample"] = ["turn {query}"]
    assert spec.violations(MODEL, misspelt)
    nameless = copy.deepcopy(model)
    del nameless["interactionModel"]["languageModel"]["invocationName"]
    assert spec.violations(MODEL, nameless)
