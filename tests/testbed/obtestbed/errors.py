"""The test bed's one exception: what failed, and what to do."""


class TestbedError(Exception):
    pass
