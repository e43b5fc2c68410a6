"""Data assets as job inputs and outputs, plugged into the job lifecycle (the first hook).

The data package does the work (:mod:`mlbench.data.jobs`); this hook calls it at the lifecycle's
three points: bind exact versions and local paths at submission, stage them before the first
cell, register the outputs after a completed run.
"""

from __future__ import annotations

from mlbench.data import jobs as data_jobs
from mlbench.errors import InvalidInputError
from mlbench.jobs.lifecycle import JobHook, Outcome, RunContext, Submission
from mlbench.jobs.models import JobError, JobStatus


class DataBindings(JobHook):
    def bind(self, sub: Submission) -> None:
        spec = sub.spec
        if not spec.inputs and not spec.outputs:
            return
        if not sub.backend.carries_data:
            raise InvalidInputError(
                f"compute target {spec.compute!r} ({sub.backend.kind}) cannot take data inputs "
                "or outputs",
                hint="run jobs with --input/--output on a local or ray target, or read the data "
                "in the notebook from storage the target's machine can reach",
            )
        sub.inputs, sub.outputs, paths = data_jobs.bind(
            sub.ws,
            sub.job_id,
            spec.inputs,
            spec.outputs,
            sub.parameters,
            max_input_bytes=sub.backend.max_data_bytes,
            target=spec.compute,
        )
        sub.parameters.update(paths)
        # the spec keeps exact versions (a rerun reads these) and outputs in one canonical form
        # (equivalent spellings hash alike)
        sub.spec = spec.model_copy(
            update={
                "inputs": {b.name: b.ref for b in sub.inputs},
                "outputs": {o.name: o.spec_text() for o in sub.outputs},
            }
        )
        ws, job_id, bound = sub.ws, sub.job_id, list(sub.inputs)

        def record_lineage() -> None:  # this job reads those versions
            for b in bound:
                ws.data.record_input(job_id, b.name, ws.data.info(b.ref))

        sub.stored.append(record_lineage)

    def stage(self, run: RunContext) -> None:
        data_jobs.stage(run.ws, run.info, run.run_id, run.log_file)

    def collect(self, run: RunContext, outcome: Outcome) -> Outcome:
        if outcome.status != JobStatus.COMPLETED or not run.info.outputs:
            return outcome
        problem = data_jobs.register_outputs(run.ws, run.info, run.run_id, run.log_file)
        if problem:  # the job's contract was to produce its outputs
            return Outcome(JobStatus.FAILED, problem, JobError(kind="data_error", message=problem))
        return outcome
