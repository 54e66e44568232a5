"""The one status table: distinct codes, a message for each code a wrapper can meet, raise_on_status."""
import pytest

from coulombgas import _status as st


def test_codes_are_distinct_and_ok_is_zero():
    codes = [st.OK, st.TOO_MANY_REFINEMENTS, st.DIVERGED, st.CROSSED, st.NEWTON_FAILED, st.LEFT_DOMAIN,
             st.STEP_COLLAPSED]
    assert st.OK == 0
    assert len(set(codes)) == len(codes)
    assert set(st.SIMULATE_MESSAGES) | set(st.SAMPLE_MESSAGES) == set(codes) - {st.OK}


def test_raise_on_status_says_where_and_what():
    st.raise_on_status(st.OK, "nothing")  # no error
    with pytest.raises(FloatingPointError, match=r"^replica 3: the eigenvalues escaped"):
        st.raise_on_status(st.DIVERGED, "replica 3")
    with pytest.raises(RuntimeError, match=r"ran away to \|x\| > 12\.5"):
        st.raise_on_status(st.DIVERGED, "chain 0", messages=st.SAMPLE_MESSAGES, error=RuntimeError, radius=12.5)
    with pytest.raises(FloatingPointError, match="unknown kernel status 99"):
        st.raise_on_status(99, "x")
