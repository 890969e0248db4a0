"""What `validated` gives the component: one typed, frozen attribute per setting, defaults filled
in; passwords given as Outputs stay Outputs, checked once known."""
from __future__ import annotations

import dataclasses

import pulumi
import pytest

from mysql_cluster.settings import SETTINGS, ConfigError, validated


def test_validated_settings_have_one_attribute_per_setting_named_as_its_argument():
    settings = validated({"name": "orders"})
    assert [field.name for field in dataclasses.fields(settings)] == [s.arg for s in SETTINGS]


def test_unset_settings_take_their_defaults():
    settings = validated({"name": "orders"})
    assert {s.arg: getattr(settings, s.arg) for s in SETTINGS if s.arg != "name"} == \
        {s.arg: s.default for s in SETTINGS if s.arg != "name"}


def test_values_given_as_text_become_their_settings_type():
    settings = validated({"name": "orders", "replicas": "5", "zone_spread": "true"})
    assert (settings.replicas, settings.zone_spread) == (5, True)


def test_validated_settings_cannot_be_changed():
    with pytest.raises(dataclasses.FrozenInstanceError):
        validated({"name": "orders"}).replicas = 5


@pulumi.runtime.test
def test_a_password_given_as_an_output_stays_a_secret_output():
    password = validated({"name": "orders", "app_password": pulumi.Output.secret("p" * 12)}
                         ).app_password

    def check(known):
        assert known == [True, "p" * 12]
    return pulumi.Output.all(password.is_secret(), password).apply(check)


def test_passwords_are_left_out_of_the_settings_repr():
    assert "a-long-password" not in repr(validated({"name": "orders",
                                                    "root_password": "a-long-password"}))


def test_a_setting_that_shapes_resources_may_not_be_an_output():
    with pytest.raises(ConfigError, match="config key 'replicas'.*give it a plain value"):
        validated({"name": "orders", "replicas": pulumi.Output.from_input(3)})

