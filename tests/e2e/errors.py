"""The harness's errors: each message says what went wrong and where."""


class HarnessError(Exception):
    """Something in the emulated cluster went wrong; the message says what and where."""


class PodFailed(HarnessError):
    pass


class WaitTimeout(HarnessError):
    pass
