"""The committed JSON Schema matches the loader's tables and accepts the bundled scene."""

from __future__ import annotations

import json

import jsonschema
import yaml
from conftest import PUMP_STATION, REPO_ROOT

from runtime.scene.schema import scene_schema


def test_committed_schema_is_current() -> None:
    committed = json.loads((REPO_ROOT / "docs" / "scene.schema.json").read_text())
    assert committed == scene_schema(), "run: twinstage schema > docs/scene.schema.json"


def test_schema_accepts_bundled_scene_and_rejects_a_typo() -> None:
    schema = scene_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    data = yaml.safe_load((PUMP_STATION / "scene.yaml").read_text())
    jsonschema.validate(data, schema)
    data["entities"][0]["tank"]["diamter_m"] = 3.0
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors(data))
