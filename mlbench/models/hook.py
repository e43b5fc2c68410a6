"""``register_model`` in a job spec: the job's model registered when the job completes.

A lifecycle hook (see :mod:`mlbench.jobs.lifecycle`): the name and alias are checked at
submission, so a typo fails before anything runs; after a completed run the model the job logged
(or saved into its output folder) becomes a new version with the job's lineage. A job asked to
register a model that it did not produce has not done its work: it fails, and says why. Its run
and outputs are kept, so the model can still be registered by hand once the cause is fixed.
"""

from __future__ import annotations

import logging

from mlbench._ids import utcnow
from mlbench.errors import MlbenchError
from mlbench.jobs.lifecycle import JobHook, Outcome, RunContext, Submission
from mlbench.jobs.models import JobError, JobStatus
from mlbench.validation import check_name

log = logging.getLogger(__name__)

EVENT = "model_registered"


class ModelRegistration(JobHook):
    def bind(self, sub: Submission) -> None:
        want = sub.spec.register_model
        if want is None:
            return
        from mlbench.models.service import check_alias

        check_name(want.name, "model")
        if want.alias is not None:
            check_alias(want.alias)
        sub.handled.add("register_model")

    def collect(self, run: RunContext, outcome: Outcome) -> Outcome:
        if outcome.status != JobStatus.COMPLETED:
            return outcome
        want = run.ws.jobs.spec(run.info).register_model
        if want is None:
            return outcome
        try:
            version = run.ws.models.register_job_model(
                want.name,
                run.info,
                run_id=run.run_id,
                path=want.path,
                description=want.description,
                tags=want.tags,
                alias=want.alias,
            )
        except MlbenchError as exc:
            message = f"the job's model could not be registered as {want.name!r}: {exc.message}"
            if exc.hint:
                message += f" ({exc.hint})"
            return Outcome(JobStatus.FAILED, message, JobError(kind="model_error", message=message))
        note = f"registered model {version.ref}" + (f" (alias {want.alias})" if want.alias else "")
        log.info("job %s: %s", run.info.id, note)
        if run.log_file is not None:
            run.log_file.write(f"[mlbench {utcnow().strftime('%H:%M:%S')}] {note}\n")
        run.ws.jobs.lifecycle.event(
            run.info.id, EVENT, {"model": version.name, "version": version.version}
        )
        return outcome
