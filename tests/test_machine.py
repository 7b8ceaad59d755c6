"""One machine for `compare` and `report`: the hardware says whether two files come from one
machine; the fingerprint adds the key libraries' versions, so a report keeps an upgrade apart."""

import pytest

from dlbench import compare, machine
from dlbench.report import model
from tests.helpers import ENV, document, noisy, result, source

# change to ENV: (compare's same_machine, machines in the report of both files)
PAIRS = {
    "identical": ({}, True, 1),
    "another torch": ({"libraries": {**ENV["libraries"], "torch": "2.14.0+cpu"}}, True, 2),
    "another cupy build": ({"libraries": {**ENV["libraries"], "cupy-cuda11x": "13.0"}}, True, 2),
    "another UI library": ({"libraries": {**ENV["libraries"], "rich": "16.0.0"}}, True, 1),
    "another OS": ({"os": "Windows"}, True, 1),
    "another host": ({"host": "laptop"}, False, 2),
    "another CPU": ({"cpu": {"model": "AMD Ryzen 9 7950X"}}, False, 2),
    "a GPU": ({"gpus": [{"name": "NVIDIA H100 80GB HBM3"}]}, False, 2),
}


@pytest.mark.parametrize(("change", "same", "machines"), PAIRS.values(), ids=list(PAIRS))
def test_compare_and_report_agree_on_whether_two_files_are_one_machine(change, same, machines):
    env = {**ENV, **change}
    judged = compare.compare(source(result(noisy(1e-3)), environment=ENV),
                             source(result(noisy(1e-3, seed=1)), path="new.json",
                                    environment=env))
    report = model.build([("base.json", document(result(noisy(1e-3)), environment=ENV)),
                          ("new.json", document(result(noisy(1e-3, seed=1)), environment=env))])
    assert judged.same_machine is same and len(report.machines) == machines
    # Report's machines are one piece of hardware exactly when compare says one machine...
    hardware = {(v.machine.host, v.machine.cpu, v.machine.gpus) for v in report.machines}
    assert (len(hardware) == 1) is judged.same_machine is machine.same_machine(ENV, env)
    # ...and a report merges two files only when compare calls them one machine.
    merged = machine.fingerprint(ENV) == machine.fingerprint(env)
    assert merged is (machines == 1)
    assert not merged or judged.same_machine


def test_a_machine_line_names_host_cpu_and_gpus():
    env = {**ENV, "gpus": [{"name": "A"}, {"name": "B"}, "not a GPU record"]}
    assert machine.hardware(env).line() == ("host ci-runner · CPU Intel(R) Xeon(R) Processor · "
                                            "GPUs A, B")
    assert machine.hardware({}).line() == "host unknown host · CPU unknown CPU · GPUs none"
    no_gpus_recorded = machine.Hardware("vm", "Xeon", None)
    assert no_gpus_recorded.line() == "host vm · CPU Xeon"
    assert no_gpus_recorded != machine.Hardware("vm", "Xeon", ())


def test_every_cupy_distribution_is_a_key_library():
    assert set(machine.CUPY_DISTRIBUTIONS) <= set(machine.KEY_LIBRARIES)
    assert {"numpy", "torch"} <= set(machine.KEY_LIBRARIES)
