import pytest

from lakehouse_ops.naming import resource_names

pytestmark = pytest.mark.unit


def test_names_follow_prefix_env_rule():
    names = resource_names("lakehouse", "prod")
    assert names.raw_bucket == "lakehouse-prod-raw"
    assert names.runs_table == "lakehouse-prod-runs"
    assert names.curated_database == "lakehouse_prod_curated"  # Athena rejects '-'
    assert names.state_machine == "lakehouse-prod-lakehouse-raw-to-curated"
    for value in names.as_dict().values():
        assert "prod" in value


def test_two_environments_share_no_name():
    a, b = (
        resource_names("lakehouse", "dev").as_dict(),
        resource_names("lakehouse", "prod").as_dict(),
    )
    assert not set(a.values()) & set(b.values())


@pytest.mark.parametrize("env", ["", "Prod", "dev-1", "x" * 20, "1dev"])
def test_bad_environment_is_rejected(env):
    with pytest.raises(ValueError, match="environment"):
        resource_names("lakehouse", env)
