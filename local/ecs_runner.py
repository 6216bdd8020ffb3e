"""Runs the dbt runtime's ECS tasks for the emulator: the ECS seam, beside the Lambda one.

moto's ECS keeps tasks as records and runs no container (and moto 5.2.5 fails RunTask of any
awsvpc task, which every Fargate task is: its network interface lacks private_dns_name), while
Step Functions' `runTask.sync` waits for DescribeTasks to say STOPPED. So for a task definition
whose container has the runtime's entry point (contracts/functions.json ecs_task), this seam
serves RunTask, DescribeTasks and StopTask itself: it checks the cluster and the task definition
against moto's ECS, runs the entry point in a process of its own (the Lambda side's virtualenv,
the container's environment: the task definition's plus the RunTask overrides, its own /tmp, no
Docker), answers RUNNING while the process runs and then STOPPED with the container's exit code,
as ECS does; StopTask ends the process. Other task definitions are moto's.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from local import state
from local.lambda_runner import lambda_python, runtime_environment

REPO_ROOT = Path(__file__).resolve().parent.parent
ECS_TASK = json.loads((REPO_ROOT / "contracts" / "functions.json").read_text())["ecs_task"]
_TARGET = "AmazonEC2ContainerServiceV20141113."
RUN_TASK, DESCRIBE_TASKS, STOP_TASK = (
    _TARGET + action for action in ("RunTask", "DescribeTasks", "StopTask")
)


@dataclass
class RunningTask:
    arn: str
    container: str
    process: subprocess.Popen
    tmp_dir: Path
    started_at: datetime
    stopped_at: datetime | None = None
    exit_code: int | None = None
    stop_code: str = "EssentialContainerExited"
    stopped_reason: str = "Essential container in task exited"
    done: threading.Event = field(default_factory=threading.Event)
    description: dict = field(default_factory=dict)


def handles(environ) -> bool:
    return environ.get("HTTP_X_AMZ_TARGET") in (RUN_TASK, DESCRIBE_TASKS, STOP_TASK)


class EcsTasks:
    def __init__(self, endpoint_url: str, state_dir: Path, region: str):
        self.endpoint_url = endpoint_url
        self.state_dir = state_dir
        self.region = region
        self.tasks: dict[str, RunningTask] = {}
        self.lock = threading.Lock()

    def serve(self, environ, start_response, moto_app):
        target = environ["HTTP_X_AMZ_TARGET"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        request = json.loads(body or b"{}")
        environ["wsgi.input"] = io.BytesIO(body)
        if target == RUN_TASK:
            answer = self._run_task(request)
        elif target == DESCRIBE_TASKS:
            answer = self._describe_tasks(request)
        else:
            answer = self._stop_task(request)
        if answer is None:  # not a task of the runtime image: moto's record is all there is
            return moto_app(environ, start_response)
        status, document = answer
        data = json.dumps(document).encode()
        start_response(
            status,
            [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))],
        )
        return [data]

    # -- the API ---------------------------------------------------------------------------
    def _run_task(self, request: dict):
        from botocore.exceptions import ClientError

        from local.aws import client

        ecs = client("ecs", self.endpoint_url)
        try:
            definition = ecs.describe_task_definition(taskDefinition=request["taskDefinition"])
            clusters = ecs.describe_clusters(clusters=[request.get("cluster") or "default"])
        except ClientError as exc:
            error = exc.response["Error"]
            return "400 Bad Request", {"__type": error["Code"], "message": error["Message"]}
        definition = definition["taskDefinition"]
        container = next(
            (
                c
                for c in definition["containerDefinitions"]
                if c.get("entryPoint") == ECS_TASK["entry_point"]
            ),
            None,
        )
        if container is None:
            return None
        if not clusters["clusters"]:
            return "400 Bad Request", {
                "__type": "ClusterNotFoundException",
                "message": "Cluster not found.",
            }
        if "FARGATE" in definition.get("requiresCompatibilities", []):
            subnets = (
                (request.get("networkConfiguration") or {})
                .get("awsvpcConfiguration", {})
                .get("subnets")
            )
            if not subnets:  # as ECS answers a Fargate task without its network
                return "400 Bad Request", {
                    "__type": "InvalidParameterException",
                    "message": "Network Configuration must be provided when networkMode "
                    "'awsvpc' is specified.",
                }
        override = next(
            (
                o
                for o in (request.get("overrides") or {}).get("containerOverrides", [])
                if o.get("name") == container["name"]
            ),
            {},
        )
        environment = {
            **{e["name"]: e["value"] for e in container.get("environment") or []},
            **{e["name"]: e["value"] for e in override.get("environment") or []},
        }
        cluster = clusters["clusters"][0]
        arn = f"{cluster['clusterArn'].replace(':cluster/', ':task/')}/{uuid.uuid4().hex}"
        task = self._spawn(arn, container["name"], environment)
        task.description = {
            "taskArn": arn,
            "clusterArn": cluster["clusterArn"],
            "taskDefinitionArn": definition["taskDefinitionArn"],
            "launchType": request.get("launchType") or "FARGATE",
            "cpu": definition.get("cpu"),
            "memory": definition.get("memory"),
            "group": request.get("group") or f"family:{definition['family']}",
            "startedBy": request.get("startedBy", ""),
            "overrides": request.get("overrides") or {},
            "createdAt": task.started_at.timestamp(),
            "startedAt": task.started_at.timestamp(),
            "version": 1,
        }
        return "200 OK", {"tasks": [self._describe(task)], "failures": []}

    def _describe_tasks(self, request: dict):
        with self.lock:
            known = [self.tasks.get(a) for a in request.get("tasks") or []]
        if not known or None in known:
            return None
        return "200 OK", {"tasks": [self._describe(t) for t in known], "failures": []}

    def _stop_task(self, request: dict):
        with self.lock:
            task = self.tasks.get(request.get("task", ""))
        if task is None:
            return None
        if not task.done.is_set():
            task.stop_code = "UserInitiated"
            task.stopped_reason = request.get("reason") or "Task stopped by user"
            try:
                os.killpg(task.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            task.done.wait(timeout=10)
        return "200 OK", {"task": self._describe(task)}

    # -- running ---------------------------------------------------------------------------
    def _spawn(self, arn: str, container: str, environment: dict[str, str]) -> RunningTask:
        (self.state_dir / "lambda-tmp").mkdir(parents=True, exist_ok=True)
        tmp_dir = Path(tempfile.mkdtemp(prefix="ecs-task-", dir=self.state_dir / "lambda-tmp"))
        log_path = self.state_dir / "logs" / "ecs-tasks.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **runtime_environment(self.endpoint_url, self.region),
            **environment,
            # A container's own /tmp, as for a Lambda execution environment.
            "TMPDIR": str(tmp_dir),
            "HOME": str(tmp_dir),
        }
        # The image's entry point is `python -m ...`: here, the Lambda side's interpreter.
        command = [lambda_python(), *ECS_TASK["entry_point"][1:]]
        with open(log_path, "ab") as log:
            log.write(f"START {arn} {container}\n".encode())
            log.flush()
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=tmp_dir,
                start_new_session=True,  # its own process group: StopTask ends all of it
            )
        # Recorded as the Lambda environments are, so that a stack's `down` (and the next
        # emulator's start) stops a task left running.
        state.Registry(self.state_dir).add(process.pid, "lambda")
        task = RunningTask(arn, container, process, tmp_dir, datetime.now(UTC))
        with self.lock:
            self.tasks[arn] = task
        threading.Thread(target=self._wait, args=(task, log_path), daemon=True).start()
        return task

    def _wait(self, task: RunningTask, log_path: Path) -> None:
        code = task.process.wait()
        state.Registry(self.state_dir).remove(task.process.pid)
        shutil.rmtree(task.tmp_dir, ignore_errors=True)
        # A process killed by a signal: a container's exit code is 128 + the signal.
        task.exit_code = code if code >= 0 else 128 - code
        task.stopped_at = datetime.now(UTC)
        with open(log_path, "ab") as log:
            log.write(f"END {task.arn} exit={task.exit_code}\n".encode())
        task.done.set()

    @staticmethod
    def _describe(task: RunningTask) -> dict:
        stopped = task.done.is_set()
        status = "STOPPED" if stopped else "RUNNING"
        container = {
            "containerArn": task.arn.replace(":task/", ":container/"),
            "taskArn": task.arn,
            "name": task.container,
            "lastStatus": status,
        }
        description = {**task.description, "lastStatus": status, "desiredStatus": status}
        if stopped:
            container["exitCode"] = task.exit_code
            description.update(
                stopCode=task.stop_code,
                stoppedReason=task.stopped_reason,
                stoppingAt=task.stopped_at.timestamp(),
                stoppedAt=task.stopped_at.timestamp(),
                executionStoppedAt=task.stopped_at.timestamp(),
            )
        description["containers"] = [container]
        return description
