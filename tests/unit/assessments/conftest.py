from pathlib import Path

import pytest

from vendor_risk.questionnaires.loader import load_file
from vendor_risk.questionnaires.models import Template

FIXTURES = Path(__file__).parents[2] / "fixtures" / "questionnaires"
LIBRARY = Path(__file__).parents[3] / "questionnaires"


@pytest.fixture(scope="session")
def example() -> Template:
    """tests/fixtures/questionnaires/valid-example.yaml: two sections, every question type."""
    return load_file(FIXTURES / "valid-example.yaml")
