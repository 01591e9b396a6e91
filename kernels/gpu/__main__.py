"""``python -m kernels.gpu``: print where the Triton kernels would run (never a traceback)."""

from kernels.gpu import status

print(status())
