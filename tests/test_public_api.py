"""The public API: every name each package lists resolves, and the packages share their error types."""

import importlib

import numpy as np
import pytest

from conserve_tf.groups import UnknownSystemError, check_counts


@pytest.mark.parametrize("package", ["conserve_tf", "siamese", "lagrangian"])
def test_every_public_name_resolves(package):
    module = importlib.import_module(package)
    assert module.__all__, f"{package} lists no public names"
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert not missing, f"{package}.__all__ names what it does not define: {missing}"


def test_an_unknown_system_is_the_same_error_in_all_three_packages():
    from conserve_tf import make_system as conservnet_system
    from lagrangian.systems import get_system
    from siamese.systems import make_system as siamese_system

    for make in (lambda: conservnet_system("warp", 2, 3), lambda: siamese_system("warp", 2, 3),
                 lambda: get_system("warp")):
        with pytest.raises(UnknownSystemError, match="unknown system 'warp'") as err:
            make()
        assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)
        assert "choose one of" in str(err.value) or "systems are" in str(err.value)


@pytest.mark.parametrize("groups,members,problem", [(0, 5, "groups"), (2.5, 5, "groups"), (True, 5, "groups"),
                                                     (3, 1, "members"), (3, "4", "members")])
def test_one_validator_for_group_counts(groups, members, problem):
    with pytest.raises(ValueError, match=f"{problem} must be an integer"):
        check_counts(groups, members)
    from conserve_tf import make_system
    from siamese.systems import make_system as siamese_system

    with pytest.raises(ValueError, match=f"{problem} must be an integer"):
        make_system("s1", groups, members)
    if problem == "members" and not isinstance(members, str):
        with pytest.raises(ValueError, match="members must be an integer"):
            siamese_system("special_relativity", 3, members)
    assert check_counts(np.int64(3), 2) == (3, 2)
