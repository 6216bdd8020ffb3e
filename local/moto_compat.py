"""Two gaps of moto 5.2.5's Step Functions interpreter, closed for the emulator's process.

Step Functions' ECS integration takes the API's parameters in its own case (`Cluster`,
`TaskDefinition`, `Overrides.ContainerOverrides[].Environment`) and answers in it (`TaskArn`,
`Containers[].ExitCode`), while the ECS API itself is camelCase (`cluster`, `taskArn`). The
interpreter that moto took from LocalStack keeps the helpers that translate between the two
(`_to_boto_request`, `_from_boto_response`) but its `_normalise_parameters` and
`_normalise_response` do nothing, so `ecs:runTask.sync` fails at once (botocore: KeyError
'Cluster'). Lambda, DynamoDB and SNS are unaffected: their API case is Step Functions' case.
This gives the ECS integration the translation, using the ECS API model botocore ships.
The same no-op leaves the AWS SDK integrations' streamed members as streams, where Step
Functions answers S3 GetObject's Body as text; the state machine reads a task's result that
way, so streamed members are read into text. No other integration changes.
tests/integration/test_ecs_compute.py runs the state machine's ECS states through both.
"""

from __future__ import annotations

from functools import cache


@cache
def _operation(service: str, action: str):
    import botocore.session
    from moto.stepfunctions.parser.utils import camel_to_snake_case

    model = botocore.session.get_session().get_service_model(service)
    names = {camel_to_snake_case(name): name for name in model.operation_names}
    return model.operation_model(names[camel_to_snake_case(action)])


def enable_ecs_integration() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
        state_task_service_ecs,
    )

    service_class = state_task_service_ecs.StateTaskServiceEcs
    if getattr(service_class, "_lakehouse_normalised", False):
        return

    def normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None):
        operation = _operation(
            boto_service_name or self._get_boto_service_name(),
            service_action_name or self._get_boto_service_action(),
        )
        if operation.input_shape is not None:
            self._to_boto_request(parameters, operation.input_shape)

    def normalise_response(self, response, boto_service_name=None, service_action_name=None):
        operation = _operation(
            boto_service_name or self._get_boto_service_name(),
            service_action_name or self._get_boto_service_action(),
        )
        if operation.output_shape is not None:
            self._from_boto_response(response, operation.output_shape)

    service_class._normalise_parameters = normalise_parameters
    service_class._normalise_response = normalise_response
    service_class._lakehouse_normalised = True

    def read_streams(self, response, boto_service_name=None, service_action_name=None):
        from botocore.response import StreamingBody

        if isinstance(response, dict):
            for key, value in list(response.items()):
                if isinstance(value, StreamingBody):
                    response[key] = value.read().decode("utf-8")

    state_task_service_aws_sdk.StateTaskServiceAwsSdk._normalise_response = read_streams
