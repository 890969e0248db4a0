"""Unit tests: the component and its stack program under the Pulumi mock runtime.

A package, so that its test modules may share base names with those of other test directories.
"""
