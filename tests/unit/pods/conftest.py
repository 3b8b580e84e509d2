import pytest
from unit.pods.helpers import LoopbackServer


@pytest.fixture
def server():
    with LoopbackServer() as running:
        yield running
