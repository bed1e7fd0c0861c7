"""pinpoint: find the attention heads that make a language model sycophantic, and tune only those.

Importing it pins torch's CPU kernels (pinpoint.environment) before any kernel loads, so that
every stage, test and command computes the same bits on any x86 CPU."""

from pinpoint.environment import pin_cpu_kernels

pin_cpu_kernels()
