"""The modules of Tests/chaos/chaos.py (make chaos): see that file's docstring for how to run it.

common      constants, environment, processes in /proc
web         HTTP clients (public listener, nginx's internal listener)
stack       the single-host stack (bazarctl in a BAZAR_VAR of its own) and its faults
containers  a compose deployment and its faults
history     the recorded operations
workload    the client threads
nemesis     the fault schedule (from the seed) and its execution
supervision stray processes, processes that never came back, availability after the faults
final       quiescence and the final state
checker     every check, against a history and a final state
report      summaries and the verdict
runner      one run: start, load + faults, settle, check
selftest    the checker on made-up histories
"""
