"""Start a fork-mode worker, print its pid, then wait to be killed: python lite_orphan.py MODEL
(LITE_LIB_PATH, LITE_FORK_MODE=1). The test kills this process with SIGKILL and checks that the
worker goes with it."""

from __future__ import annotations

import sys
import time

from megenginelite import LiteNetwork

from common import our_lib

net = LiteNetwork()
net.load(sys.argv[1])
print(our_lib().mgf_lite_fork_worker_pid(), flush=True)
time.sleep(600)
