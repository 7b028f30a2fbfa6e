from scenarios.shapes import Stage, spike, steady


def test_steady_holds_every_user_for_the_whole_run():
    assert steady(10, 5.0, 30.0) == [Stage(30.0, 10, 5.0)]


def test_spike_starts_all_users_at_once_for_a_fifth_of_the_run_then_goes_back():
    stages = spike(40, 10.0, 100.0)
    assert [s.until_s for s in stages] == [40.0, 60.0, 100.0]
    assert [s.users for s in stages] == [10, 40, 10]
    assert stages[1].spawn_rate == 40.0  # the whole spike starts within a second


def test_spike_never_drops_to_zero_users():
    assert min(s.users for s in spike(2, 1.0, 10.0)) == 1
