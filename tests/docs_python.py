"""One Python interpreter per docs page: its `python` blocks run there in order, in one namespace
(as in a notebook), apart from the test process (a block may register a layer or start threads).

The page's process reads one JSON line per block on stdin ({"code", "where"}) and answers one
JSON line ({"error": traceback or null}) on the pipe that was its stdout; what the blocks print
goes to its stderr, the page's log.
"""
import json
import os
import select
import subprocess
import sys

DRIVER = r"""
import json, os, sys, traceback
answers = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)                                      # what the blocks print goes to the log
namespace = {"__name__": "__main__"}
for line in sys.stdin:
    block = json.loads(line)
    try:
        exec(compile(block["code"], block["where"], "exec"), namespace)
        error = None
    except BaseException:
        error = traceback.format_exc()
    sys.stdout.flush()
    answers.write(json.dumps({"error": error}) + "\n")
    answers.flush()
"""


class PythonPage:
    """The interpreter of one page, started in `directory` with `env`; blocks run by `run`."""

    def __init__(self, directory, env, log_path):
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.process = subprocess.Popen([sys.executable, "-c", DRIVER], cwd=directory, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self._log, text=True)

    def run(self, code, where, timeout):
        """None if the block ran, else the traceback (or why it did not answer)."""
        self.process.stdin.write(json.dumps({"code": code, "where": where}) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            return f"no answer after {timeout} s" if not ready else "the interpreter ended"
        return json.loads(line)["error"]

    def output(self):
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def close(self):
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()
